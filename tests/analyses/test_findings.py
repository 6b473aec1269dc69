from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest

from analyses.bottlenecks import BOTTLENECK_SCHEMA, bottlenecks
from analyses.cold_starts import COLD_START_SCHEMA, cold_starts
from analyses.dns import CONNECTION_SETUP_SCHEMA, DNS_SCHEMA, connection_setup, dns_lookups
from analyses.entry_points import STAGE_ORIGIN, entry_traces
from analyses.findings import FINDING_SCHEMA, Thresholds, findings
from analyses.functions import FUNCTION_TABLE_SCHEMA, function_table
from analyses.loops import LOOP_SCHEMA, resource_loops
from analyses.throttles import (
    DOWNSTREAM_THROTTLE_SCHEMA,
    INVOCATION_THROTTLE_SCHEMA,
    downstream_throttles,
    invocation_throttles,
)
from tests.builders.spans import SpanBuilder, at, frame_of
from tracelens.schema import FUNCTION_SCHEMA


def _cold(name: str, invocations: int, on_demand: int, **fields: Any) -> dict[str, Any]:
    return {
        "function_name": name,
        "invocations": invocations,
        "cold_starts": on_demand,
        "on_demand": on_demand,
        "provisioned": 0,
        "snapstart": 0,
        "cold_starts_from_logs": 0,
        "timeouts": 0,
        "reported_invocations": 0,
        "sync_invocations": invocations,
        "user_facing_cold_starts": on_demand,
        "off_path_cold_starts": 0,
        "user_facing_cold_start_rate": on_demand / invocations if invocations else None,
        **fields,
    }


def _table(name: str, invocations: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "function_name": name,
        "invocations": invocations,
        "errors": 0,
        "faults": 0,
        "throttled": 0,
        "cold_starts": 0,
        "timeouts": 0,
        **fields,
    }


def _by_subject(frame: pl.DataFrame, kind: str) -> dict[str, dict[str, Any]]:
    return {r["subject"]: r for r in frame.filter(kind=kind).iter_rows(named=True)}


def test_no_inputs_and_empty_inputs_give_no_findings() -> None:
    assert dict(findings().schema) == FINDING_SCHEMA
    assert findings().is_empty()
    empty = findings(
        functions=pl.DataFrame(schema=FUNCTION_TABLE_SCHEMA),
        cold_starts=pl.DataFrame(schema=COLD_START_SCHEMA),
        invocation_throttles=pl.DataFrame(schema=INVOCATION_THROTTLE_SCHEMA),
        downstream_throttles=pl.DataFrame(schema=DOWNSTREAM_THROTTLE_SCHEMA),
        dns=pl.DataFrame(schema=DNS_SCHEMA),
        connection_setup=pl.DataFrame(schema=CONNECTION_SETUP_SCHEMA),
        bottlenecks=pl.DataFrame(schema=BOTTLENECK_SCHEMA),
        loops=pl.DataFrame(schema=LOOP_SCHEMA),
    )
    assert empty.is_empty()
    assert dict(empty.schema) == FINDING_SCHEMA


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="cold_starts frame is missing columns"):
        findings(cold_starts=pl.DataFrame({"function_name": ["f"]}))


