"""The sample generator: determinism, the committed sample_traces/, shapes, and ground truth.

The truth checks re-read the written files with a small reference reader (below) and compare
what they find with what the generator recorded while generating.
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tracelens.samples import (
    SampleConfig,
    generate,
    iter_segment_documents,
    write_bulk,
    write_sample_set,
)
from tracelens.samples.__main__ import main

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "sample_traces"
# A second, hand-written sample set inside sample_traces/ (not generated; see its README).
REAL_WORLD = "real_world"
HEX16 = re.compile(r"^[0-9a-f]{16}$")
TRACE_ID = re.compile(r"^1-([0-9a-f]{8})-[0-9a-f]{24}$")
METRIC_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
REPORT = re.compile(r"^REPORT RequestId: (\S+)\t(.*)$")
TOLERANCE_MS = 0.01

Doc = dict[str, Any]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_set(generate(), out)
    return out


@pytest.fixture(scope="module")
def truth(sample_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((sample_dir / "expected.json").read_text())
    return loaded


@pytest.fixture(scope="module")
def reader(sample_dir: Path) -> Reader:
    return Reader(sample_dir)


# -- a small reference reader -----------------------------------------------------------------


def _read(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode()


class Reader:
    """Reads sample_traces/xray back: every document as written, then deduplicated and with
    independent subsegments re-nested into their parents."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written: list[Doc] = []
        for path in sorted((root / "xray").glob("batch-get-traces-*")):
            for trace in json.loads(_read(path))["Traces"]:
                for segment in trace["Segments"]:
                    doc = json.loads(segment["Document"])
                    assert segment["Id"] == doc["id"]
                    self.written.append(doc)
        for line in _read(root / "xray" / "daemon-segments.ndjson").splitlines():
            doc = json.loads(line)
            if doc != {"format": "json", "version": 1}:
                self.written.append(doc)
        self.written += json.loads(_read(root / "xray" / "segment-documents.json"))
        self.written.append(json.loads(_read(root / "xray" / "single-segment.json")))
        self.unique = self._dedupe()
        self.segments = self._nest()

    def _dedupe(self) -> dict[tuple[str, str], Doc]:
        unique: dict[tuple[str, str], Doc] = {}
        for doc in self.written:
            key = (doc["trace_id"], doc["id"])
            if key not in unique or unique[key].get("in_progress"):
                unique[key] = doc
        return unique

    def _nest(self) -> list[Doc]:
        """Top-level segments, with independent subsegment documents put back in place."""
        by_id: dict[str, Doc] = {}

        def index(node: Doc) -> None:
            by_id[node["id"]] = node
            for child in node.get("subsegments", ()):
                index(child)

        segments = [copy.deepcopy(d) for d in self.unique.values() if d.get("type") != "subsegment"]
        for doc in segments:
            index(doc)
        for doc in self.unique.values():
            if doc.get("type") == "subsegment":
                parent = by_id[doc["parent_id"]]
                parent.setdefault("subsegments", []).append(doc)
                index(doc)
        return segments

    def by_origin(self, origin: str) -> list[Doc]:
        return [d for d in self.segments if d.get("origin") == origin]


def walk(node: Doc, depth: int = 0) -> list[tuple[Doc, int]]:
    out = [(node, depth)]
    for child in node.get("subsegments", ()):
        out += walk(child, depth + 1)
    return out


def span_ms(node: Doc) -> float:
    return float(node["end_time"] - node["start_time"]) * 1000


def assert_close_lists(found: list[float], expected: list[float]) -> None:
    assert len(found) == len(expected)
    for a, b in zip(sorted(found), sorted(expected), strict=True):
        assert abs(a - b) < TOLERANCE_MS, (a, b)


def outermost_calls(node: Doc) -> list[Doc]:
    """Outermost aws/remote subsegments below ``node``."""
    calls = []
    for child in node.get("subsegments", ()):
        if child.get("namespace") in ("aws", "remote"):
            calls.append(child)
        else:
            calls += outermost_calls(child)
    return calls


def invocation_of(function_segment: Doc) -> Doc:
    return next(s for s in function_segment["subsegments"] if s["name"] == "Invocation")


