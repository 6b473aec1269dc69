"""`tracelens analyze --json` on sample_traces/real_world/: shapes seen in real traces.

Each file there shows one condition that misled analyses before (see its README for the
expected answers); these tests run the real CLI on the committed files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tracelens.cli import main

REAL_WORLD = Path(__file__).resolve().parents[2] / "sample_traces" / "real_world"
FUNCTION = "AWS::Lambda::Function"


def analyze(name: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        main, ["analyze", str(REAL_WORLD / name), "--json", "--strict", "-q"]
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def report_page(name: str, tmp_path: Path) -> str:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(REAL_WORLD / name), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out.read_text()


def kinds(contract: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["severity"], f["kind"]) for f in contract["findings"]]


def test_s3_thumbnail_pipeline_is_not_a_loop() -> None:
    contract = analyze("s3-thumbnail-pipeline.json")
    assert contract["input"]["traces"] == 3
    # X-Ray's map draws both buckets as one S3 node: the map has its cycle ...
    edges = {(e["source"], e["target"]) for e in contract["service_map"]["edges"]}
    assert {("thumbnailer", "S3"), ("S3", "thumbnailer")} <= edges
    # ... but the function reads photos-uploads and writes photos-thumbnails: no loop.
    assert contract["service_map"]["cycles"] == []
    assert contract["service_map"]["loops"] == []
    assert ("critical", "recursive_loop") not in kinds(contract)
    assert all(f["kind"] != "recursive_loop" for f in contract["findings"])


def test_s3_recursive_loop_names_the_bucket_closing_it() -> None:
    contract = analyze("s3-recursive-loop.json")
    bucket = "AWS::S3::Bucket:photos-uploads"
    function = "AWS::Lambda::Function:thumbnailer"
    assert contract["service_map"]["cycles"] == [[bucket, function]]
    (loop,) = contract["service_map"]["loops"]
    assert loop["closing_resource"] == bucket
    assert loop["path"] == f"{bucket} -> {function} -> {bucket}"
    assert loop["confirmed"] is True
    # two traces, each: upload -> thumbnailer, thumbnail written back -> thumbnailer again
    assert loop["calls"] == 4
    (finding,) = [f for f in contract["findings"] if f["kind"] == "recursive_loop"]
    assert finding["severity"] == "critical"
    assert finding["message"].startswith(f"Calls loop back to {bucket}: ")
    assert finding["evidence"]["closing_resource"] == bucket


def test_lambda_service_segment_named_lambda_is_its_function() -> None:
    contract = analyze("lambda-service-segment-named-lambda.json")
    nodes = {(n["name"], n["type"]) for n in contract["service_map"]["nodes"]}
    assert not {node_type for _, node_type in nodes} & {"AWS::Lambda"}
    functions = {("orders-create", FUNCTION), ("fraud-check", FUNCTION)}
    assert {node for node in nodes if node[0] in {"orders-create", "fraud-check"}} == functions
    # one node per function: its Lambda service segment draws no edge into its function
    edges = {(e["source"], e["target"]) for e in contract["service_map"]["edges"]}
    assert ("orders-create", "orders-create") not in edges
    assert ("orders-create", "fraud-check") in edges
    # one node per function: no loop through a shared "Lambda" node
    assert contract["service_map"]["cycles"] == []
    assert "recursive_loop" not in {f["kind"] for f in contract["findings"]}
    assert {f["name"] for f in contract["functions"]} == {"orders-create", "fraud-check"}


def test_report_map_draws_one_node_per_function_with_its_lambda_service(tmp_path: Path) -> None:
    page = report_page("lambda-service-segment-named-lambda.json", tmp_path)
    assert "Lambda service: 3 requests" in page  # the hover of each function's node
    assert "AWS::Lambda<br>" not in page  # no node of the Lambda service's own


def test_retries_not_recorded_are_unknown_not_zero() -> None:
    contract = analyze("downstream-throttle-without-retries.json")
    (throttle,) = contract["throttles"]
    assert (throttle["count"], throttle["calls"]) == (2, 3)
    assert throttle["retries"] is None
    assert throttle["retries_unknown"] == 3
    (finding,) = [f for f in contract["findings"] if f["kind"] == "downstream_throttle"]
    assert "SDK retries unknown" in finding["message"]
    assert "0 SDK retries" not in finding["message"]
    assert finding["evidence"]["retries"] is None


def test_throttled_attempts_without_retries_read_at_least(tmp_path: Path) -> None:
    contract = analyze("invocation-throttle-without-retries.json.gz")
    (throttle,) = contract["throttles"]
    assert (throttle["kind"], throttle["target"], throttle["count"]) == (
        "invocation",
        "payments",
        2,
    )
    assert (throttle["throttled_calls"], throttle["retries_unknown"]) == (2, 2)
    (finding,) = [f for f in contract["findings"] if f["kind"] == "invocation_throttle"]
    assert finding["message"].startswith("at least 2 throttled invocation attempts")
    assert finding["evidence"]["retries_unknown"] == 2
    page = report_page("invocation-throttle-without-retries.json.gz", tmp_path)
    assert "at least 2" in page
    # The function table carries the same lower bound: "≥ 2", never a plain 2.
    payments = {f["name"]: f for f in contract["functions"]}["payments"]
    assert (payments["throttled"], payments["throttled_retries_unknown"]) == (2, 2)
    assert "≥ 2" in page


def test_failed_attempts_recovered_by_async_retries_are_not_critical() -> None:
    contract = analyze("async-retry-outcomes.json.gz")
    failures = {f["subject"]: f for f in contract["findings"] if f["kind"] == "failures"}
    assert failures["thumbnailer"]["severity"] == "warning"
    assert failures["thumbnailer"]["message"].startswith(
        "3 attempts failed, all events eventually succeeded (2 events, on Lambda's retries): "
        "3 faults (33.3%) and 0 errors (0.0%) in 9 traced invocations"
    )
    assert failures["thumbnailer"]["evidence"]["recovered_events"] == 2
    # An event that failed all its attempts is a failure somebody lost: still critical.
    assert failures["watermarker"]["severity"] == "critical"
    assert "3 were not recovered" in failures["watermarker"]["message"]
    assert failures["watermarker"]["evidence"]["faults"] == 4
    # The events' queue wait holds their critical path; nobody waited for it.
    slow = [f for f in contract["findings"] if f["kind"] == "bottleneck"]
    assert {f["subject"]: f["severity"] for f in slow} == {
        "thumbnailer [lambda_service] @ thumbnailer": "info",
        "watermarker [lambda_service] @ watermarker": "info",
    }


def test_sqs_consumers_cold_starts_are_not_user_facing(tmp_path: Path) -> None:
    contract = analyze("sqs-event-source.json.gz")
    slow = {f["subject"]: f for f in contract["findings"] if f["kind"] == "bottleneck"}
    # The linked consumer's init holds its own trace: nobody waited (it was a warning).
    linked = slow["invoice-writer Initialization [initialization] @ invoice-writer"]
    assert linked["severity"] == "info"
    assert "invoked by a queue's event source mapping" in linked["message"]
    api = slow["orders-create Initialization [initialization] @ orders-api/prod POST /orders"]
    assert api["severity"] == "warning"
    functions = {f["name"]: f for f in contract["functions"]}
    for consumer in ("order-fulfiller", "invoice-writer"):  # same trace; linked trace
        row = functions[consumer]
        assert (row["invocations"], row["sync_invocations"]) == (6, 0)
        assert (row["user_facing_cold_starts"], row["off_path_cold_starts"]) == (0, 2)
    assert functions["orders-create"]["user_facing_cold_starts"] == 1
    cold = {f["subject"]: f for f in contract["findings"] if f["kind"] == "cold_start"}
    assert {name: f["severity"] for name, f in cold.items()} == {
        "orders-create": "warning",
        "order-fulfiller": "info",
        "invoice-writer": "info",
    }
    assert "invoked by a queue's event source mapping" in cold["invoice-writer"]["message"]
    assert "event source mapping (SQS)" in report_page("sqs-event-source.json.gz", tmp_path)


def test_incomplete_traces_are_counted_and_shown() -> None:
    contract = analyze("incomplete-traces.json")
    incomplete = contract["input"]["incomplete"]
    assert {issue: row["count"] for issue, row in incomplete.items()} == {
        "missing_root": 1,
        "orphan_segment": 1,
        "in_progress_subsegment": 1,
        "child_before_parent": 1,
    }
    assert "00000000c0ffee01" in incomplete["orphan_segment"]["example"]
    assert incomplete["in_progress_subsegment"]["example"].startswith("subsegment rollup-write")
    assert incomplete["child_before_parent"]["example"] == (
        "S3 starts 2503.0 ms before its parent report-indexer"
    )
    # no root segment was in progress: the traces' own count stays 0
    assert contract["input"]["in_progress"] == 0
    # the orphan inferred AWS::Events segment stays on the map, with its edge
    nodes = {(n["name"], n["type"]) for n in contract["service_map"]["nodes"]}
    assert ("nightly-rollup-rule", "AWS::Events") in nodes
    edges = {(e["source"], e["target"]) for e in contract["service_map"]["edges"]}
    assert ("nightly-rollup-rule", "nightly-rollup") in edges
    # the early PutObject to the bucket is no loop evidence
    assert contract["service_map"]["loops"] == []


def test_report_data_section_shows_incomplete_traces(tmp_path: Path) -> None:
    page = report_page("incomplete-traces.json", tmp_path)
    assert "1 traces have no root segment" in page
    assert "1 subsegments were still in progress inside segments that ended" in page
    assert "1 spans start before their parent" in page


def test_bottlenecks_name_their_node_with_its_kind() -> None:
    contract = analyze("lambda-service-segment-named-lambda.json")
    kinds_of = {}
    for row in contract["bottlenecks"]:
        kinds_of.setdefault(row["node"], set()).add((row["node_type"], row["node_kind"]))
    # orders-create's time in three roles: the caller waiting on the invoke, Lambda's service
    # before the function starts, and the function's code
    assert kinds_of["orders-create"] == {
        (FUNCTION, "downstream"),
        (FUNCTION, "lambda_service"),
        (FUNCTION, "function_code"),
    }
    messages = [f["message"] for f in contract["findings"] if f["kind"] == "bottleneck"]
    assert any(m.startswith("orders-create function code holds 48.9%") for m in messages)
    assert len({f["subject"] for f in contract["findings"]}) == len(contract["findings"])


def test_what_only_logs_show_is_unknown_without_logs() -> None:
    contract = analyze("downstream-throttle-without-retries.json")
    (function,) = contract["functions"]
    assert function["name"] == "ingest-events"
    assert (function["timeouts"], function["cold_starts_from_logs"]) == (None, None)
    assert function["cold_start_rate"] == 0.0  # 3 traced invocations, none cold