def test_cold_start_severity_thresholds_and_advice() -> None:
    cold = frame_of(
        [
            _cold(
                "orders",
                10,
                3,
                init_p50_ms=400.0,
                init_p95_ms=900.0,
                init_max_ms=950.0,
                example_trace_id="t-orders",
            ),
            _cold("few", 3, 2, init_p95_ms=400.0),  # rate over 3 invocations: not enough
            _cold("slowinit", 100, 1, init_p95_ms=1500.0, cold_starts_from_logs=4),
            _cold("spill", 20, 2, init_p95_ms=200.0),
            _cold("fine", 100, 1, init_p95_ms=300.0),
        ],
        COLD_START_SCHEMA,
    )
    table = frame_of(
        [
            _table("orders", runtime="python3.12", code_size_bytes=25_000_000),
            _table("slowinit", runtime="nodejs20.x", code_size_bytes=1_000_000),
            _table("spill", runtime="java21", provisioned_concurrency=5),
        ],
        FUNCTION_TABLE_SCHEMA,
    )
    result = findings(cold_starts=cold, functions=table)
    rows = _by_subject(result, "cold_start")
    assert set(rows) == {"orders", "slowinit", "spill"}
    orders = rows["orders"]
    assert orders["severity"] == "critical"  # 30% >= 20%
    assert orders["message"] == (
        "3 user-facing cold starts in 10 traced synchronous invocations (30.0%); "
        "init p50 400.0 ms, p95 900.0 ms, max 950.0 ms."
    )
    assert "SnapStart" in orders["recommendation"]
    assert "25.0 MB" in orders["recommendation"]
    assert orders["trace_id"] == "t-orders"
    assert orders["impact"] == 3.0
    assert json.loads(orders["evidence"])["user_facing_cold_start_rate"] == pytest.approx(0.3)
    assert rows["slowinit"]["severity"] == "warning"  # init p95 1.5 s, rate 1%
    assert "invocations (1.0%) plus 4 seen only in logs; init" in rows["slowinit"]["message"]
    assert rows["slowinit"]["recommendation"].startswith("Use provisioned concurrency")
    assert "MB" not in rows["slowinit"]["recommendation"]
    assert rows["spill"]["severity"] == "warning"  # 10%
    assert rows["spill"]["recommendation"].startswith("Provisioned concurrency is configured")
    strict = findings(cold_starts=cold, thresholds=Thresholds(cold_start_rate_critical=0.5))
    assert _by_subject(strict, "cold_start")["orders"]["severity"] == "warning"


def test_timeouts_and_failures() -> None:
    cold = frame_of(
        [
            _cold("a", 10, 0, timeouts=1, reported_invocations=100),  # 1%: warning
            _cold("b", 10, 0, timeouts=7, reported_invocations=100, timeout_trace_id="t-b"),  # 7%
            _cold("c", 4, 0, timeouts=1),  # no REPORT count: 1 in 4 traced, 25%
        ],
        COLD_START_SCHEMA,
    )
    table = frame_of(
        [
            _table("a", 100, faults=6, example_trace_id="t-a"),  # 6% faults: critical
            _table("b", 100, faults=2),  # 2%: warning
            _table("c", 100, errors=5),  # 5% errors: warning
            _table("d", 100, faults=0, errors=4),
            _table("e", 4, faults=4),  # too few invocations
        ],
        FUNCTION_TABLE_SCHEMA,
    )
    result = findings(cold_starts=cold, functions=table)
    timeouts = _by_subject(result, "timeout")
    assert {k: v["severity"] for k, v in timeouts.items()} == {
        "a": "warning",
        "b": "critical",
        "c": "critical",
    }
    assert timeouts["b"]["message"] == (
        "7 invocations timed out (REPORT status timeout): 7.0% of the function's 100 "
        "invocations in the logs and traces."
    )
    assert (timeouts["b"]["affected"], timeouts["b"]["share"]) == (7, 0.07)
    assert (timeouts["b"]["trace_id"], timeouts["a"]["trace_id"]) == ("t-b", None)
    failures = _by_subject(result, "failures")
    assert {k: v["severity"] for k, v in failures.items()} == {
        "a": "critical",
        "b": "warning",
        "c": "warning",
    }
    assert failures["a"]["trace_id"] == "t-a"
    assert failures["a"]["message"].startswith("6 faults (6.0%) and 0 errors (0.0%) in 100")


