"""Side inputs: Lambda JSON-format log records (platform.report, platform.restoreReport, ...)."""

from __future__ import annotations

from tests.builders.sideinputs import (
    LOGS,
    at,
    events_of,
    logs_of,
    report,
)


def test_json_log_format_lines() -> None:
    logs, rejections = logs_of(LOGS / "billing.json")
    assert rejections.count == 0
    cold = report(logs, "c0d1e2f3-a4b5-4c6d-8e7f-901a2b3c4d5e")
    assert cold == {
        "function_name": "billing",
        "request_id": "c0d1e2f3-a4b5-4c6d-8e7f-901a2b3c4d5e",
        "timestamp": at("2026-11-20T13:00:00.421"),
        "duration_ms": 69.74,
        "billed_duration_ms": 70.0,
        "memory_size_mb": 256,
        "max_memory_used_mb": 81,
        "init_duration_ms": 350.12,
        "restore_duration_ms": None,
        "status": "success",
        "trace_id": "1-6741d3c0-0f1e2d3c4b5a69788796a5b4",
    }
    assert report(logs, "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6")["status"] == "timeout"
    [timeout] = events_of(logs, "timeout")
    assert timeout["request_id"] == "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6"
    [dns] = events_of(logs, "dns_failure")
    assert dns["request_id"] == "c0d1e2f3-a4b5-4c6d-8e7f-901a2b3c4d5e"
    assert dns["timestamp"] == at("2026-11-20T13:00:00.400")
    assert len(events_of(logs, "init_start")) == 1
    assert len(events_of(logs, "start")) == 2


def test_json_log_records_as_an_array_with_snapstart() -> None:
    logs, rejections = logs_of(LOGS / "shipping.json")
    assert rejections.count == 0
    row = report(logs, "e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9")
    assert row["restore_duration_ms"] == 480.25
    assert row["status"] == "error"
    [dns] = events_of(logs, "dns_failure")
    assert "ENOTFOUND" in dns["message"]
    assert dns["request_id"] == "e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9"
