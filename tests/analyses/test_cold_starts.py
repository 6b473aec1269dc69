from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from analyses.cold_starts import COLD_START_SCHEMA, cold_starts
from tests.builders.spans import SpanBuilder, frame_of
from tracelens.schema import REPORT_SCHEMA


def _report(function: str | None, request_id: str | None, **fields: Any) -> dict[str, Any]:
    return {"function_name": function, "request_id": request_id, "duration_ms": 10.0, **fields}


def _by_function(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["function_name"]: row for row in frame.iter_rows(named=True)}


@pytest.fixture
def mixed() -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """orders: 10 traced (3 on-demand, 1 provisioned, 1 cold only in its REPORT, 5 warm),
    java-fn: 2 SnapStart restores + 2 warm, logs-only: REPORTs only."""
    b = SpanBuilder()
    for i in range(5):
        b.lambda_invocation("orders", start_s=10.0 + i, request_id=f"w{i}")
    b.lambda_invocation("orders", start_s=20.0, init="on_demand", init_ms=200.0, request_id="c1")
    b.lambda_invocation("orders", start_s=21.0, init="on_demand", init_ms=300.0)
    slowest = b.lambda_invocation("orders", start_s=22.0, init="on_demand", init_ms=600.0)
    b.lambda_invocation(
        "orders", start_s=900.0, init="provisioned", init_ms=800.0, init_gap_ms=600_000.0
    )
    b.lambda_invocation("orders", start_s=23.0, request_id="w5")
    for i, ms in enumerate((150.0, 250.0)):
        b.lambda_invocation("java-fn", start_s=30.0 + i, init="snapstart", init_ms=ms)
        b.lambda_invocation("java-fn", start_s=40.0 + i)
    reports = frame_of(
        [
            _report("orders", "c1", init_duration_ms=999.0),  # the trace's 200 ms wins
            _report("orders", "w5", init_duration_ms=450.0),  # fills the trace's missing init
            _report("orders", "w1"),
            _report("orders", "u1", init_duration_ms=500.0),  # untraced cold start
            _report(None, "w2", status="timeout"),  # named through its traced execution
            _report("logs-only", "l1", init_duration_ms=700.0),
            _report("logs-only", "l2", status="timeout"),
            _report("logs-only", None),
        ],
        REPORT_SCHEMA,
    )
    return b.frame(), reports, slowest.trace_id


def test_counts_rates_and_percentiles_with_reports(
    mixed: tuple[pl.DataFrame, pl.DataFrame, str],
) -> None:
    spans, reports, slowest_trace = mixed
    result = cold_starts(spans, reports=reports)
    assert dict(result.schema) == COLD_START_SCHEMA
    assert result["function_name"].to_list() == ["java-fn", "logs-only", "orders"]
    orders = _by_function(result)["orders"]
    assert orders["invocations"] == 10
    assert orders["cold_starts"] == 5
    assert (orders["on_demand"], orders["provisioned"], orders["snapstart"]) == (4, 1, 0)
    assert orders["cold_start_rate"] == pytest.approx(0.5)
    assert orders["user_facing_cold_start_rate"] == pytest.approx(0.4)
    assert orders["cold_starts_from_logs"] == 1
    # user-facing inits: 200, 300, 600 (traces), 450 (REPORT fill), 500 (logs only)
    assert orders["init_p50_ms"] == pytest.approx(450.0)
    assert orders["init_p95_ms"] == pytest.approx(580.0)
    assert orders["init_p99_ms"] == pytest.approx(596.0)
    assert orders["init_max_ms"] == pytest.approx(600.0)
    assert orders["provisioned_init_p50_ms"] == pytest.approx(800.0)
    assert orders["provisioned_init_max_ms"] == pytest.approx(800.0)
    assert orders["timeouts"] == 1
    assert orders["example_trace_id"] == slowest_trace


