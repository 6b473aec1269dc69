"""Side inputs: Logs Insights GetQueryResults pages (discovered fields, @log, epoch-millisecond times)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.builders.sideinputs import (
    LOGS,
    at,
    events_of,
    logs_of,
    reasons,
    report,
    write,
)


def test_logs_insights_uses_discovered_fields_and_log_group() -> None:
    logs, rejections = logs_of(LOGS / "insights.json")
    assert rejections.count == 0
    cold = report(logs, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    assert cold["function_name"] == "search"
    assert cold["timestamp"] == at("2026-11-20T14:00:00.260")
    assert cold["memory_size_mb"] == 1024  # @memorySize is in bytes
    assert cold["max_memory_used_mb"] == 201
    assert cold["init_duration_ms"] == 640.92
    assert cold["trace_id"] == "1-6741e8a0-5f4e3d2c1b0a998877665544"
    # A row with the discovered fields only (no @message); memory in binary megabytes.
    fields_only = report(logs, "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e")
    assert fields_only["duration_ms"] == 12.5
    assert fields_only["billed_duration_ms"] == 13.0
    assert fields_only["memory_size_mb"] == 1024
    assert fields_only["max_memory_used_mb"] == 201
    assert [e["kind"] for e in logs.events.to_dicts()] == ["start", "dns_failure"]
    assert events_of(logs, "dns_failure")[0]["function_name"] == "search"


def test_logs_insights_discovered_fields_win_over_message(tmp_path: Path) -> None:
    row = [
        {
            "field": "@message",
            "value": "REPORT RequestId: r-1\tDuration: 1.00 ms\tBilled "
            "Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB",
        },
        {"field": "@requestId", "value": "r-1"},
        {"field": "@duration", "value": "2.5"},
    ]
    bad_row = [{"field": "avg(@duration)", "value": "12.1"}]
    document = {"results": [row, bad_row], "status": "Running"}
    logs, rejections = logs_of(write(tmp_path, "q.json", json.dumps(document)))
    assert report(logs, "r-1")["duration_ms"] == 2.5
    assert report(logs, "r-1")["function_name"] == "q"
    text = reasons(rejections)
    assert any("(status): incomplete query: status 'Running'" in r for r in text)
    assert any("(results[1]): invalid result row: row has neither @message" in r for r in text)


def test_insights_timestamp_as_epoch_milliseconds_is_read() -> None:
    # Some AWS-compatible endpoints print @timestamp as epoch milliseconds.
    from tracelens.sideinputs.insights import _insights_time

    times = _insights_time(pl.Series("t", ["2026-11-20 09:00:01.123", "1795165201123", "junk"]))
    assert times.to_list()[0] == times.to_list()[1]
    assert times.to_list()[2] is None


def test_insights_epoch_milliseconds_out_of_range_are_not_times() -> None:
    from tracelens.sideinputs.insights import _insights_time

    times = _insights_time(pl.Series("t", ["99999999999999999", "-5", "1795165201123"]))
    assert times.to_list()[:2] == [None, None] and times.to_list()[2] is not None