def init_of(function_segment: Doc) -> Doc | None:
    return next(
        (s for s in function_segment["subsegments"] if s["name"] in ("Initialization", "Restore")),
        None,
    )


# -- determinism and the committed folder -----------------------------------------------------


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): (
            gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes()
        )
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md" and REAL_WORLD not in p.relative_to(root).parts
    }


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    config = SampleConfig(seed=99, traces=80)
    first = write_sample_set(generate(config), tmp_path / "a")
    second = write_sample_set(generate(config), tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a


def test_other_seed_gives_other_traces() -> None:
    first = generate(SampleConfig(seed=1, traces=60))
    second = generate(SampleConfig(seed=2, traces=60))
    assert {t for t, _ in first.traces}.isdisjoint({t for t, _ in second.traces})


def test_committed_sample_traces_equal_a_fresh_generation(sample_dir: Path) -> None:
    fresh = _files(sample_dir)
    committed = _files(COMMITTED)
    hint = "sample_traces/ is stale: run `python -m tracelens.samples --out sample_traces`"
    assert sorted(committed) == sorted(fresh), hint
    for name, data in fresh.items():
        assert committed[name] == data, f"{name} differs. {hint}"
    assert (COMMITTED / "README.md").is_file()


def test_sample_traces_stay_small() -> None:
    total = sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file())
    assert total < 3_000_000


def test_config_rejects_too_few_traces_and_naive_start() -> None:
    with pytest.raises(ValueError, match="at least 60"):
        generate(SampleConfig(traces=10))
    with pytest.raises(ValueError, match="timezone-aware"):
        SampleConfig(start=datetime(2026, 11, 20, 9, 0))


def test_start_moves_every_timestamp() -> None:
    later = datetime(2027, 1, 5, 14, 30, tzinfo=UTC)
    sample = generate(SampleConfig(traces=60, start=later))
    starts = [d["start_time"] for _, docs in sample.traces for d in docs]
    assert later.timestamp() - 1800 < min(starts)
    assert max(starts) < later.timestamp() + 3600


# -- document shapes ----------------------------------------------------------------------------


def test_every_document_has_required_fields_and_valid_ids(reader: Reader) -> None:
    for doc in reader.written:
        assert TRACE_ID.match(doc["trace_id"]), doc["trace_id"]
        for node, _ in walk(doc):
            assert HEX16.match(node["id"]), node["id"]
            assert isinstance(node["name"], str)
            assert node["name"]
            assert isinstance(node["start_time"], float)
            if node.get("in_progress"):
                assert "end_time" not in node
            else:
                assert node["end_time"] >= node["start_time"], node["id"]
        if doc.get("type") == "subsegment" or doc.get("inferred"):
            assert HEX16.match(doc["parent_id"])


def test_trace_id_epoch_is_the_request_start(reader: Reader) -> None:
    stages = reader.by_origin("AWS::ApiGateway::Stage")
    assert len(stages) == 300
    for stage in stages:
        epoch = int(TRACE_ID.match(stage["trace_id"]).group(1), 16)  # type: ignore[union-attr]
        assert epoch == int(stage["start_time"])


def test_lambda_service_timestamps_are_milliseconds_and_enclose_the_function(
    reader: Reader,
) -> None:
    functions_by_parent = {d["parent_id"]: d for d in reader.by_origin("AWS::Lambda::Function")}
    for service in reader.by_origin("AWS::Lambda"):
        for key in ("start_time", "end_time"):
            assert round(service[key], 3) == service[key]
        function = functions_by_parent.get(service["id"])
        if service.get("throttle"):
            assert function is None
            assert service["http"]["response"]["status"] == 429
            assert service["cause"]["exceptions"][0]["type"] == "TooManyRequestsException"
            continue
        assert function is not None
        assert service["start_time"] <= function["start_time"] + 0.001
        assert function["end_time"] <= service["end_time"] + 0.001