def test_throttle_findings_by_cause_and_recovery() -> None:
    throttles = frame_of(
        [
            {
                "source": "api/prod",
                "target": "off",
                "cause": "reserved_concurrency_zero",
                "throttled_attempts": 2,
                "throttled_calls": 2,
                "recovered_calls": 2,
                "first_time": at(5),
                "example_trace_id": "t-off",
            },
            {
                "source": "checkout",
                "target": "pay",
                "cause": "reserved_concurrency_reached",
                "throttled_attempts": 9,
                "throttled_calls": 3,
                "recovered_calls": 1,
                "first_time": at(1),
                "example_trace_id": "t-pay-1",
            },
            {
                "source": "client",
                "target": "pay",
                "cause": "reserved_concurrency_reached",
                "throttled_attempts": 1,
                "throttled_calls": 1,
                "recovered_calls": 0,
                "first_time": at(2),
                "example_trace_id": "t-pay-2",
            },
            {
                "source": "client",
                "target": "capped",
                "cause": "reserved_concurrency_reached",
                "throttled_attempts": 5,
                "throttled_calls": 5,
                "recovered_calls": 0,
                "first_time": at(4),
                "example_trace_id": "t-capped",
            },
            {
                "source": "client",
                "target": "spiky",
                "cause": "burst_scaling",
                "throttled_attempts": 4,
                "throttled_calls": 2,
                "recovered_calls": 2,
                "first_time": at(3),
                "example_trace_id": "t-spiky",
            },
        ],
        INVOCATION_THROTTLE_SCHEMA,
    )
    downstream = frame_of(
        [
            {
                "source": "orders",
                "service": "DynamoDB",
                "resource": "orders",
                "operation": "PutItem",
                "namespace": "aws",
                "throttled_calls": 5,
                "calls": 10,
                "throttle_rate": 0.5,
                "retries": 12,
                "exception_type": "ProvisionedThroughputExceededException",
                "example_trace_id": "t-ddb",
            },
            {
                "source": "orders",
                "service": "SQS",
                "resource": "q",
                "operation": "SendMessage",
                "namespace": "aws",
                "throttled_calls": 1,
                "calls": 100,
                "throttle_rate": 0.01,
                "retries": 1,
            },
            {
                "source": "orders",
                "service": "api.example.com",
                "resource": "api.example.com",
                "operation": "POST",
                "namespace": "remote",
                "throttled_calls": 2,
                "calls": 100,
                "throttle_rate": 0.02,
                "retries": 0,
            },
        ],
        DOWNSTREAM_THROTTLE_SCHEMA,
    )
    table = frame_of(
        [_table("pay", 100), _table("capped", 5), _table("spiky", 50)], FUNCTION_TABLE_SCHEMA
    )
    result = findings(
        invocation_throttles=throttles, downstream_throttles=downstream, functions=table
    )
    # Ranked by severity, then affected calls, then their share of the calls.
    assert result.select("severity", "kind", "subject", "affected").rows() == [
        ("critical", "downstream_throttle", "orders -> DynamoDB orders PutItem", 5),
        ("critical", "invocation_throttle", "capped", 5),  # 5 of 10 calls failed
        ("critical", "invocation_throttle", "off", 2),  # reserved concurrency 0
        ("warning", "invocation_throttle", "pay", 4),  # 3 failed in 103 calls: 2.9%
        ("warning", "invocation_throttle", "spiky", 2),  # 2 of 50 calls delayed: 4%
        ("warning", "downstream_throttle", "orders -> api.example.com api.example.com POST", 2),
        ("warning", "downstream_throttle", "orders -> SQS q SendMessage", 1),
    ]
    pay = _by_subject(result, "invocation_throttle")["pay"]
    assert pay["message"] == (
        "10 throttled invocation attempts (4 calls, 1 recovered by retries) from checkout, "
        "client; cause: reserved_concurrency_reached. 3 calls failed for good: 2.9% of the 103 "
        "traced calls to the function."
    )
    assert pay["trace_id"] == "t-pay-1"
    assert pay["key"] == "invocation_throttle:pay"
    assert json.loads(pay["evidence"]) == {
        "cause": "reserved_concurrency_reached",
        "throttled_attempts": 10,
        "retries_unknown": 0,
        "throttled_calls": 4,
        "recovered_calls": 1,
        "failed_calls": 3,
        "calls": 103,
        "failed_share": 0.029,
    }
    assert "reserved concurrency" in pay["recommendation"]
    assert "DeleteFunctionConcurrency" in result.row(2, named=True)["recommendation"]
    ddb = result.row(0, named=True)
    assert "on-demand capacity" in ddb["recommendation"]
    assert ddb["trace_id"] == "t-ddb"
    assert ddb["share"] == 0.5
    assert "Retry-After" in result.row(5, named=True)["recommendation"]
    assert "Service Quotas" in result.row(6, named=True)["recommendation"]


