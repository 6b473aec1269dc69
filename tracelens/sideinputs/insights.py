"""Logs Insights ``GetQueryResults`` responses as lines for the text parser.

Rows are lists of ``{"field", "value"}`` (values are always strings). The fields Logs Insights
discovers in Lambda log groups (``@requestId``, ``@duration``, ``@billedDuration``,
``@memorySize``, ``@maxMemoryUsed``, ``@initDuration``, ``@xrayTraceId``, ``@type``) are used when
present; ``@message`` is parsed for the rest. ``@log`` (``<account>:/aws/lambda/<name>``) names
the function.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from tracelens.schema import UTC_US
from tracelens.sideinputs._common import (
    LOG_GROUP_PATTERN,
    MAX_EPOCH_MS,
    describe_json,
    iso_to_utc,
)
from tracelens.sideinputs.textlog import LINE_SCHEMA

_FIELDS = {
    "@message": "message",
    "@timestamp": "timestamp_text",
    "@logStream": "stream",
    "@log": "log",
    "@type": "given_type",
    "@requestId": "given_request_id",
    "@duration": "given_duration_ms",
    "@billedDuration": "given_billed_duration_ms",
    "@memorySize": "memory_size_bytes",
    "@maxMemoryUsed": "max_memory_used_bytes",
    "@initDuration": "given_init_duration_ms",
    "@xrayTraceId": "given_trace_id",
}
NO_USABLE_FIELDS = (
    "row has neither @message nor @requestId with @duration; "
    "run the query with `fields @timestamp, @message, @log`"
)


def row_fields(row: object) -> dict[str, str] | str:
    """A result row as ``{column: value}``, or why it is malformed."""
    if not isinstance(row, list):
        return f"a result row must be an array of fields, got {describe_json(row)}"
    fields: dict[str, str] = {}
    for cell in row:
        if not isinstance(cell, dict) or not isinstance(cell.get("field"), str):
            return "each result cell must be an object with a string `field`"
        value = cell.get("value")
        if value is not None and not isinstance(value, str):
            return f"field {cell['field']} has {describe_json(value)}, not a string value"
        column = _FIELDS.get(cell["field"])
        if column is not None and value is not None:
            fields[column] = value
    has_report_fields = "given_request_id" in fields and "given_duration_ms" in fields
    if "message" not in fields and not has_report_fields:
        return NO_USABLE_FIELDS
    return fields


def _megabytes(column: str) -> pl.Expr:
    # NOTE: Logs Insights reports @memorySize/@maxMemoryUsed in bytes. Lambda memory is a whole
    # number of MB, so the value divides exactly by 10^6 or 2^20; a value under 10^6 cannot be
    # bytes of a function (128 MB minimum) and is taken as MB already.
    value = pl.col(column).cast(pl.Float64(), strict=False)
    return (
        pl.when(value < 1e6)
        .then(value)
        .when(value % 1_000_000 == 0)
        .then(value / 1e6)
        .when(value % 1_048_576 == 0)
        .then(value / 1_048_576)
        .otherwise((value / 1e6).round())
        .cast(pl.Int32(), strict=False)
    )


def _insights_time(text: pl.Series) -> pl.Series:
    """AWS prints ``@timestamp`` as ``2026-11-20 09:00:01.123``; some endpoints as epoch ms."""
    epoch_ms = text.str.strip_chars().cast(pl.Int64, strict=False)
    in_range = epoch_ms.is_between(0, MAX_EPOCH_MS)
    as_epoch = pl.select(pl.when(in_range).then(epoch_ms * 1000)).to_series().cast(UTC_US)
    return pl.Series(text.name, iso_to_utc(text)).fill_null(as_epoch)


def insights_lines(
    rows: list[tuple[int, dict[str, str]]], file_function: str | None
) -> pl.DataFrame:
    """Lines (``LINE_SCHEMA``) from ``(index, fields)`` rows."""
    columns = ["idx", *_FIELDS.values()]
    records: list[dict[str, Any]] = [{"idx": idx, **fields} for idx, fields in rows]
    frame = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String()) | {"idx": pl.Int64()})
    log_functions = pl.col("log").str.extract(LOG_GROUP_PATTERN)
    return frame.with_columns(
        timestamp=_insights_time(frame["timestamp_text"]),
        function_name=pl.coalesce(log_functions, pl.lit(file_function, pl.String())),
        given_memory_size_mb=_megabytes("memory_size_bytes"),
        given_max_memory_used_mb=_megabytes("max_memory_used_bytes"),
        **{
            name: pl.col(name).cast(pl.Float64(), strict=False)
            for name in ("given_duration_ms", "given_billed_duration_ms", "given_init_duration_ms")
        },
    ).select(list(LINE_SCHEMA))
