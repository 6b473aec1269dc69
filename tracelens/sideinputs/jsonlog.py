"""Lambda JSON log format and Telemetry/Logs API records: ``{"time", "type", "record"}``.

``platform.report`` gives a REPORT row; ``platform.start``/``platform.end``/``platform.initStart``
give events; ``platform.runtimeDone`` gives the invocation's status (and a timeout event). Other
``platform.*`` records (``initReport``, ``restoreReport``, ``logsDropped``, ...) are valid but carry
nothing tracelens keeps. Function and application records are not handled here: they are text to
scan like any log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracelens.sideinputs._common import describe_json, is_number, iso_to_datetime

_STATUSES = {"success": "success", "error": "error", "failure": "error", "timeout": "timeout"}
_EVENT_TYPES = {
    "platform.start": "start",
    "platform.end": "end",
    "platform.initStart": "init_start",
}


@dataclass(frozen=True)
class JsonRecord:
    """One JSON log record and what its carrier knows (event time, log group's function)."""

    position: str
    value: dict[str, Any]
    function_name: str | None
    timestamp: datetime | None = None


@dataclass
class JsonRows:
    """Rows built from platform records (dicts keyed like the catalog) and refused records."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


class _BadRecordError(ValueError):
    """A record refused with a reason naming the field."""


def is_platform_record(value: object) -> bool:
    return isinstance(value, dict) and str(value.get("type", "")).startswith("platform.")


def is_log_record(value: object) -> bool:
    """A Lambda JSON-format record: platform/function/extension, or an application log line."""
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("type"), str) and "record" in value:
        return True
    return isinstance(value.get("message"), str) and ("level" in value or "timestamp" in value)


def _number(metrics: dict[str, Any], key: str, *, required: bool) -> float | None:
    value = metrics.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int | float) and is_number(value) and value >= 0:
        return float(value)
    raise _BadRecordError(
        f"record.metrics.{key} must be a non-negative number, got {describe_json(value)}"
    )


def _whole_mb(metrics: dict[str, Any], key: str) -> int:
    value = _number(metrics, key, required=True)
    if value is None or not value.is_integer():
        raise _BadRecordError(f"record.metrics.{key} must be a whole number of MB")
    return int(value)


def _request_id(record: dict[str, Any], *, required: bool) -> str | None:
    value = record.get("requestId")
    if isinstance(value, str) and value:
        return value
    if value is None and not required:
        return None
    raise _BadRecordError(f"record.requestId must be a string, got {describe_json(value)}")


def _status(record: dict[str, Any]) -> str | None:
    value = record.get("status")
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in _STATUSES:
        raise _BadRecordError(f"record.status {value!r} is not success, error, failure or timeout")
    return _STATUSES[value.lower()]


def _trace_id(record: dict[str, Any]) -> str | None:
    tracing = record.get("tracing")
    if not isinstance(tracing, dict) or not isinstance(tracing.get("value"), str):
        return None
    header: str = tracing["value"]
    for part in header.split(";"):
        key, _, value = part.partition("=")
        if key.strip() == "Root" and value:
            return value.strip()
    return None


def _report_row(record: dict[str, Any]) -> dict[str, Any]:
    metrics = record.get("metrics")
    if not isinstance(metrics, dict):
        raise _BadRecordError(f"record.metrics must be an object, got {describe_json(metrics)}")
    return {
        "request_id": _request_id(record, required=True),
        "duration_ms": _number(metrics, "durationMs", required=True),
        "billed_duration_ms": _number(metrics, "billedDurationMs", required=True),
        "memory_size_mb": _whole_mb(metrics, "memorySizeMB"),
        "max_memory_used_mb": _whole_mb(metrics, "maxMemoryUsedMB"),
        "init_duration_ms": _number(metrics, "initDurationMs", required=False),
        "restore_duration_ms": _number(metrics, "restoreDurationMs", required=False),
        "status": _status(record),
        "trace_id": _trace_id(record),
    }


def _timestamp(item: JsonRecord) -> datetime | None:
    value = item.value.get("time")
    if value is None:
        return item.timestamp
    parsed = iso_to_datetime(value)
    if parsed is None:
        raise _BadRecordError(f"time {value!r} is not an ISO 8601 timestamp")
    return parsed


def _add_record(item: JsonRecord, message: str, rows: JsonRows) -> None:
    kind = item.value["type"]
    record = item.value.get("record")
    handled = kind in _EVENT_TYPES or kind in ("platform.report", "platform.runtimeDone")
    if not handled:
        return
    if not isinstance(record, dict):
        raise _BadRecordError(f"record must be an object, got {describe_json(record)}")
    base = {
        "function_name": item.function_name,
        "timestamp": _timestamp(item),
        "_position": item.position,
    }
    if kind == "platform.report":
        rows.reports.append({**base, **_report_row(record)})
    elif kind == "platform.runtimeDone":
        request_id, status = _request_id(record, required=True), _status(record)
        if status is not None:
            rows.statuses.append({"request_id": request_id, "status": status})
        if status == "timeout":
            event = {"kind": "timeout", "request_id": request_id, "message": message}
            rows.events.append({**base, **event})
    else:
        required = kind != "platform.initStart"
        request_id = _request_id(record, required=required)
        rows.events.append(
            {**base, "kind": _EVENT_TYPES[kind], "request_id": request_id, "message": message}
        )


def platform_rows(items: list[tuple[JsonRecord, str]]) -> JsonRows:
    """Rows from ``(record, message text)`` pairs of ``platform.*`` records."""
    rows = JsonRows()
    for item, message in items:
        try:
            _add_record(item, message, rows)
        except _BadRecordError as exc:
            rows.invalid.append((item.position, f"invalid {item.value['type']} record: {exc}"))
    return rows