def test_dns_connection_and_bottleneck_findings() -> None:
    dns = frame_of(
        [
            {
                "function_name": "vpc-fn",
                "host": "db.internal",
                "lookups": 40,
                "invocations": 40,
                "failures": 3,
                "p50_ms": 2.0,
                "p95_ms": 30.0,
                "max_ms": 5000.0,
                "invocation_share": 0.02,
                "vpc_attached": True,
            },
            {
                "function_name": "web",
                "host": "api.example.com",
                "lookups": 10,
                "invocations": 10,
                "failures": 0,
                "p95_ms": 150.0,
                "invocation_share": 0.01,
            },
            {
                "function_name": "web",
                "host": "fast.example.com",
                "lookups": 10,
                "invocations": 10,
                "failures": 0,
                "p95_ms": 2.0,
                "invocation_share": 0.01,
            },
        ],
        DNS_SCHEMA,
    )
    setup = frame_of(
        [
            {
                "function_name": "web",
                "host": "api.example.com",
                "calls": 10,
                "dials": 9,
                "tls_handshakes": 9,
                "new_connections": 9,
                "new_connections_per_call": 0.9,
            },
            {
                "function_name": "web",
                "host": "kept.example.com",
                "calls": 10,
                "dials": 1,
                "new_connections": 1,
                "new_connections_per_call": 0.1,
            },
        ],
        CONNECTION_SETUP_SCHEMA,
    )
    slow = frame_of(
        [
            {
                "entry": "api GET /orders",
                "node": "orders Initialization",
                "node_type": "AWS::Lambda::Function",
                "node_kind": "initialization",
                "slow_share": 0.6,
                "slow_traces": 4,
                "slow_mean_ms": 800.0,
                "example_trace_id": "t-slow",
            },
            {
                "entry": "api GET /orders",
                "node": "orders",
                "node_type": "AWS::Lambda::Function",
                "node_kind": "function_code",
                "slow_share": 0.3,
                "slow_traces": 4,
            },
            {
                "entry": "api GET /orders",
                "node": "orders",
                "node_type": "AWS::Lambda",
                "node_kind": "lambda_service",
                "slow_share": 0.25,
                "slow_traces": 4,
            },
            {"entry": "api GET /orders", "node": "api", "slow_share": 0.1, "slow_traces": 4},
        ],
        BOTTLENECK_SCHEMA,
    )
    result = findings(dns=dns, connection_setup=setup, bottlenecks=slow)
    assert result.select("severity", "kind", "subject", "affected").rows() == [
        ("critical", "dns", "vpc-fn -> db.internal", 3),  # 3 of 40 invocations: 7.5%
        ("warning", "connection_reuse", "web -> api.example.com", 10),  # 0.9 per call
        ("warning", "dns", "web -> api.example.com", 10),  # p95 150 ms, every invocation
        ("warning", "bottleneck", "orders Initialization [initialization] @ api GET /orders", 4),
        ("info", "bottleneck", "orders [function_code] @ api GET /orders", 4),
        ("info", "bottleneck", "orders [lambda_service] @ api GET /orders", 4),
    ]
    assert "VPC endpoints" in result.row(0, named=True)["recommendation"]
    assert "keep-alive" in result.row(1, named=True)["recommendation"]
    assert "VPC endpoints" not in result.row(2, named=True)["recommendation"]
    init = result.row(3, named=True)
    assert init["message"] == (
        "orders Initialization (cold start) holds 60.0% of the critical path of the slowest "
        "requests to api GET /orders (800.0 ms per slow request, 4 slow traces)."
    )
    # one function, two kinds of time: the findings never read alike
    code, service = (result.row(i, named=True)["message"] for i in (4, 5))
    assert code.startswith("orders function code holds 30.0%")
    assert service.startswith("orders in the Lambda service before the function starts holds")
    assert "provisioned concurrency" in init["recommendation"]
    assert init["trace_id"] == "t-slow"


