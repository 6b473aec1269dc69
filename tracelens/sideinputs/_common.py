"""Helpers shared by the side-input loaders: decoding, JSON values, names, timestamps."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import orjson
import polars as pl

from tracelens.ingest.opening.sources import Source
from tracelens.ingest.rejections import RejectionLog
from tracelens.limits import CUT_MARK, EARLIEST_TIME, LATEST_TIME, MAX_STRING_CHARS, TIME_RANGE
from tracelens.schema import UTC_US

WHOLE_FILE = "whole file"

# Lambda function names: letters, digits, hyphens and underscores, at most 64 characters.
_FUNCTION_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# `/aws/lambda/<name>`, also inside `<account>:/aws/lambda/<name>` (Logs Insights `@log`) and
# log group ARNs; Lambda@Edge groups carry a region prefix: `/aws/lambda/us-east-1.<name>`.
# The name runs to the group's end (or the `:` of an ARN): a custom group such as
# `/aws/lambda/team/orders` or a longer name is no function's, never a truncated one's.
LOG_GROUP_PATTERN = r"/aws/lambda/(?:[a-z]{2}(?:-[a-z]+)+-\d\.)?([A-Za-z0-9_-]{1,64})(?::|$)"
_LOG_GROUP_RE = re.compile(LOG_GROUP_PATTERN)
_LOG_FILE_SUFFIXES = (".log", ".json", ".txt", ".jsonl", ".ndjson")
_ISO_TZ_RE = r"[+-]\d\d:?\d\d$"
_JSON_VALUE_STARTS = frozenset('{["]-0123456789tfn')


@dataclass(frozen=True)
class NonFinite:
    """A ``NaN``/``Infinity`` literal met in JSON: kept as a marker so its record is refused."""

    literal: str


@dataclass(frozen=True)
class JsonValue:
    """One top-level JSON value of a source, or why the text at ``line`` is not JSON."""

    line: int
    value: Any = None
    error: str | None = None


def decode_text(source: Source, rejections: RejectionLog, accepted: str) -> str | None:
    """The source as text, or ``None`` after recording a whole-file rejection."""
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError:
        reject_unknown(rejections, source, "not UTF-8 text", accepted)
        return None
    return text.removeprefix("\ufeff")


def reject_unknown(rejections: RejectionLog, source: Source, what: str, accepted: str) -> None:
    """Record a whole file in an unknown format as one rejection naming the accepted ones."""
    rejections.add(source.name, WHOLE_FILE, f"unknown format: {what}; accepted formats: {accepted}")


def looks_like_json(text: str) -> bool:
    """The text starts like a JSON document (metrics and configuration are JSON only)."""
    return text.lstrip()[:1] in ("{", "[")


def is_json_text(text: str) -> bool:
    """Whether a log file is JSON documents rather than log lines that may include JSON.

    A text log can start with `[INFO]` (Python runtime) or with a JSON application log line
    followed by platform lines: those are text. A document that starts as JSON and is broken is
    JSON, so that its error is reported.
    """
    stripped = text.lstrip()
    if stripped[:1] == "[" and stripped[1:].lstrip()[:1] not in _JSON_VALUE_STARTS:
        return False
    if stripped[:1] not in ("{", "["):
        return False
    try:
        orjson.loads(stripped)
    except orjson.JSONDecodeError:
        pass
    else:
        return True
    try:
        _, end = json.JSONDecoder(parse_constant=NonFinite).raw_decode(stripped)
    except ValueError:
        return True
    return stripped[end:].lstrip()[:1] in ("", "{", "[")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _ndjson_values(text: str) -> list[JsonValue] | None:
    lines = text.split("\n")
    stripped = [line.strip() for line in lines]
    # NOTE: a cut last line still starts with "{": it is refused alone, the others kept.
    if not all(not s or s[0] == "{" for s in stripped):
        return None
    values = []
    for number, line in enumerate(stripped, start=1):
        if line:
            values.append(_decode_one(line, number))
    return values


def _decode_one(text: str, line: int) -> JsonValue:
    try:
        return JsonValue(line, orjson.loads(text))
    except orjson.JSONDecodeError:
        pass
    try:
        return JsonValue(line, json.loads(text, parse_constant=NonFinite))
    except ValueError as exc:
        return JsonValue(line, error=f"invalid JSON: {exc}")


def _next_value_start(text: str, after: int) -> int:
    starts = [i for i in (text.find("\n{", after), text.find("\n[", after)) if i >= 0]
    return min(starts) + 1 if starts else len(text)


def _concatenated_values(text: str) -> Iterator[JsonValue]:
    # NOTE: stdlib's raw_decode walks concatenated documents (`aws` commands run one after the
    # other into one file); on an error it resumes at the next line opening a value.
    decoder = json.JSONDecoder(parse_constant=NonFinite)
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        line = _line_of(text, pos)
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            yield JsonValue(line, error=f"invalid JSON: {exc}")
            pos = _next_value_start(text, pos)
            continue
        yield JsonValue(line, value)


def json_values(text: str, first_line: int = 1) -> list[JsonValue]:
    """Every top-level JSON value of ``text``: one document, JSON Lines, or several concatenated;
    lines are numbered from ``first_line`` (a piece of a longer input).

    ``NaN``/``Infinity`` literals decode to :class:`NonFinite` markers so that only the record
    holding one is refused, not the whole document.
    """
    values = _json_values(text)
    if first_line == 1:
        return values
    return [replace(value, line=value.line + first_line - 1) for value in values]


def _json_values(text: str) -> list[JsonValue]:
    first = len(text) - len(text.lstrip())
    try:
        return [JsonValue(_line_of(text, first), orjson.loads(text))]
    except orjson.JSONDecodeError:
        pass
    ndjson = _ndjson_values(text)
    if ndjson is not None and len(ndjson) > 1:
        return ndjson
    return list(_concatenated_values(text))


# The last millisecond of the year 9999: later epoch times would not fit the microsecond
# timestamps the frames use (times are then held to TIME_RANGE, see ``time_range_problem``).
MAX_EPOCH_MS = 253_402_300_799_999


def is_epoch_ms(value: object) -> bool:
    """A whole number of milliseconds since 1970 inside the one valid time range of
    tracelens.limits (``bool`` is not one)."""
    return type(value) is int and EARLIEST_TIME * 1000 <= value < LATEST_TIME * 1000


def in_time_range(moment: datetime) -> bool:
    """Whether an aware datetime lies inside the one valid time range (TIME_RANGE)."""
    return EARLIEST_TIME <= moment.timestamp() < LATEST_TIME


def outside_time_range(column: str = "timestamp") -> pl.Expr:
    """Whether the UTC datetimes of ``column`` lie outside TIME_RANGE (null, unknown, does not)."""
    epoch_us = pl.col(column).dt.epoch("us")
    inside = (epoch_us >= int(EARLIEST_TIME * 1e6)) & (epoch_us < int(LATEST_TIME * 1e6))
    return (~inside).fill_null(value=False)


def cut_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every string longer than ``MAX_STRING_CHARS`` cut as ``cut_string`` cuts
    it (a 50 MB log message or metric label is not carried into every analysis)."""
    columns = [name for name, dtype in frame.schema.items() if dtype == pl.String()]
    # NOTE: a string of at most MAX_STRING_CHARS bytes is no longer in characters: the cheap test.
    long = [pl.col(name).str.len_bytes() > MAX_STRING_CHARS for name in columns]
    if not columns or not frame.select(pl.any_horizontal(long).any()).item():
        return frame
    before, after = CUT_MARK.format(kept=MAX_STRING_CHARS, length="{}").split("{}")
    cut = []
    for name in columns:
        length = pl.col(name).str.len_chars()
        marked = pl.concat_str(
            pl.col(name).str.slice(0, MAX_STRING_CHARS),
            pl.lit(before),
            length.cast(pl.String()),
            pl.lit(after),
        )
        cut.append(pl.when(length > MAX_STRING_CHARS).then(marked).otherwise(pl.col(name)))
    return frame.with_columns(cut)