def test_parent_ids_resolve_within_the_trace(reader: Reader) -> None:
    ids_by_trace: dict[str, set[str]] = defaultdict(set)
    for doc in reader.unique.values():
        for node, _ in walk(doc):
            ids_by_trace[doc["trace_id"]].add(node["id"])
    for doc in reader.unique.values():
        if "parent_id" in doc:
            assert doc["parent_id"] in ids_by_trace[doc["trace_id"]], doc["id"]


def test_format_quirks_are_present(sample_dir: Path, reader: Reader) -> None:
    daemon = _read(sample_dir / "xray" / "daemon-segments.ndjson")
    assert '{"format": "json", "version": 1}' in daemon
    assert "\\u003cb\\u003ecafé\\u003c/b\\u003e" in daemon
    assert sum(1 for d in reader.written if d.get("in_progress")) == 1
    annotations = [n.get("annotations", {}) for d in reader.segments for n, _ in walk(d)]
    assert any("<b>café</b>" in a.values() for a in annotations)
    names = {n["name"] for d in reader.segments for n, _ in walk(d)}
    assert "## 配送料金の計算" in names
    string_causes = [
        n for d in reader.segments for n, _ in walk(d) if isinstance(n.get("cause"), str)
    ]
    assert string_causes
    exception_ids = {
        e["id"]
        for d in reader.segments
        for n, _ in walk(d)
        if isinstance(n.get("cause"), dict)
        for e in n["cause"].get("exceptions", ())
    }
    assert all(n["cause"] in exception_ids for n in string_causes)


# -- logs -----------------------------------------------------------------------------------------


def _reports(root: Path) -> dict[str, dict[str, dict[str, str]]]:
    """function -> request id -> REPORT fields (text, JSON format and filter-log-events)."""
    out: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for path in sorted((root / "logs").iterdir()):
        function = path.name.split(".", 1)[0]
        if path.suffix == ".jsonl":
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record.get("type") == "platform.report":
                    body = record["record"]
                    fields = {k: str(v) for k, v in body["metrics"].items()}
                    fields["SegmentId"] = body["tracing"]["spanId"]
                    out[function][body["requestId"]] = fields
            continue
        if path.suffix == ".json":
            lines = [
                line
                for e in json.loads(path.read_text())["events"]
                for line in e["message"].splitlines()
            ]
        else:
            lines = path.read_text().splitlines()
        last: dict[str, str] | None = None
        for line in lines:
            match = REPORT.match(line)
            if match:
                last = dict(part.split(": ", 1) for part in match.group(2).split("\t") if part)
                out[function][match.group(1)] = last
            elif line.startswith("XRAY TraceId") and last is not None:
                last.update(part.split(": ", 1) for part in line.split("\t") if part)
    return out


def test_every_report_matches_an_executed_lambda_segment(sample_dir: Path, reader: Reader) -> None:
    reports = _reports(sample_dir)
    functions_by_parent = {d["parent_id"]: d for d in reader.by_origin("AWS::Lambda::Function")}
    executed: dict[str, dict[str, Doc]] = defaultdict(dict)
    for service in reader.by_origin("AWS::Lambda"):
        if not service.get("throttle"):
            executed[service["name"]][service["aws"]["request_id"]] = service
    assert set(reports) == set(executed)
    for function, by_request in reports.items():
        assert set(by_request) == set(executed[function]), function
        for request_id, fields in by_request.items():
            segment = functions_by_parent[executed[function][request_id]["id"]]
            assert fields["SegmentId"] == segment["id"]


def test_report_init_durations_equal_the_truth(sample_dir: Path, truth: dict[str, Any]) -> None:
    reports = _reports(sample_dir)
    for function, facts in truth["functions"].items():
        found = [
            float(f.get("Init Duration", f.get("initDurationMs", "nan")).split()[0])
            for f in reports.get(function, {}).values()
            if "Init Duration" in f or "initDurationMs" in f
        ]
        assert_close_lists(found, facts["init_durations_ms"])
        restores = [
            float(f["Restore Duration"].split()[0])
            for f in reports.get(function, {}).values()
            if "Restore Duration" in f
        ]
        assert_close_lists(restores, facts["restore_durations_ms"])
        assert len(reports.get(function, {})) == facts["reports"]


