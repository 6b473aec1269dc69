from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import analyses.throttles as th
from analyses.throttles import (
    DOWNSTREAM_THROTTLE_SCHEMA,
    INVOCATION_THROTTLE_SCHEMA,
    THROTTLE_TIMELINE_SCHEMA,
    downstream_throttles,
    invocation_throttles,
    throttle_timeline,
    throttled_attempts,
)
from tests.builders.spans import SpanBuilder, at, frame_of
from tracelens.ingest.loader import load_traces
from tracelens.schema import FUNCTION_SCHEMA, METRIC_SCHEMA


def _rows(frame: pl.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    return frame.select(columns).rows()


def _metric(
    function: str | None, metric: str, minute: int, value: float, stat: str = "Maximum"
) -> dict[str, Any]:
    return {
        "function_name": function,
        "metric": metric,
        "stat": stat,
        "timestamp": at(60.0 * minute),
        "value": value,
    }


@pytest.fixture
def callers() -> SpanBuilder:
    """Throttles seen from callers: an API stage, a function retrying, untraced clients."""
    b = SpanBuilder()
    api = b.caller("orders-api/prod", origin="AWS::ApiGateway::Stage", start_s=10.0)
    call = b.invoke_call(api, "orders", start_s=10.1, throttled=True)
    b.throttled_request("orders", trace_id=api.trace_id, parent_id=call, start_s=10.101)

    checkout = b.lambda_invocation("checkout", start_s=20.0, duration_ms=900.0).as_caller()
    # every SDK try throttled: 3 AWS::Lambda refusals under one subsegment
    failed = b.invoke_call(checkout, "payments", start_s=20.1, throttled=True, retries=2)
    for k in range(3):
        b.throttled_request(
            "payments", trace_id=checkout.trace_id, parent_id=failed, start_s=20.1 + 0.05 * k
        )
    # two tries throttled, the third got through
    recovered = b.invoke_call(checkout, "payments", start_s=20.5, retries=2)
    for k in range(2):
        b.throttled_request(
            "payments", trace_id=checkout.trace_id, parent_id=recovered, start_s=20.5 + 0.05 * k
        )
    b.lambda_invocation("payments", start_s=20.62, trace_id=checkout.trace_id, parent_id=recovered)
    # the caller saw a 429 after one retry, Lambda's side was not recorded
    b.invoke_call(checkout, "payments", start_s=20.8, throttled=True, retries=1)

    b.throttled_request("orders", start_s=30.0)
    b.throttled_request("orders", start_s=31.0)
    b.throttled_request("orders", start_s=32.0, parent_id="00000000deadbeef")
    return b


def test_attempts_sources_and_recovery(callers: SpanBuilder) -> None:
    result = invocation_throttles(callers.frame())
    assert dict(result.schema) == INVOCATION_THROTTLE_SCHEMA
    assert _rows(
        result,
        "source",
        "target",
        "absorbed_by",
        "throttled_attempts",
        "throttled_calls",
        "recovered_calls",
        "cause",
    ) == [
        ("checkout", "payments", "checkout", 7, 3, 1, "unknown"),
        ("client", "orders", "client", 2, 2, 0, "unknown"),
        ("orders-api/prod", "orders", "orders-api/prod", 1, 1, 0, "unknown"),
        ("unknown", "orders", "unknown", 1, 1, 0, "unknown"),
    ]
    checkout = result.row(0, named=True)
    assert checkout["first_time"] == at(20.1)
    assert checkout["last_time"] == at(20.8)
    assert result.filter(source="client")["first_time"].item() == at(30.0)


def test_no_throttles_gives_empty_frames() -> None:
    b = SpanBuilder()
    b.lambda_invocation("f", start_s=0.0)
    spans = b.frame()
    for frame, schema in (
        (invocation_throttles(spans), INVOCATION_THROTTLE_SCHEMA),
        (downstream_throttles(spans), DOWNSTREAM_THROTTLE_SCHEMA),
        (throttle_timeline(spans), THROTTLE_TIMELINE_SCHEMA),
        (invocation_throttles(SpanBuilder().frame()), INVOCATION_THROTTLE_SCHEMA),
        (downstream_throttles(SpanBuilder().frame()), DOWNSTREAM_THROTTLE_SCHEMA),
        (throttle_timeline(SpanBuilder().frame()), THROTTLE_TIMELINE_SCHEMA),
    ):
        assert frame.is_empty()
        assert dict(frame.schema) == schema


def _cause_spans() -> pl.DataFrame:
    b = SpanBuilder()
    b.throttled_request("disabled", start_s=10.0)  # minute 0
    b.throttled_request("payments", start_s=70.0)  # minute 1
    b.throttled_request("orders", start_s=130.0)  # minute 2
    b.throttled_request("reports", start_s=310.0)  # minute 5
    b.throttled_request("spiky", start_s=250.0)  # minute 4
    b.throttled_request("spiky", start_s=190.0)  # minute 3: no step
    b.throttled_request("mystery", start_s=10.0)
    b.throttled_request(
        "worker",
        start_s=10.0,
        message="Rate Exceeded. ReservedFunctionConcurrentInvocationLimitExceeded",
    )
    return b.frame()


def _cause_inputs() -> tuple[pl.DataFrame, pl.DataFrame]:
    functions = frame_of(
        [
            {"function_name": "disabled", "reserved_concurrency": 0},
            {"function_name": "payments", "reserved_concurrency": 10},
            {"function_name": "orders"},
            {"function_name": "reports"},
            {"function_name": "spiky"},
        ],
        FUNCTION_SCHEMA,
    )
    metrics = frame_of(
        [
            _metric("payments", "ConcurrentExecutions", 1, 10.0),
            _metric("payments", "ConcurrentExecutions", 1, 4.0, stat="Average"),
            _metric(None, "ConcurrentExecutions", 2, 1000.0),
            _metric(None, "ConcurrentExecutions", 5, 995.0),
            _metric(None, "UnreservedConcurrentExecutions", 5, 990.0),
            _metric("spiky", "ConcurrentExecutions", 2, 50.0),
            _metric("spiky", "ConcurrentExecutions", 3, 60.0),
            _metric("spiky", "ConcurrentExecutions", 4, 120.0),
            _metric(None, "ConcurrentExecutions", 4, 300.0),
        ],
        METRIC_SCHEMA,
    )
    return functions, metrics


def test_causes_from_configuration_and_metrics() -> None:
    functions, metrics = _cause_inputs()
    result = invocation_throttles(
        _cause_spans(), metrics=metrics, functions=functions, account_concurrency_limit=1000
    )
    causes = {(r["target"], r["first_time"]): r["cause"] for r in result.iter_rows(named=True)}
    assert causes == {
        ("disabled", at(10.0)): "reserved_concurrency_zero",
        ("payments", at(70.0)): "reserved_concurrency_reached",
        ("orders", at(130.0)): "account_concurrency_limit",
        # unreserved pool = 1000 - 10 reserved by payments
        ("reports", at(310.0)): "account_concurrency_limit",
        ("spiky", at(250.0)): "burst_scaling",
        ("spiky", at(190.0)): "unknown",
        ("mystery", at(10.0)): "unknown",
        ("worker", at(10.0)): "reserved_concurrency_reached",
    }


def test_account_rules_need_the_limit_and_a_reservation_shields() -> None:
    functions, metrics = _cause_inputs()
    result = invocation_throttles(_cause_spans(), metrics=metrics, functions=functions)
    by_target = dict(_rows(result.filter(pl.col("target") != "spiky"), "target", "cause"))
    assert by_target["orders"] == "unknown"
    assert by_target["reports"] == "unknown"
    # payments is reserved: an account at its limit does not explain its throttles
    shielded = functions.with_columns(pl.lit(50, pl.Int32).alias("reserved_concurrency"))
    result = invocation_throttles(
        _cause_spans(), metrics=metrics, functions=shielded, account_concurrency_limit=1000
    )
    assert dict(_rows(result, "target", "cause"))["orders"] == "unknown"


def test_limit_reached_fraction_loosens_the_rule() -> None:
    functions, metrics = _cause_inputs()
    metrics = metrics.with_columns(
        pl.when(pl.col("function_name") == "payments").then(9.0).otherwise("value").alias("value")
    )
    strict = invocation_throttles(_cause_spans(), metrics=metrics, functions=functions)
    loose = invocation_throttles(
        _cause_spans(), metrics=metrics, functions=functions, limit_reached_fraction=0.9
    )
    # 9 of 10 is not the limit; from no datapoint before, the step reads as scaling
    assert dict(_rows(strict, "target", "cause"))["payments"] == "burst_scaling"
    assert dict(_rows(loose, "target", "cause"))["payments"] == "reserved_concurrency_reached"


def _downstream_spans(b: SpanBuilder | None = None) -> tuple[pl.DataFrame, str]:
    b = b or SpanBuilder()
    inv = b.lambda_invocation("orders", start_s=0.0, duration_ms=5000.0)
    first = b.aws_call(
        inv,
        "DynamoDB",
        "PutItem",
        resource="orders",
        start_s=0.5,
        throttled=True,
        retries=3,
        nested_steps=2,
    )
    b.aws_call(
        inv,
        "DynamoDB",
        "PutItem",
        resource="orders",
        start_s=1.0,
        http_status=400,
        exception_type="ProvisionedThroughputExceededException",
    )
    b.aws_call(inv, "DynamoDB", "PutItem", resource="orders", start_s=1.5, retries=1)
    b.aws_call(inv, "DynamoDB", "PutItem", resource="orders", start_s=2.0)
    b.aws_call(inv, "SQS", "SendMessage", resource="q", start_s=2.5, retries=2)
    b.aws_call(
        inv,
        "Kinesis",
        "PutRecord",
        resource="clicks",
        start_s=3.0,
        http_status=400,
        exception_type="com.amazonaws.services.kinesis.model."
        "ProvisionedThroughputExceededException",
    )
    b.aws_call(
        inv,
        "api.example.com",
        "POST",
        resource=None,
        start_s=3.5,
        throttled=True,
        namespace="remote",
        host="api.example.com",
    )
    b.invoke_call(inv.as_caller(), "payments", start_s=4.0, throttled=True)
    web = b.caller("web", start_s=100.0)
    b.aws_call(
        web,
        "DynamoDB",
        "Query",
        resource="orders",
        start_s=100.1,
        http_status=400,
        exception_type="ThrottlingException",
    )
    return b.frame(), f"{inv.trace_id}|{first}"


def test_downstream_throttles_count_outermost_calls_only() -> None:
    spans, example = _downstream_spans()
    trace_id, _ = example.split("|")
    result = downstream_throttles(spans)
    assert dict(result.schema) == DOWNSTREAM_THROTTLE_SCHEMA
    assert _rows(
        result,
        "source",
        "service",
        "resource",
        "operation",
        "throttled_calls",
        "calls",
        "retries",
        "exception_type",
    ) == [
        (
            "orders",
            "DynamoDB",
            "orders",
            "PutItem",
            2,
            4,
            4,
            "ProvisionedThroughputExceededException",
        ),
        (
            "orders",
            "Kinesis",
            "clicks",
            "PutRecord",
            1,
            1,
            0,
            "com.amazonaws.services.kinesis.model.ProvisionedThroughputExceededException",
        ),
        ("orders", "api.example.com", "api.example.com", "POST", 1, 1, 0, None),
        ("web", "DynamoDB", "orders", "Query", 1, 1, 0, "ThrottlingException"),
    ]
    dynamo = result.row(0, named=True)
    assert dynamo["throttle_rate"] == pytest.approx(0.5)
    assert dynamo["first_time"] == at(0.5)
    assert dynamo["last_time"] == at(1.0)
    assert dynamo["cause"] == "downstream_api_limit"
    assert dynamo["example_trace_id"] == trace_id


def test_timeline_buckets_traces_and_metrics(callers: SpanBuilder) -> None:
    both, _ = _downstream_spans(callers)
    metrics = frame_of(
        [
            _metric("orders", "Throttles", 0, 5.0, stat="Sum"),
            _metric("orders", "Throttles", 1, 0.0, stat="Sum"),
            _metric("orders", "Invocations", 0, 50.0, stat="Sum"),
        ],
        METRIC_SCHEMA,
    )
    result = throttle_timeline(both, metrics=metrics)
    assert dict(result.schema) == THROTTLE_TIMELINE_SCHEMA
    assert _rows(result, "minute", "kind", "subject", "throttled") == [
        (at(0), "downstream", "DynamoDB orders", 2),
        (at(0), "downstream", "Kinesis clicks", 1),
        (at(0), "downstream", "api.example.com api.example.com", 1),
        (at(0), "invocation", "orders", 4),
        (at(0), "invocation", "payments", 8),
        (at(0), "metric", "orders", 5),
        (at(60), "downstream", "DynamoDB orders", 1),
    ]


def test_attempts_of_a_call_without_retries_field_are_a_lower_bound() -> None:
    b = SpanBuilder()
    checkout = b.lambda_invocation("checkout", start_s=20.0, duration_ms=900.0).as_caller()
    # ended throttled, no `retries` field: one try at least, maybe more
    b.invoke_call(checkout, "payments", start_s=20.1, throttled=True, retries=None)
    # ended throttled after 2 recorded retries: exactly 3 tries
    b.invoke_call(checkout, "payments", start_s=20.5, throttled=True, retries=2)
    spans = b.frame()
    result = invocation_throttles(spans)
    assert _rows(result, "target", "throttled_attempts", "throttled_calls", "retries_unknown") == [
        ("payments", 4, 2, 1)
    ]
    known = SpanBuilder()
    caller = known.lambda_invocation("checkout", start_s=20.0, duration_ms=900.0).as_caller()
    known.invoke_call(caller, "payments", start_s=20.1, throttled=True, retries=1)
    assert invocation_throttles(known.frame())["retries_unknown"].to_list() == [0]


def _with_refusals_under_subsegments(b: SpanBuilder) -> SpanBuilder:
    """Refusals under a subsegment that is no Invoke call: one owned by its segment, one whose
    ``segment_id`` names another segment than the one it hangs under."""
    for k, owner in enumerate(("web", "batch")):
        app = b.caller("web", start_s=40.0 + k)
        other = b.caller("batch", trace_id=app.trace_id, start_s=40.0 + k)
        step = b.span(
            trace_id=app.trace_id,
            parent_id=app.segment_id,
            segment_id=app.segment_id if owner == "web" else other.segment_id,
            name="work",
            start_s=40.1 + k,
            duration_ms=5.0,
        )
        b.throttled_request("orders", trace_id=app.trace_id, parent_id=step, start_s=40.2 + k)
    return b


SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


@pytest.mark.parametrize("sample", ["callers", "under_subsegments", "real_world"])
def test_owners_read_through_the_tree_equal_the_owners_looked_up_by_id(
    sample: str, callers: SpanBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sample == "real_world":
        spans = load_traces(sorted((SAMPLES / "real_world").glob("*.json*"))).spans
    elif sample == "callers":
        spans = callers.frame()
    else:
        spans = _with_refusals_under_subsegments(SpanBuilder()).frame()
    through_tree = throttled_attempts(spans)
    assert through_tree.height > 0
    monkeypatch.setattr(th, "_tree_owner_names", lambda *_args: None)
    monkeypatch.setattr(th, "_tree_parent_owner_names", lambda *_args: None)
    assert_frame_equal(throttled_attempts(spans), through_tree)


def test_refusal_owners_follow_segment_ids() -> None:
    spans = _with_refusals_under_subsegments(SpanBuilder()).frame()
    refusals = th._refusals(spans).sort("time")
    # The second refusal's parent says it belongs to "batch": the tree, which puts it under
    # "web", is not asked.
    assert th._tree_parent_owner_names(spans, refusals["row"].head(1)) is not None
    assert th._tree_parent_owner_names(spans, refusals["row"]) is None
    attempts = throttled_attempts(spans).sort("time")
    assert attempts["source"].to_list() == ["web", "batch"]
