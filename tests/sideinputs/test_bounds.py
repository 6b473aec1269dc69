"""Side inputs (--logs, --metrics, --functions) have the bounds trace inputs have (README "Bad
input"): streamed, one JSON value and one line capped, refused with their position."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import orjson
import polars as pl
import pytest

from tracelens.ingest.opening import file_parts, streams
from tracelens.ingest.rejections import RejectionLog
from tracelens.limits import (
    MAX_STRING_CHARS,
    MAX_VALUE_BYTES,
    OVERSIZE_LINE,
    OVERSIZE_VALUE,
    TIME_RANGE,
)
from tracelens.sideinputs import load_functions, load_logs, load_metrics

ROOT = Path(__file__).resolve().parents[2]
TRACE = "1-6b000c2d-6e84cbfa40cc32d0bf90ec13"


def invocation(n: int) -> bytes:
    request = f"{n:08x}-4eb6-4f84-986f-e26066d4230d"
    return (
        f"START RequestId: {request} Version: $LATEST\n"
        f"[INFO]\t2026-11-20T09:00:30.966Z\t{request}\tscore 0.07\n"
        f"END RequestId: {request}\n"
        f"REPORT RequestId: {request}\tDuration: 18.87 ms\tBilled Duration: 19 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 93 MB\t\n"
        f"XRAY TraceId: {TRACE}\tSegmentId: 5d209865b95868ec\tSampled: true\t\n"
    ).encode()


@pytest.fixture
def small_values(monkeypatch: pytest.MonkeyPatch) -> int:
    """Values and lines of at most 2,000 bytes, pieces of 4,000 (the real caps: limits.py)."""
    monkeypatch.setattr(streams, "MAX_VALUE_BYTES", 2_000)
    monkeypatch.setattr(file_parts, "HEAD_BYTES", 500)
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 4_000)
    return 2_000


def test_a_huge_line_in_a_gzip_text_log_is_refused_and_the_rest_read(
    tmp_path: Path, small_values: int
) -> None:
    # A gzip "bomb": a few kilobytes holding a line of blanks far over the cap.
    text = invocation(1) + b" " * 10**6 + b"\n" + invocation(2)
    path = tmp_path / "orders-create.log.gz"
    path.write_bytes(gzip.compress(text))
    log = RejectionLog()
    logs = load_logs([path], rejections=log)
    assert logs.reports["request_id"].str.slice(0, 8).to_list() == [f"{1:08x}", f"{2:08x}"]
    assert logs.reports["trace_id"].to_list() == [TRACE, TRACE]
    assert [(r.position, r.reason) for r in log.listed] == [("line 6", OVERSIZE_LINE)]


def test_a_text_log_is_read_a_piece_at_a_time_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = b"".join(invocation(n) for n in range(200)) + b"not a log line\n" * 3
    text += b"".join(invocation(n) for n in range(200, 300))
    path = tmp_path / "orders-create.log"
    path.write_bytes(text)
    whole_log = RejectionLog()
    whole = load_logs([path], rejections=whole_log)
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 4_000)
    pieces = list(streams.side_sources([path], RejectionLog()))
    assert len(pieces) > 10
    assert all(piece.data.startswith(b"START RequestId:") for piece in pieces)
    assert b"".join(piece.data for piece in pieces) == text
    log = RejectionLog()
    logs = load_logs([path], rejections=log)
    assert logs.reports.height == 300 and logs.reports.equals(whole.reports)
    assert logs.events.equals(whole.events)
    assert logs.reports["trace_id"].null_count() == 0
    assert log.listed == whole_log.listed


def test_a_text_log_of_no_known_lines_read_in_pieces_is_refused_once(
    tmp_path: Path, small_values: int
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"a note\n" * 5_000)
    log = RejectionLog()
    load_logs([path], rejections=log)
    assert [r.position for r in log.listed] == ["whole file"]


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_json_side_inputs_over_the_value_cap_are_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_values: int, packed: bool
) -> None:
    metrics = (ROOT / "sample_traces" / "metrics").iterdir()
    page = next(metrics).read_bytes()
    assert len(page) > small_values
    text = page + b" " * 10**7
    endless = io.BytesIO(gzip.compress(text) if packed else text)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(endless))
    log = RejectionLog()
    assert load_metrics(["-"], rejections=log).height == 0
    assert [(r.source, r.position, r.reason) for r in log.listed] == [
        ("<stdin>", "whole file", OVERSIZE_VALUE)
    ]
    if not packed:
        assert endless.tell() < 3 * 2**20, "reading stops a read step (1 MiB) after the cap"
    functions = tmp_path / "list-functions.json.gz"
    functions.write_bytes(
        gzip.compress(
            (ROOT / "sample_traces/functions/list-functions.json").read_bytes() + b" " * 10**6
        )
    )
    log = RejectionLog()
    assert load_functions([functions], rejections=log).functions.height == 0
    assert [r.reason for r in log.listed] == [OVERSIZE_VALUE]


def test_json_lines_side_inputs_keep_their_line_numbers_in_pieces(
    tmp_path: Path, small_values: int
) -> None:
    record = {"time": "2026-11-20T09:00:30.966Z", "type": "function", "record": "x"}
    lines = [orjson.dumps(record)] * 300
    lines[250] = b"{broken"
    path = tmp_path / "orders-get.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    log = RejectionLog()
    load_logs([path], rejections=log)
    assert [r.position for r in log.listed] == ["line 251"]


# 1990 and 2150: valid for the old side-input bound [1970, 9999], outside the traces' range.
OUTSIDE = (("1990-01-01T00:00:00Z", 631_152_000), ("2150-01-01T00:00:00Z", 5_680_281_600))


def test_log_times_outside_the_one_valid_range_are_refused(tmp_path: Path) -> None:
    inside = invocation(9).decode()
    lines = [f"{iso} {line}" for iso, _ in OUTSIDE for line in invocation(1).decode().splitlines()]
    (tmp_path / "orders-create.log").write_text(inside + "\n".join(lines[:4]) + "\n")
    events = {
        "logGroup": "/aws/lambda/orders-get",
        "logEvents": [
            {"id": "1", "timestamp": seconds * 1000, "message": "START RequestId: r1"}
            for _, seconds in OUTSIDE
        ],
    }
    (tmp_path / "events.json").write_bytes(orjson.dumps(events))
    record = {
        "time": OUTSIDE[1][0],
        "type": "platform.start",
        "record": {"requestId": "r2", "version": "$LATEST"},
    }
    (tmp_path / "orders-get.jsonl").write_bytes(orjson.dumps(record) + b"\n")
    log = RejectionLog()
    logs = load_logs([tmp_path], rejections=log)
    assert logs.reports["request_id"].to_list() == [f"{9:08x}-4eb6-4f84-986f-e26066d4230d"]
    assert logs.events.filter(pl.col("timestamp").is_not_null()).height == 0
    reasons = sorted((Path(r.source).name, r.position, r.reason) for r in log.listed)
    assert [(name, position) for name, position, _ in reasons] == [
        ("events.json", "logEvents[0]"),
        ("events.json", "logEvents[1]"),
        ("orders-create.log", "line 6"),  # START
        ("orders-create.log", "line 8"),  # END
        ("orders-create.log", "line 9"),  # REPORT
        ("orders-get.jsonl", "line 1"),
    ]
    assert all("[2000-01-01, 2100-01-01) UTC" in reason for *_, reason in reasons)


def test_metric_times_outside_the_one_valid_range_are_refused(tmp_path: Path) -> None:
    stamps = [OUTSIDE[0][1], OUTSIDE[1][0], "2026-11-20T09:59:00+00:00"]
    result = {"Id": "m", "Label": "orders-create Invocations Sum", "StatusCode": "Complete"}
    response = {"MetricDataResults": [{**result, "Timestamps": stamps, "Values": [1, 2, 3]}]}
    path = tmp_path / "metrics.json"
    path.write_bytes(orjson.dumps(response))
    log = RejectionLog()
    metrics = load_metrics([path], rejections=log)
    assert metrics["value"].to_list() == [3.0]
    assert [r.position for r in log.listed] == [
        "MetricDataResults[0].Values[0]",
        "MetricDataResults[0].Values[1]",
    ]
    assert all("outside [2000-01-01, 2100-01-01) UTC" in r.reason for r in log.listed)


LONG = MAX_STRING_CHARS + 1_000
CUT = f"… [cut at {MAX_STRING_CHARS} of {LONG} characters]"


def test_long_strings_of_side_inputs_are_cut_where_they_enter(tmp_path: Path) -> None:
    request = f"{1:08x}-4eb6-4f84-986f-e26066d4230d"
    dns = f"[ERROR]\t2026-11-20T09:00:31.000Z\t{request}\tgetaddrinfo EAI_AGAIN " + "h" * LONG
    (tmp_path / "orders-create.log").write_bytes(invocation(1) + dns.encode() + b"\n")
    logs = load_logs([tmp_path / "orders-create.log"], rejections=RejectionLog())
    [message] = logs.events.filter(pl.col("kind") == "dns_failure")["message"].to_list()
    assert message == dns[:MAX_STRING_CHARS] + CUT.replace(str(LONG), str(len(dns)))
    metric = "M" * LONG
    result = {"Id": "m", "Label": f"orders-create {metric} Sum", "StatusCode": "Complete"}
    stamps = ["2026-11-20T09:59:00+00:00"]
    response = {"MetricDataResults": [{**result, "Timestamps": stamps, "Values": [1]}]}
    (tmp_path / "metrics.json").write_bytes(orjson.dumps(response))
    metrics = load_metrics([tmp_path / "metrics.json"], rejections=RejectionLog())
    assert metrics["metric"].to_list() == ["M" * MAX_STRING_CHARS + CUT]
    functions = orjson.loads((ROOT / "sample_traces/functions/list-functions.json").read_bytes())
    functions["Functions"][0]["Runtime"] = "r" * LONG
    (tmp_path / "list-functions.json").write_bytes(orjson.dumps(functions))
    inventory = load_functions([tmp_path / "list-functions.json"], rejections=RejectionLog())
    assert inventory.functions["runtime"][0] == "r" * MAX_STRING_CHARS + CUT
    # Ordinary strings are untouched.
    assert logs.reports["request_id"].to_list() == [request]


def test_a_rejection_quoting_a_long_value_is_cut(tmp_path: Path) -> None:
    result = {"Id": "m", "Label": "orders-create Duration Sum", "StatusCode": "Complete"}
    response = {"MetricDataResults": [{**result, "Timestamps": ["t" * LONG], "Values": [1]}]}
    (tmp_path / "metrics.json").write_bytes(orjson.dumps(response))
    log = RejectionLog()
    load_metrics([tmp_path / "metrics.json"], rejections=log)
    [rejection] = log.listed
    assert rejection.reason.startswith("datapoint refused: timestamp 'ttt")
    full = f"datapoint refused: timestamp {'t' * LONG!r} is not an ISO 8601 time"
    assert rejection.reason == full[:MAX_STRING_CHARS] + CUT.replace(str(LONG), str(len(full)))


def test_the_readme_states_the_side_input_limits() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bad_input = readme.split("### Bad input", 1)[1].split("\n## ", 1)[0]
    [side] = [part for part in bad_input.split("\n\n") if part.startswith("Side inputs")]
    assert "follow the same limits" in side
    for limit in (
        f"{MAX_VALUE_BYTES // 2**20} MiB",
        TIME_RANGE,
        f"{MAX_STRING_CHARS:,} characters",
    ):
        assert limit in " ".join(side.split())
