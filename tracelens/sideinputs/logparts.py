"""Collecting one source's log rows: lines go to the text parser, platform records to jsonlog.

Positions are built from a template holding one ``{}`` for the line's ``idx`` (``line {}``,
``events[{}]``, ``line 4: [{}]``), formatted only for rows kept or refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import polars as pl

from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import LOG_EVENT_SCHEMA, REPORT_SCHEMA, UTC_US, conform
from tracelens.sideinputs._common import iso_to_datetime
from tracelens.sideinputs.jsonlog import JsonRecord, JsonRows, is_platform_record, platform_rows
from tracelens.sideinputs.textlog import LINE_SCHEMA, parse_lines

PRIVATE_COLUMNS: dict[str, pl.DataType] = {"_source": pl.String(), "_position": pl.String()}
REPORT_ROWS = {**REPORT_SCHEMA, **PRIVATE_COLUMNS}
EVENT_ROWS = {**LOG_EVENT_SCHEMA, **PRIVATE_COLUMNS}
STATUS_ROWS: dict[str, pl.DataType] = {"request_id": pl.String(), "status": pl.String()}
# A JSON log record as read: (idx, value, function name, time of the event carrying it).
RawRecord = tuple[int, Any, str | None, datetime | None]


@dataclass
class LogParts:
    """Rows gathered from every source, with ``_source``/``_position`` for later rejections."""

    rejections: RejectionLog
    reports: list[pl.DataFrame] = field(default_factory=list)
    events: list[pl.DataFrame] = field(default_factory=list)
    statuses: list[pl.DataFrame] = field(default_factory=list)

    def add_lines(self, source: str, lines: pl.DataFrame, template: str) -> int:
        """Parse a frame of lines (``LINE_SCHEMA``); returns how many lines were recognized."""
        parsed = parse_lines(lines)
        for idx, reason in parsed.invalid.iter_rows():
            self.rejections.add(source, template.format(idx), reason)
        private = {
            "_source": pl.lit(source),
            "_position": pl.format(template, pl.col("idx")),
        }
        self.reports.append(conform(parsed.reports.with_columns(**private), REPORT_ROWS))
        self.events.append(conform(parsed.events.with_columns(**private), EVENT_ROWS))
        records: list[RawRecord] = []
        for idx, timestamp, function_name, body in parsed.json_lines.iter_rows():
            position = template.format(idx)
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                self.rejections.add(source, position, f"invalid JSON log record: {exc}")
                continue
            records.append((idx, value, function_name, timestamp))
        self.add_records(source, records, template)
        return parsed.recognized

    def add_records(
        self,
        source: str,
        records: Sequence[RawRecord],
        template: str,
    ) -> None:
        """JSON log records ``(idx, value, function name, carrier time)``.

        Platform records become rows here; other records (function output, application JSON
        logs) are scanned like text lines.
        """
        platform: list[tuple[JsonRecord, str]] = []
        others: list[RawRecord] = []
        for idx, value, function_name, timestamp in records:
            if is_platform_record(value):
                record = JsonRecord(template.format(idx), value, function_name, timestamp)
                platform.append((record, orjson.dumps(value).decode()))
            else:
                others.append((idx, value, function_name, timestamp))
        self._add_platform(source, platform_rows(platform))
        if others:
            self.add_lines(source, _record_lines(others), template)

    def _add_platform(self, source: str, rows: JsonRows) -> None:
        for position, reason in rows.invalid:
            self.rejections.add(source, position, reason)
        if rows.reports:
            frame = pl.DataFrame(rows.reports, schema_overrides=REPORT_ROWS, strict=False)
            self.reports.append(conform(frame.with_columns(_source=pl.lit(source)), REPORT_ROWS))
        if rows.events:
            frame = pl.DataFrame(rows.events, schema_overrides=EVENT_ROWS, strict=False)
            self.events.append(conform(frame.with_columns(_source=pl.lit(source)), EVENT_ROWS))
        if rows.statuses:
            self.statuses.append(pl.DataFrame(rows.statuses, schema=STATUS_ROWS))


def _record_text(value: Any) -> str:
    record = value.get("record") if isinstance(value, dict) else None
    return record if isinstance(record, str) else orjson.dumps(value).decode()


def _record_time(value: Any, fallback: datetime | None) -> datetime | None:
    if isinstance(value, dict):
        for key in ("time", "timestamp"):
            parsed = iso_to_datetime(value.get(key))
            if parsed is not None:
                return parsed
    return fallback


def _record_lines(records: Sequence[RawRecord]) -> pl.DataFrame:
    """Function/application JSON records as lines, keeping the request id they carry."""
    columns: dict[str, list[Any]] = {
        "idx": [],
        "message": [],
        "timestamp": [],
        "function_name": [],
        "given_request_id": [],
    }
    for idx, value, function_name, timestamp in records:
        request_id = value.get("requestId") if isinstance(value, dict) else None
        columns["idx"].append(idx)
        columns["message"].append(_record_text(value))
        columns["timestamp"].append(_record_time(value, timestamp))
        columns["function_name"].append(function_name)
        columns["given_request_id"].append(request_id if isinstance(request_id, str) else None)
    schema = {name: LINE_SCHEMA[name] for name in columns}
    return pl.DataFrame(columns, schema=schema)


def text_lines(text: str, function_name: str | None, first_line: int = 1) -> pl.DataFrame:
    """A text file (or a piece of one) as lines numbered from ``first_line``."""
    messages = pl.Series("message", [text]).str.split("\n").explode()
    return pl.DataFrame(messages).select(
        idx=pl.int_range(first_line, pl.len() + first_line, dtype=pl.Int64()),
        message=pl.col("message"),
        function_name=pl.lit(function_name, pl.String()),
    )


def epoch_ms_series(values: list[Any]) -> pl.Series:
    """CloudWatch Logs epoch-millisecond timestamps as UTC datetimes."""
    return pl.Series(values, dtype=pl.Int64()).cast(pl.Datetime("ms", "UTC")).cast(UTC_US)