def _loop(path: list[str], calls: int, *, functions: int, confirmed: bool) -> dict[str, Any]:
    return {
        "path": " -> ".join([*path, path[0]]),
        "closing_resource": path[0],
        "functions": functions,
        "calls": calls,
        "confirmed": confirmed,
        "example_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
    }


def test_recursive_loop_names_the_resource_closing_it() -> None:
    loops = frame_of(
        [
            _loop(
                ["AWS::SQS::Queue:jobs", "AWS::Lambda::Function:app"],
                30,
                functions=1,
                confirmed=True,
            ),
            _loop(
                ["AWS::S3::Bucket:in", "AWS::Lambda::Function:tag"], 4, functions=1, confirmed=False
            ),
        ],
        LOOP_SCHEMA,
    )
    result = findings(loops=loops)
    assert result.select("severity", "kind", "impact").rows() == [
        ("critical", "recursive_loop", 30.0),
        ("warning", "recursive_loop", 4.0),
    ]
    first, second = result.get_column("message").to_list()
    assert first.startswith("Calls loop back to AWS::SQS::Queue:jobs: AWS::SQS::Queue:jobs -> ")
    assert "whether they trigger is unknown" in second


def test_end_to_end_from_spans() -> None:
    b = SpanBuilder()
    for i in range(6):
        inv = b.lambda_invocation(
            "orders",
            start_s=float(i),
            duration_ms=50.0,
            init="on_demand" if i < 3 else None,
            init_ms=2500.0,
        )
        b.aws_call(
            inv,
            "DynamoDB",
            "PutItem",
            resource="orders",
            start_s=i + 0.01,
            throttled=i % 2 == 0,
            retries=2 if i % 2 == 0 else 0,
        )
    b.throttled_request("payments", start_s=10.0)
    spans = b.frame()
    config = frame_of([{"function_name": "payments", "reserved_concurrency": 0}], FUNCTION_SCHEMA)
    result = findings(
        functions=function_table(spans, functions=config),
        cold_starts=cold_starts(spans),
        invocation_throttles=invocation_throttles(spans, functions=config),
        downstream_throttles=downstream_throttles(spans),
        dns=dns_lookups(spans),
        connection_setup=connection_setup(spans),
        bottlenecks=bottlenecks(spans),
        loops=resource_loops(spans),
    )
    assert dict(result.schema) == FINDING_SCHEMA
    top = result.filter(severity="critical").select("kind", "subject").rows()
    assert top == [
        ("cold_start", "orders"),
        ("downstream_throttle", "orders -> DynamoDB orders PutItem"),
        ("invocation_throttle", "payments"),
    ]


def test_throttled_attempts_with_unknown_retries_read_at_least() -> None:
    # 2 calls ended throttled after 4 attempts in all, one call recording no `retries`
    counts = {"throttled_attempts": 4, "throttled_calls": 2, "recovered_calls": 0}
    row = {"source": "checkout", "target": "pay", "cause": "unknown", "retries_unknown": 1}
    throttles = frame_of([row | counts], INVOCATION_THROTTLE_SCHEMA)
    result = findings(
        invocation_throttles=throttles,
        functions=frame_of([_table("pay", 100)], FUNCTION_TABLE_SCHEMA),
    )
    pay = _by_subject(result, "invocation_throttle")["pay"]
    assert pay["message"] == (
        "at least 4 throttled invocation attempts (2 calls, 0 recovered by retries; 1 without "
        "a `retries` field, SDK retries unknown) from checkout; cause: unknown. 2 calls failed "
        "for good: 2.0% of the 102 traced calls to the function."
    )
    assert json.loads(pay["evidence"])["retries_unknown"] == 1
    assert pay["affected"] == 2


def test_a_missing_count_reads_unknown_in_messages_not_zero() -> None:
    from analyses.finding_format import count

    frame = pl.DataFrame({"n": [3, None]}, schema={"n": pl.Int64()})
    assert frame.select(count("n")).to_series().to_list() == ["3", "unknown"]


