from __future__ import annotations

import pytest

from analyses.functions import FUNCTION_TABLE_SCHEMA, function_table
from tests.builders.spans import SpanBuilder, frame_of
from tracelens.schema import FUNCTION_SCHEMA, REPORT_SCHEMA


def test_per_function_table_with_reports_and_config() -> None:
    b = SpanBuilder()
    traces = []
    for i, ms in enumerate((10.0, 20.0, 30.0, 40.0)):
        traces.append(
            b.lambda_invocation(
                "orders",
                start_s=float(i),
                duration_ms=ms,
                request_id=f"o{i}",
                init="on_demand" if i == 0 else None,
                fault=i == 3,
                error=i == 2,
            ).trace_id
        )
    faulted = traces[3]
    b.lambda_invocation("orders", start_s=9.0, duration_ms=None)  # in progress: no duration
    b.throttled_request("orders", start_s=5.0)
    b.throttled_request("payments", start_s=5.0)
    b.throttled_request("payments", start_s=6.0)
    reports = frame_of(
        [
            {
                "function_name": "orders",
                "request_id": "o1",
                "memory_size_mb": 256,
                "max_memory_used_mb": 90,
                "init_duration_ms": 300.0,
            },
            {
                "function_name": "orders",
                "request_id": "x",
                "memory_size_mb": 256,
                "max_memory_used_mb": 120,
                "status": "timeout",
            },
            {"function_name": "logs-only", "request_id": "y", "memory_size_mb": 128},
        ],
        REPORT_SCHEMA,
    )
    config = frame_of(
        [
            {
                "function_name": "orders",
                "memory_size_mb": 512,
                "vpc_attached": True,
                "runtime": "python3.12",
            },
            {"function_name": "idle", "memory_size_mb": 128},
        ],
        FUNCTION_SCHEMA,
    )
    result = function_table(b.frame(), reports=reports, functions=config)
    assert dict(result.schema) == FUNCTION_TABLE_SCHEMA
    assert result["function_name"].to_list() == ["orders", "logs-only", "payments"]
    orders = result.row(0, named=True)
    assert (orders["invocations"], orders["errors"], orders["faults"]) == (5, 1, 1)
    assert (orders["throttled"], orders["cold_starts"], orders["timeouts"]) == (1, 2, 1)
    assert orders["duration_p50_ms"] == pytest.approx(25.0)
    assert orders["duration_p95_ms"] == pytest.approx(38.5)
    assert orders["duration_p99_ms"] == pytest.approx(39.7)
    assert (orders["memory_size_mb"], orders["max_memory_used_mb"]) == (512, 120)
    assert orders["vpc_attached"] is True
    assert orders["example_trace_id"] == faulted
    logs_only = result.row(1, named=True)
    assert (logs_only["invocations"], logs_only["memory_size_mb"]) == (0, 128)
    assert logs_only["vpc_attached"] is None
    payments = result.row(2, named=True)
    assert (payments["invocations"], payments["throttled"]) == (0, 2)
    assert (orders["throttled_retries_unknown"], payments["throttled_retries_unknown"]) == (0, 0)
    assert payments["duration_p50_ms"] is None


def test_throttled_calls_without_retries_make_the_count_a_lower_bound() -> None:
    b = SpanBuilder()
    checkout = b.caller("checkout", start_s=0.0)
    b.invoke_call(checkout, "payments", start_s=0.1, throttled=True, retries=None)
    b.invoke_call(checkout, "payments", start_s=0.2, throttled=True, retries=None)
    b.invoke_call(checkout, "payments", start_s=0.3, throttled=True, retries=2)
    b.invoke_call(checkout, "orders", start_s=0.4, throttled=True, retries=1)
    result = function_table(b.frame())
    rows = {row["function_name"]: row for row in result.iter_rows(named=True)}
    # 1 + 1 attempts for the calls without a `retries` field (at least), 3 for the other.
    assert (rows["payments"]["throttled"], rows["payments"]["throttled_retries_unknown"]) == (5, 2)
    assert (rows["orders"]["throttled"], rows["orders"]["throttled_retries_unknown"]) == (2, 0)


def test_no_lambda_data_gives_empty_table() -> None:
    result = function_table(SpanBuilder().frame())
    assert result.is_empty()
    assert dict(result.schema) == FUNCTION_TABLE_SCHEMA
