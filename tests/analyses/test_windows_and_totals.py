"""Windows and totals: --since/--until on logs and metrics given as files, CloudWatch totals
next to the sampled traces, and the traces' window in the report header.

Reads the bundled sample (sample_traces/: traces, logs and metrics of 2026-11-20 09:00-10:00
UTC, traces kept 1 in 4) and one hand-built provisioned-concurrency trace.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from analyses.completeness import traffic_window
from analyses.invocations import invocations
from analyses.metric_totals import METRIC_TOTALS_SCHEMA, metric_totals
from tests.builders.spans import SpanBuilder, at
from tracelens.analysis import run_analysis
from tracelens.contract import to_contract
from tracelens.inputs import Inputs, load_inputs
from tracelens.schema import METRIC_SCHEMA, conform
from tracelens.timewindow import TimeWindow

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


@pytest.fixture(scope="module")
def sample() -> Inputs:
    return load_inputs([SAMPLES])


def test_the_window_keeps_logs_and_metrics_inside_it(sample: Inputs) -> None:
    assert sample.logs is not None and sample.metrics is not None
    window = TimeWindow(
        datetime(2026, 11, 20, 9, 15, tzinfo=UTC), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    )
    kept = sample.within(window)
    assert kept.logs is not None and kept.metrics is not None
    for frame, whole in (
        (kept.metrics, sample.metrics),
        (kept.logs.reports, sample.logs.reports),
        (kept.logs.events, sample.logs.events),
    ):
        timed = frame.filter(pl.col("timestamp").is_not_null())
        assert 0 < timed.height < whole.height
        assert timed["timestamp"].min() >= window.start  # type: ignore[operator]
        assert timed["timestamp"].max() < window.end  # type: ignore[operator]
        # Records without a time cannot be placed: they are kept (unknown, not outside).
        untimed = whole.filter(pl.col("timestamp").is_null()).height
        assert frame.filter(pl.col("timestamp").is_null()).height == untimed
    metric_minutes = kept.metrics.filter(pl.col("metric") == "Invocations")["timestamp"]
    assert metric_minutes.dt.minute().unique().sort().to_list() == list(range(15, 30))


def test_a_window_every_trace_starts_in_keeps_the_spans_as_they_are(sample: Inputs) -> None:
    spans = sample.traces.spans
    first: datetime = spans["start_time"].min()  # type: ignore[assignment]
    last: datetime = spans["start_time"].max()  # type: ignore[assignment]
    whole = sample.within(TimeWindow(first, last + timedelta(seconds=1)))
    assert whole.traces.spans is spans
    # A trace starting outside is left out whole; its spans are copied out only then.
    later = sample.within(TimeWindow(first + timedelta(seconds=1), None)).traces.spans
    assert 0 < later.height < spans.height
    starts = later.group_by("trace_id").agg(pl.col("start_time").min())["start_time"]
    assert starts.min() >= first + timedelta(seconds=1)  # type: ignore[operator]


def test_cloudwatch_totals_and_the_sampling_ratio(sample: Inputs) -> None:
    totals = {r["function_name"]: r for r in run_analysis(sample).metric_totals.to_dicts()}
    orders = totals["orders-create"]
    assert (orders["metric_invocations"], orders["traced_invocations"]) == (488, 122)
    assert orders["sampling_ratio"] == pytest.approx(0.25)
    assert orders["metric_errors"] == 8
    assert totals["fraud-check"]["metric_throttles"] == 32
    assert totals["orders-get"]["metric_duration_p99_ms"] == pytest.approx(199.256)
    # legacy-export is switched off: no Invocations metric was given, so its count is
    # unknown (null), not zero, and so is its ratio.
    legacy = totals["legacy-export"]
    assert (legacy["metric_invocations"], legacy["sampling_ratio"]) == (None, None)
    assert legacy["metric_throttles"] == 40
    contract = {f["name"]: f for f in to_contract(run_analysis(sample))["functions"]}
    assert contract["orders-create"]["cloudwatch"]["invocations"] == 488
    assert contract["orders-create"]["sampling_ratio"] == pytest.approx(0.25)


def test_no_metrics_no_totals() -> None:
    spans = SpanBuilder().frame()
    assert dict(metric_totals(None, invocations(spans)).schema) == METRIC_TOTALS_SCHEMA
    account_only = conform(
        pl.DataFrame({"metric": ["ConcurrentExecutions"], "stat": ["Maximum"], "value": [3.0]}),
        METRIC_SCHEMA,
    )
    assert metric_totals(account_only, invocations(spans)).is_empty()


def test_the_header_window_is_the_traces_not_an_early_init() -> None:
    # A provisioned environment initialized an hour before its first request: the init
    # subsegment starts at -3600 s, the traffic at 0 s.
    b = SpanBuilder()
    b.lambda_invocation(
        "orders",
        start_s=0.0,
        duration_ms=50.0,
        init="provisioned",
        init_ms=400.0,
        init_gap_ms=3_600_000.0,
    )
    b.lambda_invocation("orders", start_s=10.0, duration_ms=50.0)
    spans = b.frame()
    assert spans["start_time"].min() < at(-3000)
    start, end = traffic_window(spans)
    assert start is not None and end is not None
    assert at(-1) <= start <= at(0)
    assert at(10) < end < at(11)
