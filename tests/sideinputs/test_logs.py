"""Side inputs: Lambda log containers (filter-log-events, subscriptions, stdin), refused input, and what every side input shares."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.builders.sideinputs import (
    BAD,
    FIXTURES,
    LOGS,
    at,
    logs_of,
    report,
    write,
)
from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import FUNCTION_SCHEMA, LOG_EVENT_SCHEMA, METRIC_SCHEMA, REPORT_SCHEMA
from tracelens.sideinputs import (
    load_functions,
    load_logs,
    load_metrics,
)


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
            f"invalid event: timestamp must be epoch milliseconds inside [2000-01-01, 2100-01-01) UTC, got {shown}"
        )


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
    # A text log is read a line at a time: the lines before the cut are kept, as for traces.
    assert [(r.source, r.position) for r in log.listed] == [
        (str(tmp_path / "logs" / "z-cut.gz"), "line 280"),
        *((str(tmp_path / kind / "z-cut.gz"), "whole file") for kind in ("metrics", "functions")),
    ]
    assert all(r.reason.startswith("unreadable gzip: ") for r in log.listed)
    whole = RejectionLog()
    reports = load_logs([samples / "logs"], rejections=whole).reports
    assert logs.reports.height > reports.height  # and the REPORTs before the cut (read last)
    assert logs.reports.head(reports.height).equals(reports)
    assert metrics.equals(load_metrics([samples / "metrics"], rejections=whole))
    assert functions.functions.equals(
        load_functions([samples / "functions"], rejections=whole).functions
    )
