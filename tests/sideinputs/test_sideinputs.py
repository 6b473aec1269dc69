"""Side inputs: Lambda logs, CloudWatch metrics and Lambda configuration, in AWS tools' shapes."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import FUNCTION_SCHEMA, LOG_EVENT_SCHEMA, METRIC_SCHEMA, REPORT_SCHEMA
from tracelens.sideinputs import (
    FunctionInventory,
    LambdaLogs,
    load_functions,
    load_logs,
    load_metrics,
)
from tracelens.sideinputs._common import function_from_file_name, function_from_log_group
from tracelens.sideinputs.metrics import parse_label

FIXTURES = Path(__file__).parent / "fixtures"
LOGS = FIXTURES / "logs"
BAD = FIXTURES / "bad"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def logs_of(*paths: Path | str) -> tuple[LambdaLogs, RejectionLog]:
    rejections = RejectionLog()
    return load_logs(list(paths), rejections=rejections), rejections


def report(logs: LambdaLogs, request_id: str) -> dict[str, Any]:
    rows = logs.reports.filter(pl.col("request_id") == request_id).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def events_of(logs: LambdaLogs, kind: str) -> list[dict[str, Any]]:
    return logs.events.filter(pl.col("kind") == kind).to_dicts()


def reasons(rejections: RejectionLog) -> list[str]:
    return [r.describe() for r in rejections.listed]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- text logs -----------------------------------------------------------------------------


def test_tab_separated_text_with_init_and_xray_inline_and_next_line() -> None:
    logs, rejections = logs_of(LOGS / "checkout.log")
    assert rejections.count == 0
    assert logs.reports.height == 3
    cold = report(logs, "3f1c2a9e-8b7d-4e21-9c3a-5d6e7f8a9b01")
    assert cold == {
        "function_name": "checkout",
        "request_id": "3f1c2a9e-8b7d-4e21-9c3a-5d6e7f8a9b01",
        "timestamp": None,
        "duration_ms": 215.37,
        "billed_duration_ms": 216.0,
        "memory_size_mb": 512,
        "max_memory_used_mb": 88,
        "init_duration_ms": 412.08,
        "restore_duration_ms": None,
        "status": None,
        "trace_id": "1-6741a2b0-0123456789abcdef01234567",
    }
    warm = report(logs, "7a2b3c4d-1e2f-4a5b-8c9d-0e1f2a3b4c5d")
    assert warm["init_duration_ms"] is None
    assert warm["trace_id"] is None
    next_line = report(logs, "9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a")
    assert next_line["trace_id"] == "1-6741a2b5-89abcdef0123456789abcdef"
    assert next_line["duration_ms"] == 20.01
    assert logs.events["kind"].to_list() == ["init_start"] + ["start", "end"] * 3
    assert events_of(logs, "init_start")[0]["message"].startswith("INIT_START Runtime Version")


def test_space_separated_text_with_xray_on_next_line_and_dns_failure() -> None:
    logs, rejections = logs_of(LOGS / "orders.txt")
    assert rejections.count == 0
    cold = report(logs, "1c8df7d3-4b2a-46da-9778-518e6eca8125")
    assert cold["duration_ms"] == 2.75
    assert cold["billed_duration_ms"] == 3.0
    assert cold["memory_size_mb"] == 128
    assert cold["max_memory_used_mb"] == 56
    assert cold["init_duration_ms"] == 113.51
    assert cold["trace_id"] == "1-6741a6ca-474a0e1f7c2534a87870b437"
    warm = report(logs, "8f507cfc-2d1e-4697-b07a-ac58fc914c95")
    assert (warm["init_duration_ms"], warm["trace_id"]) == (None, None)
    [dns] = events_of(logs, "dns_failure")
    assert dns["request_id"] == "1c8df7d3-4b2a-46da-9778-518e6eca8125"
    assert dns["timestamp"] == at("2026-11-20T10:12:58.601")
    assert "Temporary failure in name resolution" in dns["message"]


def test_tail_format_timeouts_and_dns_failures() -> None:
    logs, rejections = logs_of(LOGS / "payments.log")
    assert rejections.count == 0
    first = report(logs, "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9")
    assert first["status"] == "timeout"  # from `Status: timeout`
    assert first["timestamp"] == at("2026-11-20T11:00:03.102")
    assert first["duration_ms"] == 3000.0
    # An older REPORT without Status: the "Task timed out" line names the request.
    second = report(logs, "6a7b8c9d-0e1f-4a2b-83c4-d5e6f7a8b9c0")
    assert second["status"] == "timeout"
    timeouts = events_of(logs, "timeout")
    assert [e["request_id"] for e in timeouts] == [
        "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        "6a7b8c9d-0e1f-4a2b-83c4-d5e6f7a8b9c0",
    ]
    assert timeouts[0]["timestamp"] == at("2026-11-20T11:00:03.101")
    dns = events_of(logs, "dns_failure")
    assert [e["request_id"] for e in dns] == [e["request_id"] for e in timeouts]
    assert "EAI_AGAIN" in dns[0]["message"]
    assert "ENOTFOUND" in dns[1]["message"]


def test_snapstart_restore_duration_and_iso_prefix() -> None:
    logs, rejections = logs_of(LOGS / "snap.log")
    assert rejections.count == 0
    row = report(logs, "0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e")
    assert row["restore_duration_ms"] == 474.16  # not the Billed Restore Duration (199)
    assert row["billed_duration_ms"] == 390.0
    assert row["init_duration_ms"] is None
    assert row["timestamp"] == at("2026-11-20T12:00:00.700")
    [dns] = events_of(logs, "dns_failure")
    assert "UnknownHostException" in dns["message"]
    assert dns["request_id"] == "0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e"


def test_request_id_from_enclosing_start_when_the_line_has_none(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fetch.log",
        "START RequestId: 11111111-2222-4333-8444-555555555555 Version: $LATEST\n"
        "socket.gaierror: [Errno -3] Temporary failure in name resolution\n"
        "END RequestId: 11111111-2222-4333-8444-555555555555\n"
        "socket.gaierror: [Errno -3] Temporary failure in name resolution\n",
    )
    logs, _ = logs_of(path)
    dns = events_of(logs, "dns_failure")
    assert [e["request_id"] for e in dns] == ["11111111-2222-4333-8444-555555555555", None]


def test_java_log4j_line_time_has_a_space_and_no_offset(tmp_path: Path) -> None:
    line = (
        "2026-11-20 09:37:19.302 0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e ERROR ExportHandler - "
        "java.net.UnknownHostException: s3.internal\n"
    )
    logs, _ = logs_of(write(tmp_path, "export.log", line))
    [dns] = events_of(logs, "dns_failure")
    assert dns["timestamp"] == at("2026-11-20T09:37:19.302")


# --- JSON containers -----------------------------------------------------------------------


def test_filter_log_events_with_text_and_json_format_messages() -> None:
    logs, rejections = logs_of(LOGS / "inventory.json")
    assert rejections.count == 0
    text = report(logs, "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a")
    assert text["timestamp"] == at("2026-11-20T09:00:00.090")  # the event's epoch ms
    assert text["init_duration_ms"] == 301.55
    assert text["trace_id"] == "1-6741b0f0-1a2b3c4d5e6f708192a3b4c5"
    assert text["function_name"] == "inventory"  # from the file name
    record = report(logs, "4b5c6d7e-8f9a-4b0c-1d2e-3f4a5b6c7d8e")
    assert record["status"] == "error"  # from platform.runtimeDone
    assert record["trace_id"] == "1-6741b0f1-aabbccddeeff001122334455"
    assert record["memory_size_mb"] == 256
    assert record["timestamp"] == at("2026-11-20T09:00:01.051")
    assert logs.events["kind"].to_list() == ["start", "end", "start"]


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


def test_gzipped_subscription_payload_names_function_from_log_group(tmp_path: Path) -> None:
    path = tmp_path / "export-2026-11-20.json.gz"
    path.write_bytes(gzip.compress((LOGS / "subscription.json").read_bytes()))
    logs, rejections = logs_of(path)
    assert rejections.count == 0
    row = report(logs, "f6a7b8c9-d0e1-4f2a-b3c4-d5e6f7a8b9c0")
    assert row["function_name"] == "notify"
    assert row["duration_ms"] == 32.1
    assert row["timestamp"] == at("2026-11-20T14:00:00.033")


def test_standard_input_has_no_function_name(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (LOGS / "checkout.log").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    logs, rejections = logs_of("-")
    assert rejections.count == 0
    assert logs.reports.height == 3
    assert logs.reports["function_name"].null_count() == 3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("exports/checkout.log", "checkout"),
        ("orders_v2.txt.gz", "orders_v2"),
        ("my-fn.json", "my-fn"),
        ("search.jsonl", "search"),
        ("bad name.log", None),
        ("checkout", None),
        ("checkout.csv", None),
        ("<stdin>", None),
    ],
)
def test_function_name_from_file_name(name: str, expected: str | None) -> None:
    assert function_from_file_name(name) == expected


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("/aws/lambda/checkout", "checkout"),
        ("123456789012:/aws/lambda/search", "search"),
        ("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/notify:*", "notify"),
        ("/aws/lambda/us-east-1.edge-auth", "edge-auth"),
        ("/ecs/web", None),
        (None, None),
    ],
)
def test_function_name_from_log_group(group: str | None, expected: str | None) -> None:
    assert function_from_log_group(group) == expected


# --- refused input -------------------------------------------------------------------------


def test_truncated_json_is_one_rejection_naming_the_file() -> None:
    logs, rejections = logs_of(BAD / "truncated.json")
    assert logs.reports.height == 0
    [rejection] = rejections.listed
    assert rejection.source.endswith("truncated.json")
    assert rejection.position == "line 1"
    assert rejection.reason.startswith("invalid JSON")


def test_bad_json_records_are_refused_one_by_one(tmp_path: Path) -> None:
    good = (
        '{"time":"2026-11-20T13:00:00.421Z","type":"platform.report","record":{"requestId":"ok",'
        '"metrics":{"durationMs":5.5,"billedDurationMs":6,"memorySizeMB":128,"maxMemoryUsedMB":40}}}'
    )
    lines = [
        good,
        good.replace('"ok"', '"nan"').replace("5.5", "NaN"),
        good.replace('"ok"', '"str"').replace("5.5", '"5.5"'),
        good.replace('"ok"', '"frac"').replace('"memorySizeMB":128', '"memorySizeMB":12.5'),
        good.replace('"requestId":"ok",', ""),
        good.replace('"ok"', '"status"').replace("}}}", '},"status":"crashed"}}'),
        good.replace('"ok"', '"time"').replace("2026-11-20T13:00:00.421Z", "yesterday"),
        good[:-20],
        '{"time":"2026-11-20T13:00:00Z","type":"platform.start","record":"not an object"}',
        "[1, 2]",
    ]
    logs, rejections = logs_of(write(tmp_path, "pay.json", "\n".join(lines) + "\n"))
    assert logs.reports["request_id"].to_list() == ["ok"]
    listed = {r.position: r.reason for r in rejections.listed}
    assert rejections.count == 9
    assert "durationMs must be a non-negative number, got NaN" in listed["line 2"]
    assert "durationMs must be a non-negative number, got a string" in listed["line 3"]
    assert "memorySizeMB must be a whole number" in listed["line 4"]
    assert "requestId must be a string, got null" in listed["line 5"]
    assert "status 'crashed'" in listed["line 6"]
    assert "time 'yesterday'" in listed["line 7"]
    assert listed["line 8"].startswith("invalid JSON")
    assert "record must be an object" in listed["line 9"]
    assert listed["line 10"].startswith("not a Lambda log record")
    assert all(r.source.endswith("pay.json") for r in rejections.listed)


def test_published_invalid_json_example_is_refused_cleanly(tmp_path: Path) -> None:
    # The shape of a documented platform.report example, with its trailing comma.
    text = """{
    "time": "2022-10-12T00:01:15.000Z",
    "type": "platform.report",
    "record": {
        "metrics": {"billedDurationMs": 694, "durationMs": 693.92, "maxMemoryUsedMB": 84,
                    "memorySizeMB": 128},
        "requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa",
    }
}
"""
    logs, rejections = logs_of(write(tmp_path, "report.json", text))
    assert logs.reports.height == 0
    assert rejections.count == 1
    assert rejections.listed[0].reason.startswith("invalid JSON: Expecting property name")


def test_concatenated_documents_keep_the_good_ones(tmp_path: Path) -> None:
    invoke = '{\n    "StatusCode": 200,\n    "ExecutedVersion": "$LATEST"\n}\n'
    events = (LOGS / "inventory.json").read_text()
    logs, rejections = logs_of(write(tmp_path, "inventory.txt", invoke + events))
    assert logs.reports.height == 2
    [rejection] = rejections.listed
    assert rejection.position == "line 1"
    assert "not a Lambda log record" in rejection.reason


def test_bad_events_and_bad_report_lines(tmp_path: Path) -> None:
    document = {
        "events": [
            {"timestamp": 1795165200000, "message": 42},
            {"timestamp": "1795165200000", "message": "START RequestId: a Version: 1"},
            "not an event",
            {"timestamp": 1795165200000, "message": "REPORT RequestId: b\tDuration: 1.0 ms"},
            {"timestamp": 1795165200000, "message": "START RequestId: c Version: 1"},
            {"timestamp": 2**70, "message": "START RequestId: d Version: 1"},
            {"timestamp": -1, "message": "START RequestId: e Version: 1"},
        ]
    }
    logs, rejections = logs_of(write(tmp_path, "w.json", json.dumps(document)))
    listed = {r.position: r.reason for r in rejections.listed}
    assert listed["events[0]"] == "invalid event: message must be a string, got a number"
    assert listed["events[1]"].startswith("invalid event: timestamp must be epoch milliseconds")
    assert listed["events[2]"].startswith("invalid event: an event must be an object")
    assert listed["events[3]"] == (
        "invalid REPORT line: lacks Billed Duration, Memory Size, Max Memory Used"
    )
    assert logs.events["request_id"].to_list() == ["c"]
    for position, shown in (("events[5]", float(2**70)), ("events[6]", -1)):
        assert listed[position] == (
            f"invalid event: timestamp must be epoch milliseconds (1970 to 9999), got {shown}"
        )


def test_truncated_and_unknown_status_text_reports(tmp_path: Path) -> None:
    text = (
        "REPORT RequestId: a\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 56 MB\tStatus: exploded\n"
        "REPORT RequestId: b\tDuration: 15.74 ms\tBilled Dur\n"
        "REPORT RequestId: c\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 56 MB\tStatus: error\tError Type: Runtime.ExitError\n"
    )
    logs, rejections = logs_of(write(tmp_path, "f.log", text))
    assert logs.reports.select("request_id", "status").rows() == [("c", "error")]
    listed = {r.position: r.reason for r in rejections.listed}
    assert listed == {
        "line 1": "invalid REPORT line: unknown Status exploded",
        "line 2": "invalid REPORT line: lacks Billed Duration, Memory Size, Max Memory Used",
    }


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("durations.csv", b"function,duration_ms\ncheckout,12.5\n", "no Lambda log lines"),
        ("blob.bin", b"\x81\xfe\x00\xffbinary", "not UTF-8 text"),
        ("thing.json", b'{"hello": "world"}', "JSON of no known log shape"),
        ("page.json", (FIXTURES / "metrics" / "page1.json").read_bytes(), "--metrics"),
    ],
)
def test_unknown_log_format_is_one_rejection(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    logs, rejections = logs_of(path)
    assert logs.reports.height == logs.events.height == 0
    [rejection] = rejections.listed
    assert rejection.source == str(path)
    assert rejection.reason.startswith("unknown format: ")
    assert says in rejection.reason
    assert "accepted formats: Lambda text log lines" in rejection.reason


def test_same_records_read_twice_are_kept_once(tmp_path: Path) -> None:
    copy = tmp_path / "inventory.json"
    shutil.copy(LOGS / "inventory.json", copy)
    logs, rejections = logs_of(LOGS / "inventory.json", copy)
    assert logs.reports.height == 2
    assert logs.events.height == 3
    assert rejections.count == 5
    assert all(r.source == str(copy) for r in rejections.listed)
    assert rejections.reasons["duplicate REPORT"] == 2


def test_empty_inputs_have_exact_schemas(tmp_path: Path) -> None:
    empty = write(tmp_path, "empty.log", "")
    logs, rejections = logs_of(empty)
    assert rejections.count == 0
    assert logs.reports.schema == pl.Schema(REPORT_SCHEMA)
    assert logs.events.schema == pl.Schema(LOG_EVENT_SCHEMA)
    assert load_metrics([empty], rejections=rejections).schema == pl.Schema(METRIC_SCHEMA)
    inventory = load_functions([empty], rejections=rejections)
    assert inventory.functions.schema == pl.Schema(FUNCTION_SCHEMA)
    assert inventory.functions.height == 0
    assert inventory.account_concurrency_limit is None


@pytest.mark.parametrize("path", sorted(LOGS.iterdir()), ids=lambda p: p.name)
def test_every_log_fixture_conforms_to_the_catalog(path: Path) -> None:
    logs, _ = logs_of(path)
    assert logs.reports.schema == pl.Schema(REPORT_SCHEMA)
    assert logs.events.schema == pl.Schema(LOG_EVENT_SCHEMA)
    assert logs.reports.height + logs.events.height > 0


def _large_log(invocations: int) -> str:
    lines = []
    for i in range(invocations):
        request_id = str(uuid.UUID(int=i))
        lines += [
            f"2026-11-20T09:00:00.000Z START RequestId: {request_id} Version: $LATEST",
            f"2026-11-20T09:00:00.001Z\t{request_id}\tINFO\titem {i}",
            f"2026-11-20T09:00:00.002Z\t{request_id}\tINFO\tdone {i}",
            f"2026-11-20T09:00:00.003Z END RequestId: {request_id}",
            f"2026-11-20T09:00:00.003Z REPORT RequestId: {request_id}\tDuration: 1.50 ms\t"
            "Billed Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_large_text_log_is_parsed_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "big.log", _large_log(40_000))  # 200,000 lines
    logs, rejections = logs_of(path)
    assert rejections.count == 0
    assert logs.reports.height == 40_000
    assert logs.events.height == 80_000
    # Its speed is held by benchmarks/bench_components.py (text-logs).


# --- metrics -------------------------------------------------------------------------------


def metrics_of(*paths: Path) -> tuple[pl.DataFrame, RejectionLog]:
    rejections = RejectionLog()
    return load_metrics(list(paths), rejections=rejections), rejections


def test_metric_pages_with_function_and_account_labels() -> None:
    frame, rejections = metrics_of(FIXTURES / "metrics")
    assert frame.schema == pl.Schema(METRIC_SCHEMA)
    assert frame.height == 9
    checkout = frame.filter(
        pl.col("function_name") == "checkout", pl.col("metric") == "Invocations"
    )
    assert checkout.sort("timestamp")["value"].to_list() == [101.0, 98.0, 120.0]
    account = frame.filter(pl.col("function_name").is_null())
    assert account.select("metric", "stat").unique().rows() == [("ConcurrentExecutions", "Maximum")]
    assert account.sort("timestamp")["value"].to_list() == [612.0, 940.0]
    p95 = frame.filter(pl.col("stat") == "p95").sort("timestamp")
    assert p95["value"].to_list() == [640.5, 812.44]
    assert p95["timestamp"].to_list() == [at("2026-11-20T09:00:00"), at("2026-11-20T09:01:00")]
    # Partial data is kept (both pages of the orders query) and noted.
    throttles = frame.filter(pl.col("function_name") == "orders")
    assert throttles["value"].sum() == 10.0
    assert rejections.reasons["incomplete result"] == 2
    assert rejections.reasons["result refused"] == 2
    listed = {(Path(r.source).name, r.position): r.reason for r in rejections.listed}
    default = listed[("page2.json", "MetricDataResults[1]")]
    assert "Id 'm1'" in default
    assert "CloudWatch's default" in default
    assert "'<FunctionName> <MetricName> <Stat>'" in default
    assert "Id 'thr_orders'" in listed[("page1.json", "MetricDataResults[3]")]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("checkout Duration p99", ("checkout", "Duration", "p99")),
        (
            "(account) ClaimedAccountConcurrency Maximum",
            (None, "ClaimedAccountConcurrency", "Maximum"),
        ),
        ("  orders   Errors  Sum ", ("orders", "Errors", "Sum")),
    ],
)
def test_label_convention(label: str, expected: tuple[str | None, str, str]) -> None:
    assert parse_label(label) == expected


@pytest.mark.parametrize(
    "label", ["Invocations", "checkout Duration", "a b c d", "bad/fn X Sum", 7]
)
def test_labels_off_convention_are_refused(label: object) -> None:
    assert isinstance(parse_label(label), str)


def test_bad_datapoints_are_refused_one_by_one(tmp_path: Path) -> None:
    page = """{"MetricDataResults": [
      {"Id": "a", "Label": "checkout Errors Sum",
       "Timestamps": ["2026-11-20T09:00:00+00:00", "2026-11-20T09:01:00+00:00",
                      "2026-11-20T09:02:00+00:00", "never"],
       "Values": [1.0, NaN, "3", 4.0], "StatusCode": "Complete"},
      {"Id": "b", "Label": "checkout Errors Sum", "Timestamps": ["2026-11-20T09:03:00Z"],
       "Values": [], "StatusCode": "Complete"},
      {"Id": "c", "Label": "checkout Errors Sum", "Timestamps": ["2026-11-20T09:00:00Z"],
       "Values": [9.0], "StatusCode": "Complete"},
      {"Id": "d", "Label": "checkout Throttles Sum",
       "Timestamps": [1e300, -5, 1795165200, 1795165260], "Values": [1, 1, 1.2e21, 2],
       "StatusCode": "Complete"}
    ], "Messages": true}"""
    frame, rejections = metrics_of(write(tmp_path, "errors.json", page))
    assert frame.rows() == [
        ("checkout", "Errors", "Sum", at("2026-11-20T09:00:00"), 1.0),
        ("checkout", "Throttles", "Sum", at("2026-11-20T09:01:00"), 2.0),
    ]
    listed = {r.position: r.reason for r in rejections.listed}
    assert listed == {
        "Messages": "incomplete result: Messages must be an array, got a boolean",
        "MetricDataResults[3].Values[0]": (
            "datapoint refused: timestamp 1e+300 is outside the years 1970 to 9999"
        ),
        "MetricDataResults[3].Values[1]": (
            "datapoint refused: timestamp -5 is outside the years 1970 to 9999"
        ),
        "MetricDataResults[3].Values[2]": (
            "datapoint refused: value 1.2e+21 is beyond any AWS/Lambda metric (over 2**53)"
        ),
        "MetricDataResults[0].Values[1]": ("datapoint refused: value is NaN, not a finite number"),
        "MetricDataResults[0].Values[2]": (
            "datapoint refused: value is a string, not a finite number"
        ),
        "MetricDataResults[0].Values[3]": (
            "datapoint refused: timestamp 'never' is not an ISO 8601 time"
        ),
        "MetricDataResults[1]": ("result refused: Id 'b': Timestamps and Values differ in length"),
        "MetricDataResults[2].Values[0]": "duplicate datapoint: already read",
    }


def test_concatenated_metric_pages_and_unknown_metric_files(tmp_path: Path) -> None:
    page = (FIXTURES / "metrics" / "page1.json").read_text()
    frame, rejections = metrics_of(write(tmp_path, "pages.json", page + "\n" + page))
    assert frame.height == 8
    assert rejections.reasons["duplicate datapoint"] == 8
    frame, rejections = metrics_of(BAD / "durations.csv", LOGS / "inventory.json")
    assert frame.height == 0
    assert frame.schema == pl.Schema(METRIC_SCHEMA)
    first, second = rejections.listed
    assert first.reason.startswith("unknown format: not JSON; accepted formats: `aws cloudwatch")
    assert "pass it with --logs" in second.reason


# --- functions -----------------------------------------------------------------------------


def functions_of(*paths: Path) -> tuple[FunctionInventory, RejectionLog]:
    rejections = RejectionLog()
    return load_functions(list(paths), rejections=rejections), rejections


def test_function_inventory_from_every_configuration_output() -> None:
    inventory, rejections = functions_of(FIXTURES / "functions")
    assert rejections.count == 0
    assert inventory.functions.schema == pl.Schema(FUNCTION_SCHEMA)
    assert inventory.account_concurrency_limit == 1000
    assert inventory.unreserved_concurrency_limit == 950
    rows = {row["function_name"]: row for row in inventory.functions.to_dicts()}
    assert list(rows) == ["checkout", "orders", "payments", "snap"]
    assert rows["checkout"] == {
        "function_name": "checkout",
        "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:checkout",
        "runtime": "nodejs20.x",
        "memory_size_mb": 512,
        "timeout_s": 15,
        "architecture": "arm64",
        "code_size_bytes": 5797206,
        "vpc_attached": True,
        "vpc_id": "vpc-0a1b2c3d4e5f60718",
        "snapstart": False,
        "reserved_concurrency": 50,
        "provisioned_concurrency": 24,  # 20 (live) + 4 allocated (canary)
    }
    assert (rows["orders"]["vpc_attached"], rows["orders"]["vpc_id"]) == (False, None)
    assert (rows["payments"]["vpc_attached"], rows["payments"]["vpc_id"]) == (False, None)
    assert rows["snap"]["snapstart"] is True
    assert rows["orders"]["reserved_concurrency"] is None
    assert rows["orders"]["provisioned_concurrency"] is None


def test_get_function_concurrency_cannot_be_attributed() -> None:
    inventory, rejections = functions_of(BAD / "get-function-concurrency.json")
    assert inventory.functions.height == 0
    [rejection] = rejections.listed
    assert rejection.position == "whole file"
    assert "names no function" in rejection.reason
    assert "aws lambda get-function" in rejection.reason


def test_bad_configuration_entries_are_refused_one_by_one(tmp_path: Path) -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:"
    listing = {
        "Functions": [
            {"FunctionName": "good", "FunctionArn": arn + "good", "MemorySize": 128, "Timeout": 3},
            {"FunctionName": "bad", "FunctionArn": arn + "bad", "MemorySize": "128"},
            {"FunctionName": "good", "FunctionArn": arn.replace("eu-west-1", "us-east-1") + "good"},
            {"FunctionName": "good", "FunctionArn": arn + "good:3", "Version": "3", "Timeout": 9},
            {"FunctionName": "vpc", "FunctionArn": arn + "vpc", "VpcConfig": {"SubnetIds": "x"}},
        ]
    }
    provisioned = {
        "ProvisionedConcurrencyConfigs": [
            {"FunctionArn": arn + "warm:live", "AllocatedProvisionedConcurrentExecutions": 5},
            {"FunctionArn": "not-an-arn", "AllocatedProvisionedConcurrentExecutions": 5},
            {"FunctionArn": arn + "warm:blue", "AllocatedProvisionedConcurrentExecutions": -1},
        ]
    }
    account = {"AccountLimit": {"ConcurrentExecutions": "lots"}}
    text = "\n".join(json.dumps(d, indent=2) for d in (listing, provisioned, account))
    inventory, rejections = functions_of(write(tmp_path, "lambda.json", text))
    rows = {row["function_name"]: row for row in inventory.functions.to_dicts()}
    assert list(rows) == ["good", "warm"]
    assert rows["good"]["timeout_s"] == 3  # $LATEST wins over version 3
    assert rows["warm"]["provisioned_concurrency"] == 5
    assert rows["warm"]["function_arn"] == arn + "warm"
    assert rows["warm"]["vpc_attached"] is None  # configuration unknown
    assert inventory.account_concurrency_limit is None
    listed = {r.position: r.reason for r in rejections.listed}
    assert listed["line 1: Functions[1]"] == (
        "invalid function configuration: MemorySize must be a non-negative integer, got a string"
    )
    assert "already read with ARN" in listed["line 1: Functions[2]"]
    assert "SubnetIds must be an array" in listed["line 1: Functions[4]"]
    assert "is not a Lambda function ARN" in listed["line 33: ProvisionedConcurrencyConfigs[1]"]
    assert "non-negative" in listed["line 33: ProvisionedConcurrencyConfigs[2]"]
    assert listed["line 49: AccountLimit"].startswith("invalid account settings: ConcurrentExec")
    assert rejections.count == 6


def test_unknown_function_files_are_one_rejection_each() -> None:
    inventory, rejections = functions_of(BAD / "durations.csv", FIXTURES / "metrics" / "page1.json")
    assert inventory.functions.schema == pl.Schema(FUNCTION_SCHEMA)
    first, second = rejections.listed
    assert first.reason.startswith("unknown format: not JSON; accepted formats: `aws lambda")
    assert "pass it with --metrics" in second.reason


@pytest.mark.parametrize(
    "first_line",
    [
        "[INFO]\t2026-11-20T10:12:58.534Z\t1c8df7d3-4b2a-46da-9778-518e6eca8125\tstarting",
        '{"level":"INFO","message":"cold start","service":"orders"}',
        '{"time":"2026-11-20T10:12:58.500Z","type":"platform.initStart","record":{}}',
    ],
)
def test_text_logs_starting_like_json_are_read_as_text(tmp_path: Path, first_line: str) -> None:
    text = first_line + "\n" + (LOGS / "orders.txt").read_text()
    logs, rejections = logs_of(write(tmp_path, "orders.log", text))
    assert rejections.count == 0
    assert logs.reports.height == 2
    assert report(logs, "1c8df7d3-4b2a-46da-9778-518e6eca8125")["function_name"] == "orders"
    assert len(events_of(logs, "init_start")) == ("platform.initStart" in first_line)


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


def test_side_inputs_saved_as_utf16_by_windows_tools_read_the_same(tmp_path: Path) -> None:
    # Windows PowerShell's `aws ... > file` writes UTF-16 with a byte order mark.
    samples = Path(__file__).resolve().parents[2] / "sample_traces"
    for kind in ("functions", "logs", "metrics"):
        (tmp_path / kind).mkdir()
        for path in (samples / kind).iterdir():
            (tmp_path / kind / path.name).write_bytes(path.read_text().encode("utf-16"))

    def loaded(root: Path) -> tuple[Any, ...]:
        log = RejectionLog()
        logs = load_logs([root / "logs"], rejections=log)
        metrics = load_metrics([root / "metrics"], rejections=log)
        functions = load_functions([root / "functions"], rejections=log)
        assert log.count == 0, log.listed
        return logs.reports, logs.events, metrics, functions.functions

    for ours, windows in zip(loaded(samples), loaded(tmp_path), strict=True):
        assert windows.height > 0 and windows.equals(ours)


def test_a_damaged_gzip_side_input_is_refused_and_the_others_are_read(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[2] / "sample_traces"
    for kind in ("functions", "logs", "metrics"):
        shutil.copytree(samples / kind, tmp_path / kind)
        packed = gzip.compress(next((samples / kind).iterdir()).read_bytes())
        (tmp_path / kind / "z-cut.gz").write_bytes(packed[: len(packed) // 2])
    log = RejectionLog()
    logs = load_logs([tmp_path / "logs"], rejections=log)
    metrics = load_metrics([tmp_path / "metrics"], rejections=log)
    functions = load_functions([tmp_path / "functions"], rejections=log)
    assert [(r.source, r.position) for r in log.listed] == [
        (str(tmp_path / kind / "z-cut.gz"), "whole file")
        for kind in ("logs", "metrics", "functions")
    ]
    assert all(r.reason.startswith("unreadable gzip: ") for r in log.listed)
    whole = RejectionLog()
    assert logs.reports.equals(load_logs([samples / "logs"], rejections=whole).reports)
    assert metrics.equals(load_metrics([samples / "metrics"], rejections=whole))
    assert functions.functions.equals(
        load_functions([samples / "functions"], rejections=whole).functions
    )