def time_range_problem(moment: object) -> str:
    """The reason a record whose time is ``moment`` is refused."""
    return f"time out of range: {moment} is outside {TIME_RANGE}"


def is_number(value: object) -> bool:
    """A finite JSON number (``bool`` is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def describe_json(value: object) -> str:
    """Name a JSON value's type for an error message."""
    if isinstance(value, NonFinite):
        return value.literal
    names = {str: "a string", bool: "a boolean", dict: "an object", list: "an array"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if is_number(value) else type(value).__name__)


def is_function_name(name: object) -> bool:
    return isinstance(name, str) and _FUNCTION_NAME_RE.fullmatch(name) is not None


def function_from_log_group(name: object) -> str | None:
    """``<name>`` from ``/aws/lambda/<name>`` (also with an ``<account>:`` prefix or in an ARN)."""
    if not isinstance(name, str):
        return None
    match = _LOG_GROUP_RE.search(name)
    return match.group(1) if match else None


def function_from_file_name(source_name: str) -> str | None:
    """``<name>`` from ``<name>.log|.json|.txt`` (optionally ``.gz``), else ``None``."""
    name = PurePath(source_name).name.removesuffix(".gz")
    for suffix in _LOG_FILE_SUFFIXES:
        if name.endswith(suffix):
            stem = name.removesuffix(suffix)
            return stem if is_function_name(stem) else None
    return None


def _iso_any_to_utc(text: pl.Series) -> pl.Series:
    text = text.str.replace(r"^(\d{4}-\d\d-\d\d) ", "${1}T").str.replace(r"[Zz]$", "+00:00")
    text = pl.select(
        pl.when(text.str.contains(_ISO_TZ_RE)).then(text).otherwise(text + "+00:00")
    ).to_series()
    return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us")


def iso_to_utc(text: pl.Series) -> pl.Series:
    """Parse ISO 8601 text (``T`` or space; ``Z``, an offset, or none = UTC) to UTC microseconds.

    Unparseable text becomes null; callers decide whether that refuses the record.
    """
    # NOTE: RFC 3339 (`%+`) is the common case and ~5x faster than the general path, which
    # runs only when some value needs it (no offset, space separator).
    parsed = text.str.to_datetime("%+", strict=False, time_unit="us", time_zone="UTC")
    if (parsed.is_null() & text.is_not_null()).any():
        parsed = parsed.fill_null(_iso_any_to_utc(text))
    return parsed.cast(UTC_US)


def iso_to_datetime(value: object) -> datetime | None:
    """One ISO 8601 string as an aware UTC datetime (no offset means UTC), else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def wrong_input_hint(value: object) -> str | None:
    """When a document is another side input's shape, which option it belongs to."""
    if not isinstance(value, dict):
        return None
    hints = {
        "MetricDataResults": "a get-metric-data response: pass it with --metrics",
        "Functions": "a list-functions response: pass it with --functions",
        "Configuration": "a get-function response: pass it with --functions",
        "AccountLimit": "a get-account-settings response: pass it with --functions",
        "ProvisionedConcurrencyConfigs": "provisioned concurrency: pass it with --functions",
        "events": "a CloudWatch Logs events response: pass it with --logs",
        "results": "a Logs Insights response: pass it with --logs",
        "Traces": "X-Ray traces: pass them as PATH",
        "TraceSummaries": "X-Ray trace summaries: pass them as PATH",
    }
    for key, hint in hints.items():
        if key in value:
            return hint
    return None
