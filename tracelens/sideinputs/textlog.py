"""Vectorized parsing of Lambda text log lines (REPORT, START, END, INIT_START, XRAY, notable).

Input is a frame of lines in the :data:`LINE_SCHEMA` shape, built from a text file, from the
``message`` of CloudWatch Logs events or from Logs Insights rows. Every step is a polars string
operation over the whole column: text exports run to hundreds of thousands of lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracelens.schema import LOG_EVENT_SCHEMA, REPORT_SCHEMA, UTC_US, conform
from tracelens.sideinputs._common import iso_to_utc

# One row per line. `idx` locates the line for rejections (a line number or an event index).
# `given_*` are values the container already parsed (Logs Insights discovered fields); they
# win over what the message says.
LINE_SCHEMA: dict[str, pl.DataType] = {
    "idx": pl.Int64(),
    "message": pl.String(),
    "timestamp": UTC_US,
    "stream": pl.String(),
    "function_name": pl.String(),
    "given_type": pl.String(),
    "given_request_id": pl.String(),
    "given_duration_ms": pl.Float64(),
    "given_billed_duration_ms": pl.Float64(),
    "given_memory_size_mb": pl.Int32(),
    "given_max_memory_used_mb": pl.Int32(),
    "given_init_duration_ms": pl.Float64(),
    "given_trace_id": pl.String(),
}

DNS_SIGNATURES = (
    "EAI_AGAIN",
    "ENOTFOUND",
    "UnknownHostException",
    "Temporary failure in name resolution",
)
_TIMEOUT_TEXT = "Task timed out after"
_CANDIDATE_TEXTS = ["RequestId:", "INIT_START", "XRAY TraceId", _TIMEOUT_TEXT, '"platform.']
# ISO 8601 as runtimes and exports print it; Java runtimes' log4j uses a space and no offset.
_TS = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
# An optional `[LEVEL]` (Python runtime), timestamp (exports, `aws logs tail`) and Lambda log
# stream name (`aws logs tail`) come before the body. The stream pattern is strict on purpose: a
# looser `\S+` would swallow the first word of the body.
_PREFIX = rf"^(?:\[[A-Z]+\]\s+)?(?:(?P<ts>{_TS})\s+)?(?:(?P<head_stream>\d{{4}}/\d\d/\d\d/\S+)\s+)?"
_HEAD_RE = _PREFIX + (
    r"(?:(?P<keyword>(?:REPORT|START|END) RequestId:)\s*(?P<head_request_id>\S+)"
    r"|(?P<xray>XRAY TraceId:)\s*(?P<head_trace_id>\S+)|(?P<other>INIT_START |\{))?"
)
_KEYWORD_KINDS = {
    "REPORT RequestId:": "report",
    "START RequestId:": "start",
    "END RequestId:": "end",
    "INIT_START ": "init_start",
    "XRAY TraceId:": "xray",
}
_XRAY_RE = r"XRAY TraceId:\s*(\S+)"
_UUID_RE = r"\b([0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12})\b"
_NUMBER = r"(\d+(?:\.\d+)?)"
# NOTE: "Duration:" also ends "Billed Duration:", "Init Duration:" and "Restore Duration:", so
# the plain one is anchored on the request id it always follows, and "Restore Duration:" must
# not be preceded by "Billed".
_REPORT_FIELDS: dict[str, tuple[str, pl.DataType]] = {
    "duration_ms": (rf"RequestId:\s*\S+\s+Duration:\s*{_NUMBER}\s*ms", pl.Float64()),
    "billed_duration_ms": (rf"\sBilled Duration:\s*{_NUMBER}\s*ms", pl.Float64()),
    "memory_size_mb": (r"Memory Size:\s*(\d+)\s*MB", pl.Int32()),
    "max_memory_used_mb": (r"Max Memory Used:\s*(\d+)\s*MB", pl.Int32()),
    "init_duration_ms": (rf"Init Duration:\s*{_NUMBER}\s*ms", pl.Float64()),
    "restore_duration_ms": (rf"(?:^|[^d\s])\s*Restore Duration:\s*{_NUMBER}\s*ms", pl.Float64()),
}
_REQUIRED_REPORT_FIELDS = {
    "request_id": "RequestId",
    "duration_ms": "Duration",
    "billed_duration_ms": "Billed Duration",
    "memory_size_mb": "Memory Size",
    "max_memory_used_mb": "Max Memory Used",
}
_STATUSES = {"success": "success", "error": "error", "failure": "error", "timeout": "timeout"}


@dataclass(frozen=True)
class ParsedLines:
    """What a frame of lines holds.

    ``reports`` and ``events`` carry the catalog schemas plus ``idx``; ``invalid`` lists refused
    lines (``idx``, ``reason``); ``json_lines`` are Lambda JSON-format records met among the lines
    (``idx``, ``body``, ``timestamp``, ``function_name``), to be decoded by the caller;
    ``recognized`` counts lines of any known kind.
    """

    reports: pl.DataFrame
    events: pl.DataFrame
    invalid: pl.DataFrame
    json_lines: pl.DataFrame
    recognized: int


def _kind() -> pl.Expr:
    """The line's kind; the first matching rule wins."""
    message = pl.col("message")
    keyword = pl.coalesce("keyword", "xray", "other")
    given = pl.col("given_type").str.to_uppercase()
    return (
        pl.when(keyword.is_in(list(_KEYWORD_KINDS)))
        .then(keyword.replace_strict(_KEYWORD_KINDS, default=None))
        .when((keyword == "{") & message.str.contains('"platform.', literal=True))
        .then(pl.lit("json"))
        .when(message.str.contains(_TIMEOUT_TEXT, literal=True))
        .then(pl.lit("timeout"))
        .when(message.str.contains_any(list(DNS_SIGNATURES)))
        .then(pl.lit("dns_failure"))
        .when((given == "REPORT") | pl.col("given_duration_ms").is_not_null())
        .then(pl.lit("report"))
        .when(given.is_in(["START", "END"]))
        .then(given.str.to_lowercase())
        .otherwise(pl.lit(None, pl.String()))
    )