def test_logs_show_timeout_dns_failure_and_init_lines(sample_dir: Path) -> None:
    shipping = (sample_dir / "logs" / "shipping-quote.log").read_text()
    assert "Task timed out after 3.00 seconds" in shipping
    assert "\tStatus: timeout\t" in shipping
    orders = (sample_dir / "logs" / "orders-create.log").read_text()
    assert "getaddrinfo EAI_AGAIN api.payments.example.com" in orders
    assert orders.startswith("INIT_START Runtime Version: nodejs:20.")
    assert (
        "RESTORE_START Runtime Version: java:21."
        in (sample_dir / "logs" / "report-export.log").read_text()
    )
    events = json.loads((sample_dir / "logs" / "notify-webhook.json").read_text())["events"]
    assert set(events[0]) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert re.match(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$", events[0]["logStreamName"])


# -- ground truth versus the documents ---------------------------------------------------------


def test_document_counts_match_the_files(reader: Reader, truth: dict[str, Any]) -> None:
    counts = truth["documents"]
    assert counts["written"] == len(reader.written)
    assert counts["unique"] == len(reader.unique)
    assert counts["written"] == (
        counts["unique"] + counts["duplicates"] + counts["in_progress_superseded"]
    )
    assert counts["inferred"] == sum(1 for d in reader.unique.values() if d.get("inferred"))
    assert counts["independent_subsegments"] == sum(
        1 for d in reader.unique.values() if d.get("type") == "subsegment"
    )
    assert counts["spans"] == sum(len(walk(d)) for d in reader.unique.values())
    assert truth["traces"] == len({d["trace_id"] for d in reader.unique.values()}) == 300


def test_function_truth_matches_the_segments(reader: Reader, truth: dict[str, Any]) -> None:
    functions = reader.by_origin("AWS::Lambda::Function")
    for name, facts in truth["functions"].items():
        mine = [f for f in functions if f["name"] == name]
        assert facts["invocations"] == len(mine), name
        kinds: Counter[str] = Counter()
        user_facing: list[float] = []
        provisioned: list[float] = []
        restores: list[float] = []
        for segment in mine:
            init = init_of(segment)
            if init is None:
                continue
            gap_s = invocation_of(segment)["start_time"] - init["end_time"]
            if init["name"] == "Restore":
                kinds["snapstart"] += 1
                restores.append(span_ms(init))
            elif gap_s > 60:
                kinds["provisioned"] += 1
                provisioned.append(span_ms(init))
            else:
                kinds["on_demand"] += 1
                user_facing.append(span_ms(init))
        assert facts["cold_starts"] == {
            k: kinds[k] for k in ("on_demand", "provisioned", "snapstart")
        }
        assert_close_lists(user_facing, facts["init_durations_ms"])
        assert_close_lists(provisioned, facts["provisioned_init_durations_ms"])
        assert_close_lists(restores, facts["restore_durations_ms"])
        assert facts["faults"] == sum(1 for f in mine if f.get("fault"))
        throttled = [
            s for s in reader.by_origin("AWS::Lambda") if s["name"] == name and s.get("throttle")
        ]
        assert facts["throttled"] == len(throttled)
        assert facts["metric_invocations"] == truth["sampling_ratio"] * facts["invocations"]


def test_the_required_conditions_are_in_the_truth(truth: dict[str, Any]) -> None:
    functions = truth["functions"]
    assert functions["orders-get"]["cold_starts"]["provisioned"] == 1
    assert functions["report-export"]["cold_starts"]["snapstart"] >= 1
    assert functions["legacy-export"]["invocations"] == 0
    assert functions["legacy-export"]["throttled"] > 0
    assert functions["shipping-quote"]["timeouts"] == 1
    throttles = {(t["caller"], t["target"]): t for t in truth["invocation_throttles"]}
    assert throttles[("orders-create", "fraud-check")]["reserved_concurrency"] == 5
    assert throttles[("reports-api/prod", "report-export")]["reserved_concurrency"] == 2
    assert throttles[("reports-api/prod", "legacy-export")]["reserved_concurrency"] == 0
    (dynamo,) = truth["downstream_throttles"]
    assert (dynamo["service"], dynamo["resource"], dynamo["operation"]) == (
        "DynamoDB",
        "orders",
        "PutItem",
    )
    assert all(r > 0 for r in dynamo["retries"])
    slow = truth["slow_endpoint"]
    assert slow["node"] == {"name": "api.payments.example.com", "type": "remote"}
    assert slow["share"] > 0.5


def test_invocation_throttles_match_the_callers(reader: Reader, truth: dict[str, Any]) -> None:
    owner: dict[str, Doc] = {}
    for segment in reader.segments:
        for node, _ in walk(segment):
            owner[node["id"]] = segment
    found: Counter[tuple[str, str, str]] = Counter()
    for service in reader.by_origin("AWS::Lambda"):
        if service.get("throttle"):
            caller = owner[service["parent_id"]]
            subsegment = next(n for n, _ in walk(caller) if n["id"] == service["parent_id"])
            assert subsegment["http"]["response"]["status"] == 429
            assert subsegment["throttle"] and subsegment["error"]
            found[(caller["name"], caller["origin"], service["name"])] += 1
    expected = {
        (t["caller"], t["caller_type"], t["target"]): t["count"]
        for t in truth["invocation_throttles"]
    }
    assert dict(found) == expected


def test_downstream_throttles_match_the_subsegments(reader: Reader, truth: dict[str, Any]) -> None:
    found: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for function in reader.by_origin("AWS::Lambda::Function"):
        for call in outermost_calls(invocation_of(function)):
            if call.get("throttle") and call["name"] == "DynamoDB":
                assert call["http"]["response"]["status"] == 400
                exception = call["cause"]["exceptions"][0]["type"]
                assert exception == "ProvisionedThroughputExceededException"
                key = (function["name"], call["aws"]["table_name"], call["aws"]["operation"])
                found[key].append(call["aws"]["retries"])
    expected = {
        (t["function"], t["resource"], t["operation"]): sorted(t["retries"])
        for t in truth["downstream_throttles"]
    }
    assert {k: sorted(v) for k, v in found.items()} == expected


DNS_NAMES = {"dns": "xray-go", "http.dns": "otel-go", "dns.lookup": "otel-node"}


def test_dns_lookups_match_the_subsegments(reader: Reader, truth: dict[str, Any]) -> None:
    found: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for function in reader.by_origin("AWS::Lambda::Function"):
        cold = init_of(function) is not None
        for call in outermost_calls(invocation_of(function)):
            for node, _ in walk(call):
                if node["name"] in DNS_NAMES:
                    state = "failed" if node.get("fault") else ("cold" if cold else "warm")
                    found[(function["name"], call["name"], state)].append(span_ms(node))
    for lookups in truth["dns_lookups"]:
        for state in ("cold", "warm", "failed"):
            key = (lookups["function"], lookups["host"], state)
            assert_close_lists(found.pop(key, []), lookups[f"{state}_ms"])
    assert not found
    by_function = {d["function"]: d for d in truth["dns_lookups"]}
    for name in ("orders-create", "shipping-quote", "notify-webhook"):
        facts = by_function[name]
        assert facts["cold_ms"]
        assert facts["warm_ms"]
        assert (
            sorted(facts["cold_ms"])[len(facts["cold_ms"]) // 2]
            > sorted(facts["warm_ms"])[len(facts["warm_ms"]) // 2]
        )
    assert not by_function["notify-webhook"]["vpc"]
    assert max(by_function["notify-webhook"]["cold_ms"]) < min(
        by_function["shipping-quote"]["cold_ms"] + by_function["orders-create"]["cold_ms"]
    )


def test_service_map_edges_match_the_segments(reader: Reader, truth: dict[str, Any]) -> None:
    calls: Counter[tuple[tuple[str, str], tuple[str, str]]] = Counter()
    for stage in reader.by_origin("AWS::ApiGateway::Stage"):
        calls[((stage["name"], "client"), (stage["name"], "AWS::ApiGateway::Stage"))] += 1
        for call in outermost_calls(stage):
            target = (call["aws"]["function_name"], "AWS::Lambda::Function")
            calls[((stage["name"], "AWS::ApiGateway::Stage"), target)] += 1
    # One function, one node: its AWS::Lambda segment draws no edge of its own.
    for function in reader.by_origin("AWS::Lambda::Function"):
        source = (function["name"], "AWS::Lambda::Function")
        for call in outermost_calls(invocation_of(function)):
            calls[(source, _target(call))] += 1
    expected = {
        ((e["source"]["name"], e["source"]["type"]), (e["target"]["name"], e["target"]["type"])): e[
            "calls"
        ]
        for e in truth["service_map"]["edges"]
    }
    assert dict(calls) == expected
    nodes = {(n["name"], n["type"]) for n in truth["service_map"]["nodes"]}
    assert nodes == {node for edge in expected for node in edge}


def _target(call: Doc) -> tuple[str, str]:
    if call.get("namespace") == "remote":
        return call["name"], "remote"
    aws = call["aws"]
    if call["name"] == "Lambda":
        return aws["function_name"], "AWS::Lambda::Function"
    if call["name"] == "DynamoDB":
        return aws["table_name"], "AWS::DynamoDB::Table"
    if call["name"] == "SQS":
        return aws["queue_url"].rsplit("/", 1)[1], "AWS::SQS::Queue"
    return "SNS", "AWS::SNS"


def test_slow_endpoint_is_the_slowest_five_percent(reader: Reader, truth: dict[str, Any]) -> None:
    slow = truth["slow_endpoint"]
    orders = [
        s
        for s in reader.by_origin("AWS::ApiGateway::Stage")
        if s["http"]["request"]["method"] == "POST"
        and s["http"]["request"]["url"].endswith("/orders")
    ]
    orders.sort(key=lambda s: -span_ms(s))
    expected = orders[: math.ceil(0.05 * len(orders))]
    assert {s["trace_id"] for s in expected} == set(slow["trace_ids"])


# -- metrics and configuration ------------------------------------------------------------------


def test_metrics_follow_the_label_convention_and_the_truth(
    sample_dir: Path, truth: dict[str, Any]
) -> None:
    response = json.loads((sample_dir / "metrics" / "get-metric-data.json").read_text())
    assert response["Messages"] == []
    results = {r["Label"]: r for r in response["MetricDataResults"]}
    for result in results.values():
        assert METRIC_ID.match(result["Id"])
        assert result["StatusCode"] == "Complete"
        assert len(result["Timestamps"]) == len(result["Values"])
        assert result["Timestamps"] == sorted(result["Timestamps"], reverse=True)
    for name, facts in truth["functions"].items():
        assert sum(results[f"{name} Invocations Sum"]["Values"]) == facts["metric_invocations"]
        assert sum(results[f"{name} Throttles Sum"]["Values"]) == facts["metric_throttles"]
        assert sum(results[f"{name} Errors Sum"]["Values"]) == facts["metric_errors"]
    for throttle in truth["invocation_throttles"]:
        name, limit = throttle["target"], throttle["reserved_concurrency"]
        throttles = results[f"{name} Throttles Sum"]
        concurrency = results[f"{name} ConcurrentExecutions Maximum"]
        peak = dict(zip(concurrency["Timestamps"], concurrency["Values"], strict=True))
        for stamp, value in zip(throttles["Timestamps"], throttles["Values"], strict=True):
            if value > 0:
                assert peak.get(stamp, 0.0) == limit, (name, stamp)
    for label in (
        "(account) ConcurrentExecutions Maximum",
        "(account) UnreservedConcurrentExecutions Maximum",
        "(account) ClaimedAccountConcurrency Maximum",
        "orders-get ProvisionedConcurrencySpilloverInvocations Sum",
        "orders-get ProvisionedConcurrencyUtilization Maximum",
        "orders-create Duration p95",
    ):
        assert results[label]["Values"], label
    assert sum(results["orders-get ProvisionedConcurrencySpilloverInvocations Sum"]["Values"]) > 0


def test_function_configuration_responses(sample_dir: Path) -> None:
    functions_dir = sample_dir / "functions"
    listed = json.loads((functions_dir / "list-functions.json").read_text())["Functions"]
    by_name = {f["FunctionName"]: f for f in listed}
    assert len(by_name) == 7
    assert by_name["orders-create"]["VpcConfig"]["VpcId"].startswith("vpc-")
    assert by_name["notify-webhook"]["VpcConfig"]["SubnetIds"] == []
    assert by_name["report-export"]["SnapStart"]["ApplyOn"] == "PublishedVersions"
    reserved = {
        p.name.split(".")[1]: json.loads(p.read_text())["Concurrency"][
            "ReservedConcurrentExecutions"
        ]
        for p in functions_dir.glob("get-function.*.json")
    }
    assert reserved == {"fraud-check": 5, "report-export": 2, "legacy-export": 0}
    configs = json.loads(
        (functions_dir / "list-provisioned-concurrency-configs.orders-get.json").read_text()
    )["ProvisionedConcurrencyConfigs"]
    assert configs[0]["FunctionArn"].endswith(":function:orders-get:live")
    assert configs[0]["Status"] == "READY"
    settings = json.loads((functions_dir / "get-account-settings.json").read_text())
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000 - 7


# -- other seeds, bulk output, command line ------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_every_condition_shows_for_other_seeds(seed: int) -> None:
    truth = generate(SampleConfig(seed=seed, traces=60)).truth
    functions = truth.functions
    assert functions["orders-get"].cold_starts.provisioned == 1
    assert functions["report-export"].cold_starts.snapstart >= 1
    assert functions["shipping-quote"].timeouts == 1
    assert {(t.caller, t.target) for t in truth.invocation_throttles} == {
        ("orders-create", "fraud-check"),
        ("reports-api/prod", "report-export"),
        ("reports-api/prod", "legacy-export"),
    }
    assert truth.downstream_throttles
    assert any(d.failed_ms for d in truth.dns_lookups)
    assert truth.slow_endpoint.node.name == "api.payments.example.com"
    assert truth.slow_endpoint.share > 0.5


def test_iter_segment_documents_yields_the_requested_count() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    docs = list(iter_segment_documents(5000, seed=3, start=start, period=timedelta(hours=6)))
    assert len(docs) == 5000
    ids_by_trace: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        assert TRACE_ID.match(doc["trace_id"])
        for node, _ in walk(doc):
            assert HEX16.match(node["id"])
            ids_by_trace[doc["trace_id"]].add(node["id"])
    complete = list(ids_by_trace)[:-1]  # the last trace may be cut short
    for doc in docs:
        if doc["trace_id"] in complete and "parent_id" in doc:
            assert doc["parent_id"] in ids_by_trace[doc["trace_id"]]
    assert len({(d["trace_id"], d["id"]) for d in docs}) == 5000
    spread_s = max(d["start_time"] for d in docs) - min(d["start_time"] for d in docs)
    assert 3 * 3600 < spread_s < 8 * 3600


def test_write_bulk_formats(tmp_path: Path) -> None:
    ndjson = write_bulk(tmp_path / "n", 1200, seed=5, fmt="ndjson")
    lines = [json.loads(line) for p in ndjson for line in p.read_text().splitlines()]
    assert len(lines) == 1200
    pages = write_bulk(tmp_path / "b", 1200, seed=5, fmt="batch")
    traces = [t for p in pages for t in json.loads(p.read_text())["Traces"]]
    assert all(len(json.loads(p.read_text())["Traces"]) <= 5 for p in pages)
    assert sum(len(t["Segments"]) for t in traces) == 1200
    assert [json.loads(s["Document"]) for t in traces for s in t["Segments"]] == lines
    with pytest.raises(ValueError, match="fmt"):
        write_bulk(tmp_path / "x", 10, fmt="csv")  # type: ignore[arg-type]


def test_command_line_writes_the_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--traces", "60", "--seed", "4"]) == 0
    assert (tmp_path / "expected.json").is_file()
    assert (tmp_path / "xray" / "daemon-segments.ndjson").is_file()
    assert main(["--out", str(tmp_path), "--traces", "5"]) == 2
    assert "at least 60" in capsys.readouterr().err