def test_a_throttled_target_missing_from_the_function_table_is_not_critical() -> None:
    # the Invoke target is named as the function table does not name it (say, by ARN): its
    # traced invocations are unknown, not 0, so its failed calls are no share of anything
    counts = {"throttled_attempts": 2, "throttled_calls": 2, "recovered_calls": 0}
    row = {"source": "checkout", "target": "pay", "cause": "unknown", "retries_unknown": 0}
    throttles = frame_of([row | counts], INVOCATION_THROTTLE_SCHEMA)
    result = findings(
        invocation_throttles=throttles,
        functions=frame_of([_table("other", 100)], FUNCTION_TABLE_SCHEMA),
    )
    pay = _by_subject(result, "invocation_throttle")["pay"]
    assert pay["severity"] == "warning"
    assert pay["message"].endswith(
        "2 calls failed for good: its share of the calls to the function is unknown (no traced "
        "invocations)."
    )
    assert pay["share"] is None


def test_a_throttled_function_never_traced_running_is_not_critical() -> None:
    # every traced call to `pay` was refused and none of its runs is traced (it may not be
    # traced at all): the function table's 0 invocations are unknown, not "100% failed"
    b = SpanBuilder()
    for second in (1.0, 2.0, 3.0):
        b.throttled_request("pay", start_s=second)
    spans = b.frame()
    result = findings(
        functions=function_table(spans), invocation_throttles=invocation_throttles(spans)
    )
    pay = _by_subject(result, "invocation_throttle")["pay"]
    assert pay["severity"] == "warning"
    assert pay["message"].endswith(
        "its share of the calls to the function is unknown (no traced invocations)."
    )
    assert pay["share"] is None


def _who_waits_spans() -> pl.DataFrame:
    """An API whose cold function holds its slowest request; a queue consumer (linked trace,
    ``trigger`` ``sqs``) and an asynchronous S3 consumer, each slow in its own trace."""
    b = SpanBuilder()
    for i in range(4):
        base = 10.0 * i
        cold = i == 0
        api = b.caller(
            "api", start_s=base, duration_ms=1000.0 if cold else 400.0, origin=STAGE_ORIGIN
        )
        b.lambda_invocation(
            "orders",
            start_s=base + (0.7 if cold else 0.1),
            trace_id=api.trace_id,
            parent_id=api.segment_id,
            init="on_demand" if cold else None,
            init_ms=500.0,
        )
    consumers = [
        b.lambda_invocation(
            "fulfiller",
            start_s=100.0 + 10.0 * i,
            init="on_demand" if i == 0 else None,
            init_ms=500.0,
        ).service_id
        for i in range(4)
    ]
    for i in range(3):
        b.async_event("thumbnailer", start_s=200.0 + 10.0 * i, failed=[False], dwell_ms=900.0)
    linked = pl.col("id").is_in(consumers)
    return b.frame().with_columns(
        pl.when(linked).then(pl.lit("sqs")).otherwise(pl.col("trigger")).alias("trigger")
    )


def test_bottlenecks_nobody_waited_for_are_info_and_say_so() -> None:
    spans = _who_waits_spans()
    slow = bottlenecks(spans)
    traces = entry_traces(spans)
    paths = dict(traces.group_by("entry").agg(pl.col("invocation_path").unique()).rows())
    assert paths == {"api": ["sync"], "fulfiller": ["event_source"], "thumbnailer": ["async"]}
    # Before: every entry judged as if a caller waited (the consumer's init is a warning).
    before = _by_subject(findings(bottlenecks=slow), "bottleneck")
    fulfiller_init = "fulfiller Initialization [initialization] @ fulfiller"
    assert before[fulfiller_init]["severity"] == "warning"
    after = findings(bottlenecks=slow, entry_traces=traces)
    rows = _by_subject(after, "bottleneck")
    api_init = rows["orders Initialization [initialization] @ api"]
    assert api_init["severity"] == "warning"
    assert "slowest requests to api" in api_init["message"]
    assert json.loads(api_init["evidence"])["entry_path"] == "sync"
    for subject, row in rows.items():
        if subject.endswith(("@ fulfiller", "@ thumbnailer")):
            assert row["severity"] == "info", subject
            assert "no caller waited for them" in row["message"], subject
            assert "No caller waited" in row["recommendation"], subject
    consumer = rows[fulfiller_init]
    assert consumer["message"].endswith(
        "no caller waited for them: fulfiller is invoked by a queue's event source mapping."
    )
    assert json.loads(consumer["evidence"])["entry_path"] == "event_source"
    dwell = rows["thumbnailer [lambda_service] @ thumbnailer"]
    assert "thumbnailer is invoked asynchronously" in dwell["message"]
    assert not any(r["severity"] != "info" for s, r in rows.items() if "@ api" not in s)