def _candidates(lines: pl.DataFrame) -> pl.DataFrame:
    """Lines of any known kind, with their kind, timestamp, stream and own request id."""
    candidate = (
        pl.col("message").str.contains_any(_CANDIDATE_TEXTS + list(DNS_SIGNATURES))
        | pl.col("given_type").is_not_null()
        | pl.col("given_duration_ms").is_not_null()
    )
    # NOTE: the cheap literal scan first: the regexes below then run on a fraction of the lines.
    frame = lines.filter(candidate.fill_null(value=False))
    frame = frame.with_columns(message=pl.col("message").str.strip_chars_end())
    frame = frame.with_columns(head=pl.col("message").str.extract_groups(_HEAD_RE)).unnest("head")
    frame = frame.with_columns(kind=_kind()).filter(pl.col("kind").is_not_null())
    return frame.with_columns(
        timestamp=pl.coalesce(pl.col("timestamp"), iso_to_utc(frame["ts"])),
        stream=pl.coalesce(pl.col("stream"), pl.col("head_stream")),
        own_request_id=pl.coalesce("given_request_id", "head_request_id"),
    )


def _with_context(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the enclosing START..END request id and the trace id of a next-line XRAY."""
    kind = pl.col("kind")
    context = (
        pl.when(kind == "start")
        .then(pl.col("own_request_id"))
        .when(kind.is_in(["end", "report"]))
        .then(pl.lit(""))
        .otherwise(pl.lit(None, pl.String()))
        .forward_fill()
        .over("stream")
    )
    next_trace = (
        pl.when(kind.shift(-1).over("stream") == "xray")
        .then(pl.col("head_trace_id").shift(-1).over("stream"))
        .otherwise(pl.lit(None, pl.String()))
    )
    return frame.with_columns(
        context_request_id=context.replace("", None), next_line_trace_id=next_trace
    )


def _report_field(name: str) -> pl.Expr:
    pattern, dtype = _REPORT_FIELDS[name]
    parsed = pl.col("message").str.extract(pattern).cast(dtype, strict=False)
    given = f"given_{name}"
    return (pl.coalesce(pl.col(given), parsed) if given in LINE_SCHEMA else parsed).alias(name)


def _report_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reports and the refused REPORT lines (``idx``, ``reason``)."""
    reports = frame.filter(pl.col("kind") == "report").with_columns(
        [_report_field(name) for name in _REPORT_FIELDS],
        request_id=pl.col("own_request_id"),
        trace_id=pl.coalesce(
            pl.col("given_trace_id"),
            pl.col("message").str.extract(_XRAY_RE),
            pl.col("next_line_trace_id"),
        ),
        status_text=pl.col("message").str.extract(r"Status:\s*(\w+)"),
    )
    reports = reports.with_columns(
        status=pl.col("status_text").str.to_lowercase().replace_strict(_STATUSES, default=None),
        missing=pl.concat_list(
            [
                pl.when(pl.col(column).is_null()).then(pl.lit(label))
                for column, label in _REQUIRED_REPORT_FIELDS.items()
            ]
        ).list.drop_nulls(),
    )
    lacks = pl.col("missing").list.len() > 0
    bad_status = pl.col("status").is_null() & pl.col("status_text").is_not_null()
    invalid = reports.filter(lacks | bad_status).select(
        "idx",
        reason=pl.when(lacks)
        .then(pl.lit("invalid REPORT line: lacks ") + pl.col("missing").list.join(", "))
        .otherwise(pl.lit("invalid REPORT line: unknown Status ") + pl.col("status_text")),
    )
    valid = reports.filter(~lacks & ~bad_status)
    return conform(valid, {**REPORT_SCHEMA, "idx": pl.Int64()}), invalid


def _event_rows(frame: pl.DataFrame) -> pl.DataFrame:
    schema = {**LOG_EVENT_SCHEMA, "idx": pl.Int64()}
    named = frame.filter(pl.col("kind").is_in(["start", "end"]))
    other = frame.filter(pl.col("kind").is_in(["init_start", "timeout", "dns_failure"]))
    # NOTE: START/END name their request; other lines are attributed to an id they print (the
    # Node and Python runtimes do) or else to the enclosing START..END of their stream.
    named = named.with_columns(request_id=pl.col("own_request_id"))
    other = other.with_columns(
        request_id=pl.coalesce(
            pl.col("given_request_id"),
            pl.col("message").str.extract(_UUID_RE),
            pl.col("context_request_id"),
        )
    )
    events = pl.concat([conform(named, schema), conform(other, schema)])
    return events.sort("idx", maintain_order=True)


def parse_lines(lines: pl.DataFrame) -> ParsedLines:
    """Classify and parse a frame of lines (see :data:`LINE_SCHEMA`)."""
    frame = _with_context(_candidates(conform(lines, LINE_SCHEMA)))
    reports, invalid = _report_rows(frame)
    json_lines = frame.filter(pl.col("kind") == "json").select(
        "idx",
        "timestamp",
        "function_name",
        body=pl.col("message").str.replace(_PREFIX, ""),
    )
    return ParsedLines(
        reports=reports,
        events=_event_rows(frame),
        invalid=invalid,
        json_lines=json_lines,
        recognized=frame.height,
    )
