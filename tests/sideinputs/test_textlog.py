"""Side inputs: Lambda text log lines (START/END/REPORT/INIT_START/XRAY, tabs or spaces, tail prefixes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders.sideinputs import (
    LOGS,
    at,
    events_of,
    logs_of,
    report,
    write,
)
from tracelens.samples.bulk import bulk_log_text


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


@pytest.mark.slow
def test_large_text_log_is_parsed_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "big.log", bulk_log_text(40_000))  # 200,000 lines
    logs, rejections = logs_of(path)
    assert rejections.count == 0
    assert logs.reports.height == 40_000
    assert logs.events.height == 80_000


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
