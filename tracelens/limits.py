"""The limits tracelens puts on what it reads, in one place (the README's "Bad input" states them).

Every stage that takes times from outside (ingest, the store when it reads its files again)
applies the same rule, so that nothing after them ever meets a time it cannot show.
"""

from __future__ import annotations

import math

import polars as pl

# NOTE: X-Ray keeps traces for 30 days, but exports and captures may be years old, and clocks
# of test systems are sometimes set ahead: a generous range that still refuses what cannot be
# a real time (epoch 0, milliseconds taken for seconds, the year 10000 and later, which
# Python's datetime cannot even hold).
EARLIEST_TIME = 946_684_800.0  # 2000-01-01T00:00:00Z, in epoch seconds (included)
LATEST_TIME = 4_102_444_800.0  # 2100-01-01T00:00:00Z, in epoch seconds (excluded)
TIME_RANGE = "[2000-01-01, 2100-01-01) UTC"
IMPOSSIBLE_TIMES = f"impossible times: outside {TIME_RANGE}, or the end before the start"


# NOTE: X-Ray takes segment documents of at most 64 KB (PutTraceSegments) and keeps traces of
# about 500 KB; a BatchGetTraces page holds at most 5 traces, a few MB once their documents
# are escaped as JSON strings. One JSON value held whole (one line of a newline-delimited
# input, or an input that is a single page, document or array) may be 64 MiB: ten times any
# page. Larger inputs are read as lines (one document or page per line), any size.
MAX_VALUE_BYTES = 64 * 1024 * 1024
_SPLIT_HINT = "write one document or page per line (e.g. `jq -c '.[]'`), or split the file"
OVERSIZE_VALUE = (
    f"too large: one JSON value of more than {MAX_VALUE_BYTES // 2**20} MiB, not read "
    f"(X-Ray documents are at most 64 KB, pages a few MB); {_SPLIT_HINT}"
)
OVERSIZE_LINE = (
    f"too large: a line of more than {MAX_VALUE_BYTES // 2**20} MiB, not read (X-Ray documents "
    "are at most 64 KB); the lines after it are read"
)


# NOTE: X-Ray caps a segment name at 200 characters and an annotation value at 1,000; URLs,
# exception messages and ARNs are rarely over 2,000. A longer string is cut where it enters (a
# 50 MB name was copied into every analysis and the report), ending in CUT_MARK.
MAX_STRING_CHARS = 4096
# The annotations of one span, as JSON text: their string values are cut past this.
MAX_ANNOTATIONS_CHARS = 64 * 1024
CUT_MARK = "… [cut at {kept} of {length} characters]"


def cut_string(text: str, limit: int = MAX_STRING_CHARS) -> str:
    """``text``, or its first ``limit`` characters and a note of the cut when it is longer."""
    if len(text) <= limit:
        return text
    return text[:limit] + CUT_MARK.format(kept=limit, length=len(text))


def time_problem(start: float, end: float | None, prefix: str = "") -> str | None:
    """Why the times of one document (epoch seconds; ``end`` None while in progress) are
    impossible, or None when they are valid."""
    for field, value in (("start_time", start), ("end_time", end)):
        if value is not None and not (
            math.isfinite(value) and EARLIEST_TIME <= value < LATEST_TIME
        ):
            return f"time out of range: {prefix}{field} is {value!r}, outside {TIME_RANGE}"
    if end is not None and end < start:
        return f"impossible times: {prefix}end_time {end!r} is before start_time {start!r}"
    return None


def valid_seconds(column: str) -> pl.Expr:
    """Whether epoch seconds in ``column`` (floats) lie in the range; null counts as valid."""
    seconds = pl.col(column)
    return (seconds.is_finite() & (seconds >= EARLIEST_TIME) & (seconds < LATEST_TIME)).fill_null(
        value=True
    )


def valid_times(start: str = "start_time", end: str = "end_time") -> pl.Expr:
    """Whether the datetime columns ``start`` and ``end`` (end null while in progress) hold
    times inside the range, the end not before the start: the rule for rows read back from
    files written before it applied."""
    earliest = pl.lit(EARLIEST_TIME * 1e6).cast(pl.Int64)
    latest = pl.lit(LATEST_TIME * 1e6).cast(pl.Int64)
    start_us = pl.col(start).dt.epoch("us")
    end_us = pl.col(end).dt.epoch("us")
    start_ok = (start_us >= earliest) & (start_us < latest)
    end_ok = ((end_us >= earliest) & (end_us < latest) & (end_us >= start_us)).fill_null(value=True)
    return start_ok.fill_null(value=False) & end_ok
