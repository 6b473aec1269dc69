"""A small serverless app with something wrong in every section, for the report tests.

An API stage invokes ``orders`` (VPC, DNS lookups to a payment host, a DynamoDB table that
throttles), ``orders`` invokes ``payments`` (throttled, reserved concurrency reached), and a
function and a host carry script-injection names. Trace ids follow X-Ray's format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from tests.builders.spans import Caller, Invocation, SpanBuilder, at, frame_of
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.ingest.decoders.base import ReadStats
from tracelens.ingest.loader import TraceInput
from tracelens.ingest.rejections import RejectionLog
from tracelens.inputs import Inputs
from tracelens.schema import FUNCTION_SCHEMA, METRIC_SCHEMA
from tracelens.sideinputs import FunctionInventory

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_BREAKOUT = "</script><img src=x onerror=alert(1)>"
PAYMENTS_HOST = "api.payments.example.com"
REGION = "eu-west-1"


def _dns(
    b: SpanBuilder, inv: Invocation, call: str, *, start_s: float, ms: float, host: str
) -> None:
    b.span(
        trace_id=inv.trace_id,
        parent_id=call,
        segment_id=inv.function_id,
        depth=3,
        name="dns",
        start_s=start_s,
        duration_ms=ms,
        host=host,
    )


def _order_trace(b: SpanBuilder, k: int) -> None:
    start = 60.0 * (k // 10) + 2.0 * (k % 10)
    api = b.caller(
        "orders-api/prod",
        origin="AWS::ApiGateway::Stage",
        start_s=start,
        duration_ms=900.0 if k % 10 == 9 else 160.0,
    )
    call = b.invoke_call(api, "orders", start_s=start + 0.01, duration_ms=140.0)
    kind = ("on_demand", None, None, "provisioned", None)[k % 5]
    inv = b.lambda_invocation(
        "orders",
        start_s=start + 0.02,
        duration_ms=120.0 + (600.0 if k % 10 == 9 else 0.0),
        trace_id=api.trace_id,
        parent_id=call,
        init=kind,
        init_ms=300.0 + 40.0 * k,
        init_gap_ms=5000.0 if kind == "provisioned" else 0.0,
    )
    b.aws_call(
        inv,
        "DynamoDB",
        "PutItem",
        resource="orders",
        start_s=start + 0.03,
        duration_ms=8.0,
        throttled=k % 7 == 0,
        exception_type="ProvisionedThroughputExceededException" if k % 7 == 0 else None,
    )
    slow = 600.0 if k % 10 == 9 else 40.0
    remote = b.aws_call(
        inv,
        PAYMENTS_HOST,
        "POST",
        resource=None,
        start_s=start + 0.04,
        duration_ms=slow,
        namespace="remote",
        host=PAYMENTS_HOST,
    )
    _dns(b, inv, remote, start_s=start + 0.04, ms=3.0 + (k % 4) * 30.0, host=PAYMENTS_HOST)
    if k % 4 == 0:
        _payments(b, inv.as_caller(), start + 0.1)


def _payments(b: SpanBuilder, orders: Caller, start: float) -> None:
    failed = b.invoke_call(orders, "payments", start_s=start, throttled=True, retries=1)
    for attempt in range(2):
        b.throttled_request(
            "payments",
            trace_id=orders.trace_id,
            parent_id=failed,
            start_s=start + 0.01 * attempt,
            message="Rate Exceeded. ReservedFunctionConcurrentInvocationLimitExceeded",
        )


def _hostile_trace(b: SpanBuilder) -> None:
    api = b.caller(XSS_SCRIPT, start_s=30.0, duration_ms=200.0)
    call = b.invoke_call(api, XSS_BREAKOUT, start_s=30.01)
    inv = b.lambda_invocation(
        XSS_BREAKOUT,
        start_s=30.02,
        trace_id=api.trace_id,
        parent_id=call,
        init="on_demand",
        init_ms=900.0,
        fault=True,
    )
    remote = b.aws_call(
        inv,
        XSS_BREAKOUT,
        "GET",
        resource=None,
        start_s=30.03,
        duration_ms=50.0,
        namespace="remote",
        host=XSS_BREAKOUT,
        exception_type=XSS_SCRIPT,
    )
    _dns(b, inv, remote, start_s=30.03, ms=45.0, host=XSS_BREAKOUT)


def scenario_spans(traces: int = 40) -> pl.DataFrame:
    b = SpanBuilder()
    for k in range(traces):
        _order_trace(b, k)
    _hostile_trace(b)
    return b.frame()


def _function(name: str, **fields: Any) -> dict[str, Any]:
    row = {
        "function_name": name,
        "function_arn": f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        "runtime": "python3.12",
        "memory_size_mb": 512,
        "timeout_s": 30,
        "vpc_attached": False,
        "snapstart": False,
    }
    return row | fields


def scenario_inputs(traces: int = 40, *, region: str | None = None) -> Inputs:
    """Traces, metrics and configuration of the scenario, with two rejected documents."""
    spans = scenario_spans(traces)
    rejections = RejectionLog()
    rejections.add(f"exports/{XSS_BREAKOUT}.json", "line 3", f"invalid JSON: {XSS_SCRIPT}")
    rejections.add("exports/batch-2.json", "Traces[0].Segments[4]", "missing required field: `id`")
    documents = spans.filter(pl.col("kind") == "segment").height
    metrics = frame_of(
        [
            {
                "function_name": "payments",
                "metric": "Throttles",
                "stat": "Sum",
                "timestamp": at(60.0 * m),
                "value": 12.0 + m,
            }
            for m in range(traces // 10)
        ],
        METRIC_SCHEMA,
    )
    config = frame_of(
        [
            _function("orders", vpc_attached=True, vpc_id="vpc-0a1b2c3d"),
            _function("payments", reserved_concurrency=2),
            _function(XSS_BREAKOUT, runtime="nodejs20.x"),
        ],
        FUNCTION_SCHEMA,
    )
    trace_input = TraceInput(
        spans=spans,
        documents=documents + rejections.count,
        segments=documents,
        duplicates=1,
        rejections=rejections,
        sources=2,
        read_stats=ReadStats(
            unprocessed_trace_ids=["1-66322f00-000000000000000000000abc"], limit_exceeded_traces=1
        ),
    )
    return Inputs(
        traces=trace_input,
        metrics=metrics,
        functions=FunctionInventory(
            config, account_concurrency_limit=1000, unreserved_concurrency_limit=None
        ),
        region=region,
    )


def scenario_result(traces: int = 40) -> AnalysisResult:
    return run_analysis(scenario_inputs(traces))


GENERATED_AT = datetime(2024, 5, 1, 13, 0, 0, tzinfo=UTC)
