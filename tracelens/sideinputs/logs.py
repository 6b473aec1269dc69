"""Lambda logs as a side input: REPORT records and notable events (timeouts, DNS failures, ...).

Accepted formats, recognized by content (file names do not matter, except for the function name):

- Lambda text log lines as exported: ``START``/``END``/``REPORT``/``INIT_START``/``XRAY`` lines,
  fields separated by tabs or by spaces, each line optionally led by an ISO 8601 timestamp and,
  as ``aws logs tail`` prints them, a log stream name; the ``XRAY TraceId`` may follow the
  REPORT on the same line or on the next one.
- ``aws logs filter-log-events`` / ``aws logs get-log-events`` JSON (``{"events": [...]}``), and
  CloudWatch Logs subscription payloads (``{"logGroup", "logStream", "logEvents": [...]}``); an
  event's ``message`` may be a text line or a JSON-format record.
- Logs Insights ``GetQueryResults`` JSON (``{"results": [[{"field", "value"}, ...]], "status"}``).
- Lambda JSON log format records (``{"time", "type": "platform.report", "record": {...}}``, also
  ``platform.start``/``end``/``runtimeDone``/``initStart``, function and application records):
  one per line, a JSON array, or several documents one after the other.

Events (``LOG_EVENT_SCHEMA``) are one row per ``START`` (kind ``start``), ``END`` (``end``),
``INIT_START`` (``init_start``), timeout (``timeout``: a "Task timed out after N seconds" line
or a ``platform.runtimeDone`` with status ``timeout``) and DNS failure (``dns_failure``: a line
holding ``EAI_AGAIN``, ``ENOTFOUND``, ``UnknownHostException`` or "Temporary failure in name
resolution"). A notable line's request id is the one it prints, else that of the enclosing
``START``..``END`` of its log stream. Lines and events without a time of their own keep a null
``timestamp``; a time without an offset is UTC.

Function name of each record, first found of:

1. the Logs Insights ``@log`` field (``<account>:/aws/lambda/<name>``);
2. a ``logGroupName``/``logGroup``/``logGroupIdentifier`` field of the event or the document
   (``/aws/lambda/<name>``);
3. the file name: ``<name>.log``, ``<name>.json``, ``<name>.txt`` (also ``.jsonl``, ``.ndjson``,
   and any of these with ``.gz``), when ``<name>`` is a valid function name;
4. otherwise null.

Status: a REPORT's own ``Status:`` (or ``status``) wins; else ``timeout`` when a "Task timed out"
line or a ``platform.runtimeDone`` with status ``timeout`` names the request; else the
``platform.runtimeDone`` status; else null. The same REPORT given twice (overlapping exports: same
function, request id and measurements) is kept once and the copy counted as a rejection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tracelens.ingest.opening.sources import Source
from tracelens.ingest.opening.streams import side_sources
from tracelens.ingest.rejections import RejectionLog
from tracelens.limits import TIME_RANGE
from tracelens.schema import LOG_EVENT_SCHEMA, REPORT_SCHEMA, conform, empty_frame
from tracelens.sideinputs import _common as common
from tracelens.sideinputs.insights import insights_lines, row_fields
from tracelens.sideinputs.jsonlog import is_log_record
from tracelens.sideinputs.logparts import (
    EVENT_ROWS,
    REPORT_ROWS,
    STATUS_ROWS,
    LogParts,
    RawRecord,
    epoch_ms_series,
    text_lines,
)
from tracelens.sideinputs.textlog import LINE_SCHEMA

LOG_FORMATS = (
    "Lambda text log lines; `aws logs filter-log-events`/`get-log-events` JSON; "
    "Logs Insights GetQueryResults JSON; Lambda JSON log records (one per line or an array); "
    "CloudWatch Logs subscription payloads"
)
_GROUP_KEYS = ("logGroupName", "logGroup", "logGroupIdentifier")
_REPORT_IDENTITY = [
    "function_name",
    "request_id",
    "duration_ms",
    "billed_duration_ms",
    "memory_size_mb",
    "max_memory_used_mb",
    "init_duration_ms",
    "restore_duration_ms",
]


@dataclass(frozen=True)
class LambdaLogs:
    """Lambda REPORT records (``REPORT_SCHEMA``) and notable events (``LOG_EVENT_SCHEMA``)."""

    reports: pl.DataFrame
    events: pl.DataFrame


def _group_function(document: dict[str, Any]) -> str | None:
    for key in _GROUP_KEYS:
        name = common.function_from_log_group(document.get(key))
        if name is not None:
            return name
    return None


def _event_error(event: object) -> str | None:
    if not isinstance(event, dict):
        return f"an event must be an object, got {common.describe_json(event)}"
    if not isinstance(event.get("message"), str):
        return f"message must be a string, got {common.describe_json(event.get('message'))}"
    timestamp = event.get("timestamp")
    if timestamp is not None and not common.is_epoch_ms(timestamp):
        shown = timestamp if common.is_number(timestamp) else common.describe_json(timestamp)
        return f"timestamp must be epoch milliseconds inside {TIME_RANGE}, got {shown}"
    return None


def _add_events(parts: LogParts, source: str, document: dict[str, Any], prefix: str) -> None:
    """``filter-log-events``/``get-log-events`` (``events``) or a subscription (``logEvents``)."""
    key = "events" if "events" in document else "logEvents"
    default = _group_function(document) or common.function_from_file_name(source)
    columns: dict[str, list[Any]] = {
        "idx": [],
        "message": [],
        "timestamp": [],
        "stream": [],
        "function_name": [],
    }
    for idx, event in enumerate(document[key]):
        error = _event_error(event)
        if error is not None:
            parts.rejections.add(source, f"{prefix}{key}[{idx}]", f"invalid event: {error}")
            continue
        stream = event.get("logStreamName", document.get("logStream"))
        columns["idx"].append(idx)
        columns["message"].append(event["message"])
        columns["timestamp"].append(event.get("timestamp"))
        columns["stream"].append(stream if isinstance(stream, str) else None)
        columns["function_name"].append(_group_function(event) or default)
    frame = pl.DataFrame(
        {**columns, "timestamp": epoch_ms_series(columns["timestamp"])},
        schema_overrides={name: LINE_SCHEMA[name] for name in columns},
    )
    parts.add_lines(source, frame, f"{prefix}{key}[{{}}]")


def _add_insights(parts: LogParts, source: str, document: dict[str, Any], prefix: str) -> None:
    status = document.get("status")
    if status not in (None, "Complete"):
        parts.rejections.add(
            source,
            f"{prefix}status",
            f"incomplete query: status {status!r}; its rows are kept, others may be missing",
        )
    rows = []
    for idx, row in enumerate(document["results"]):
        fields = row_fields(row)
        if isinstance(fields, str):
            parts.rejections.add(source, f"{prefix}results[{idx}]", f"invalid result row: {fields}")
        else:
            rows.append((idx, fields))
    if rows:
        lines = insights_lines(rows, common.function_from_file_name(source))
        parts.add_lines(source, lines, f"{prefix}results[{{}}]")


def _add_record_array(parts: LogParts, source: str, items: list[Any], prefix: str) -> None:
    function_name = common.function_from_file_name(source)
    records: list[RawRecord] = []
    for idx, item in enumerate(items):
        if is_log_record(item):
            records.append((idx, item, function_name, None))
        else:
            parts.rejections.add(source, f"{prefix}[{idx}]", _not_a_record(item))
    parts.add_records(source, records, f"{prefix}[{{}}]")


def _not_a_record(value: object) -> str:
    hint = common.wrong_input_hint(value)
    if hint is not None:
        return f"not a Lambda log record: {hint}"
    what = common.describe_json(value)
    return f"not a Lambda log record: {what} without `type` and `record` (or `message`)"


def _add_document(parts: LogParts, source: Source, value: common.JsonValue, many: bool) -> bool:
    """Add one top-level JSON value; ``False`` when it is no log shape at all."""
    document, prefix = value.value, (f"line {value.line}: " if many else "")
    is_object = isinstance(document, dict)
    if is_object and any(isinstance(document.get(k), list) for k in ("events", "logEvents")):
        _add_events(parts, source.name, document, prefix)
    elif is_object and isinstance(document.get("results"), list):
        _add_insights(parts, source.name, document, prefix)
    elif isinstance(document, list) and any(is_log_record(item) for item in document):
        _add_record_array(parts, source.name, document, prefix)
    else:
        return False
    return True


def _add_json(parts: LogParts, source: Source, text: str) -> None:
    values = common.json_values(text, source.first_line)
    many = len(values) > 1 or source.lines
    function_name = common.function_from_file_name(source.name)
    loose: list[RawRecord] = []
    for value in values:
        if value.error is not None:
            parts.rejections.add(source.name, f"line {value.line}", value.error)
        elif is_log_record(value.value):
            loose.append((value.line, value.value, function_name, None))
        elif not _add_document(parts, source, value, many):
            if many:
                parts.rejections.add(source.name, f"line {value.line}", _not_a_record(value.value))
            else:
                hint = common.wrong_input_hint(value.value) or "JSON of no known log shape"
                common.reject_unknown(parts.rejections, source, hint, LOG_FORMATS)
    parts.add_records(source.name, loose, "line {}")


_NO_LOG_LINES = "no Lambda log lines (START, END, REPORT, INIT_START, timeouts, DNS errors) found"


def _add_source(parts: LogParts, source: Source) -> int | None:
    """Add one source (or piece of one); how many text log lines it held that were
    recognized, None when it was not text lines."""
    text = common.decode_text(source, parts.rejections, LOG_FORMATS)
    if text is None or not text.strip():
        return None
    if common.is_json_text(text):
        _add_json(parts, source, text)
        return None
    function_name = common.function_from_file_name(source.name)
    lines = text_lines(text, function_name, source.first_line)
    return parts.add_lines(source.name, lines, "line {}")


def _with_statuses(reports: pl.DataFrame, statuses: pl.DataFrame) -> pl.DataFrame:
    # NOTE: a timeout hint wins over another status given for the same request.
    hints = (
        statuses.sort(pl.col("status") != "timeout", maintain_order=True)
        .unique("request_id", keep="first", maintain_order=True)
        .rename({"status": "hinted_status"})
    )
    joined = reports.join(hints, on="request_id", how="left", maintain_order="left")
    return joined.with_columns(status=pl.coalesce("status", "hinted_status")).drop("hinted_status")


def _drop_duplicates(
    frame: pl.DataFrame, key: list[str], what: str, log: RejectionLog, *, when: pl.Expr
) -> pl.DataFrame:
    repeat = when & ~pl.struct(key).is_first_distinct()
    for source, position in frame.filter(repeat).select("_source", "_position").iter_rows():
        log.add(source, position, f"duplicate {what}: the same record was already read")
    return frame.filter(~repeat)


def _in_time_range(frame: pl.DataFrame, log: RejectionLog) -> pl.DataFrame:
    """``frame`` without the rows whose time lies outside the one valid range, each refused."""
    outside = frame.filter(common.outside_time_range())
    for source, position, moment in outside.select("_source", "_position", "timestamp").rows():
        log.add(source, position, common.time_range_problem(moment.isoformat()))
    return frame.filter(~common.outside_time_range()) if outside.height else frame


def _assemble(parts: LogParts) -> LambdaLogs:
    reports = pl.concat([empty_frame(REPORT_ROWS), *parts.reports])
    events = pl.concat([empty_frame(EVENT_ROWS), *parts.events])
    reports = _in_time_range(common.cut_strings(reports), parts.rejections)
    events = _in_time_range(common.cut_strings(events), parts.rejections)
    timeouts = events.filter(pl.col("kind") == "timeout").select(
        "request_id", status=pl.lit("timeout")
    )
    statuses = pl.concat([empty_frame(STATUS_ROWS), timeouts, *parts.statuses])
    reports = _with_statuses(reports, statuses.drop_nulls("request_id"))
    reports = _drop_duplicates(
        reports, _REPORT_IDENTITY, "REPORT", parts.rejections, when=pl.lit(value=True)
    )
    # NOTE: only events with a time can be told apart from a repeated message.
    events = _drop_duplicates(
        events,
        list(LOG_EVENT_SCHEMA),
        "log event",
        parts.rejections,
        when=pl.col("timestamp").is_not_null(),
    )
    return LambdaLogs(
        reports=conform(reports, REPORT_SCHEMA), events=conform(events, LOG_EVENT_SCHEMA)
    )


def load_logs(paths: Iterable[str | Path], *, rejections: RejectionLog) -> LambdaLogs:
    """Read Lambda logs in any accepted format (see the module docstring).

    Parameters
    ----------
    paths
        Files, directories, ``.gz`` files or ``-`` for standard input.
    rejections
        Receives one entry per refused record, and one per file in no accepted format.

    Returns
    -------
    LambdaLogs
        ``reports`` and ``events`` frames with exactly the catalog schemas, possibly empty.

    Raises
    ------
    tracelens.ingest.opening.sources.InputError
        When a path does not exist or cannot be read.
    """
    return read_logs(side_sources(paths, rejections), rejections=rejections)


def read_logs(sources: Iterable[Source], *, rejections: RejectionLog) -> LambdaLogs:
    """:func:`load_logs` over sources already in memory (named for messages; a log file's name
    may name its function)."""
    parts = LogParts(rejections)
    # An input of text lines read in pieces: its first piece, and the lines recognized so far.
    text_input: tuple[Source, int] | None = None
    for source in sources:
        found = _add_source(parts, source)
        if found is None:
            continue
        if text_input is not None and not _continues(source, text_input[0]):
            _check_text_input(parts, *text_input)
            text_input = None
        text_input = (source, found + (text_input[1] if text_input else 0))
    if text_input is not None:
        _check_text_input(parts, *text_input)
    return _assemble(parts)


def _continues(piece: Source, first: Source) -> bool:
    """Whether ``piece`` is a later piece of the input that ``first`` starts."""
    return piece.lines and piece.name == first.name and piece.first_line > first.first_line


def _check_text_input(parts: LogParts, first: Source, recognized: int) -> None:
    if recognized == 0:
        common.reject_unknown(parts.rejections, first, _NO_LOG_LINES, LOG_FORMATS)