def test_bottleneck_of_an_entry_whose_callers_are_unknown_keeps_its_severity() -> None:
    spans = _who_waits_spans()
    slow = bottlenecks(spans)
    # The consumer's traces hold no execution of it: who waited is unknown, not "nobody".
    unknown = entry_traces(spans).with_columns(
        pl.when(pl.col("entry") == "fulfiller")
        .then(pl.lit(None, pl.String()))
        .otherwise(pl.col("invocation_path"))
        .alias("invocation_path")
    )
    rows = _by_subject(findings(bottlenecks=slow, entry_traces=unknown), "bottleneck")
    consumer = rows["fulfiller Initialization [initialization] @ fulfiller"]
    assert consumer["severity"] == "warning"
    assert "no caller waited" not in consumer["message"]


def test_slow_dns_and_connection_setup_nobody_waited_for_are_info() -> None:
    dns = frame_of(
        [
            {
                "function_name": name,
                "host": "api.example.com",
                "lookups": 10,
                "invocations": 10,
                "failures": 0,
                "p95_ms": 150.0,
                "invocation_share": 0.01,
            }
            for name in ("web", "worker")
        ]
        + [
            {
                "function_name": "worker",
                "host": "db.internal",
                "lookups": 10,
                "invocations": 10,
                "failures": 3,
                "p95_ms": 2.0,
                "invocation_share": 0.01,
                "vpc_attached": True,
            }
        ],
        DNS_SCHEMA,
    )
    setup = frame_of(
        [
            {
                "function_name": name,
                "host": "api.example.com",
                "calls": 10,
                "dials": 9,
                "new_connections": 9,
                "new_connections_per_call": 0.9,
            }
            for name in ("web", "worker")
        ],
        CONNECTION_SETUP_SCHEMA,
    )
    cold = frame_of(
        [_cold("web", 10, 0), _cold("worker", 10, 0, sync_invocations=0)], COLD_START_SCHEMA
    )
    result = findings(dns=dns, connection_setup=setup, cold_starts=cold)
    assert result.select("severity", "kind", "subject").rows() == [
        # failed lookups lose work whoever waits: still critical (3 of 10, VPC)
        ("critical", "dns", "worker -> db.internal"),
        ("warning", "connection_reuse", "web -> api.example.com"),
        ("warning", "dns", "web -> api.example.com"),
        ("info", "connection_reuse", "worker -> api.example.com"),
        ("info", "dns", "worker -> api.example.com"),
    ]
    for kind in ("dns", "connection_reuse"):
        worker = _by_subject(result, kind)["worker -> api.example.com"]
        assert worker["message"].endswith(
            "No caller waited: none of the function's 10 traced invocations was synchronous "
            "(asynchronous, invoked by a queue's event source mapping, or after the entry "
            "answered)."
        )
        assert (
            "No caller waited" not in _by_subject(result, kind)["web -> api.example.com"]["message"]
        )
    # Without cold starts, who waited is unknown: judged as before.
    unknown = findings(dns=dns, connection_setup=setup)
    assert set(unknown.filter(pl.col("subject").str.starts_with("worker"))["severity"]) == {
        "critical",
        "warning",
    }