def test_snapstart_and_logs_only_functions(mixed: tuple[pl.DataFrame, pl.DataFrame, str]) -> None:
    spans, reports, _ = mixed
    rows = _by_function(cold_starts(spans, reports=reports))
    java = rows["java-fn"]
    assert (java["invocations"], java["cold_starts"], java["snapstart"]) == (4, 2, 2)
    assert java["user_facing_cold_start_rate"] == pytest.approx(0.5)
    assert java["init_p50_ms"] == pytest.approx(200.0)
    assert java["init_p95_ms"] == pytest.approx(245.0)
    assert java["init_p99_ms"] == pytest.approx(249.0)
    assert java["provisioned_init_p50_ms"] is None
    assert java["timeouts"] == 0
    logs_only = rows["logs-only"]
    assert (logs_only["invocations"], logs_only["cold_starts"]) == (0, 0)
    assert logs_only["cold_starts_from_logs"] == 1
    assert logs_only["cold_start_rate"] is None
    assert logs_only["init_p50_ms"] == pytest.approx(700.0)
    assert logs_only["timeouts"] == 1


def test_without_reports_traces_alone() -> None:
    b = SpanBuilder()
    b.lambda_invocation("f", start_s=0.0, init="on_demand", init_ms=100.0)
    b.lambda_invocation("f", start_s=1.0, init="on_demand", init_ms=300.0)
    b.lambda_invocation("f", start_s=2.0)
    b.lambda_invocation("f", start_s=3.0)
    row = cold_starts(b.frame()).row(0, named=True)
    assert (row["invocations"], row["cold_starts"], row["on_demand"]) == (4, 2, 2)
    assert row["cold_start_rate"] == pytest.approx(0.5)
    assert row["init_p50_ms"] == pytest.approx(200.0)
    assert row["init_p95_ms"] == pytest.approx(290.0)
    # only logs show these: without them they are unknown, not 0
    assert (row["cold_starts_from_logs"], row["timeouts"]) == (None, None)


def test_provisioned_inits_do_not_inflate_user_facing_percentiles() -> None:
    b = SpanBuilder()
    b.lambda_invocation(
        "f", start_s=600.0, init="provisioned", init_ms=5000.0, init_gap_ms=300_000.0
    )
    b.lambda_invocation("f", start_s=601.0)
    row = cold_starts(b.frame()).row(0, named=True)
    assert (row["cold_starts"], row["provisioned"]) == (1, 1)
    assert row["user_facing_cold_start_rate"] == pytest.approx(0.0)
    assert row["init_p50_ms"] is None
    assert row["init_max_ms"] is None
    assert row["provisioned_init_max_ms"] == pytest.approx(5000.0)
    assert row["example_trace_id"] is None


def test_restore_duration_in_report_is_snapstart() -> None:
    b = SpanBuilder()
    b.lambda_invocation("j", start_s=0.0, request_id="r1")
    reports = frame_of(
        [
            _report("j", "r1", restore_duration_ms=120.0),
            _report("j", "r2", restore_duration_ms=80.0),
        ],
        REPORT_SCHEMA,
    )
    row = cold_starts(b.frame(), reports=reports).row(0, named=True)
    assert (row["snapstart"], row["cold_starts_from_logs"]) == (1, 1)
    assert row["init_p50_ms"] == pytest.approx(100.0)


@pytest.mark.parametrize("with_reports", [False, True])
def test_no_lambda_data_gives_empty_frame(with_reports: bool) -> None:
    reports = frame_of([], REPORT_SCHEMA) if with_reports else None
    result = cold_starts(SpanBuilder().frame(), reports=reports)
    assert result.is_empty()
    assert dict(result.schema) == COLD_START_SCHEMA


def test_reports_without_report_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="reports frame is missing columns"):
        cold_starts(SpanBuilder().frame(), reports=pl.DataFrame({"request_id": ["r"]}))


def test_a_timeout_names_an_example_trace_from_its_report_or_its_traced_execution() -> None:
    b = SpanBuilder()
    traced = b.lambda_invocation("traced", start_s=0.0, request_id="t1")
    b.lambda_invocation("logged", start_s=0.0, request_id="l0")
    reports = frame_of(
        [
            _report("traced", "t1", status="timeout"),  # no XRAY line: its traced execution
            _report(
                "logged", "l1", status="timeout", trace_id="1-5759e988-bd862e3fe1be46a994272793"
            ),
            _report("untraced", "u1", status="timeout"),  # neither: unknown
            _report("untraced", "u2", trace_id="1-5759e988-00000000000000000000000a"),  # no timeout
        ],
        REPORT_SCHEMA,
    )
    rows = _by_function(cold_starts(b.frame(), reports=reports))
    assert rows["traced"]["timeout_trace_id"] == traced.trace_id
    assert rows["logged"]["timeout_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert rows["untraced"]["timeout_trace_id"] is None
