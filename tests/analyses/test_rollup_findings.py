"""Findings over merged rollups equal the findings over the spans, whatever the split.

Each rule runs on the table its analysis gives, rebuilt from the rollups' counts (exact) and
sketches (percentile thresholds raised by the sketch's accuracy). Compared with Lambda REPORT
records (rollups count them and their timeouts) and without the other side inputs, which
rollups do not hold.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import polars as pl
import pytest

from analyses import rollups
from analyses.async_events import async_events
from analyses.bottlenecks import SLOW_QUANTILE, bottlenecks
from analyses.cold_starts import cold_starts
from analyses.dns import connection_setup, dns_lookups
from analyses.downstream_throttles import downstream_throttles
from analyses.finding_rules_lambda import THROTTLE_ADVICE
from analyses.finding_thresholds import Thresholds
from analyses.functions import function_table
from analyses.loops import resource_loops
from analyses.rollup_findings import (
    RULE_SECTIONS,
    bottleneck_table,
    cold_table,
    connection_table,
    dns_table,
    downstream_throttle_table,
    invocation_throttle_table,
    loop_table,
    outcome_table,
    rollup_findings,
    rules_lacking,
)
from analyses.rollup_findings import function_table as rolled_function_table
from analyses.throttles import invocation_throttles
from tests.builders.rollups import merged_parts
from tests.builders.scenario import scenario_inputs
from tests.builders.sideinputs import reports_for
from tests.builders.spans import SpanBuilder
from tracelens.analysis import run_analysis
from tracelens.ingest.loader import load_traces
from tracelens.inputs import Inputs
from tracelens.rollup import sketched_thresholds
from tracelens.schema import LOG_EVENT_SCHEMA, empty_frame
from tracelens.sideinputs import LambdaLogs

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"
COMPARED = ["kind", "subject", "severity", "affected", "share"]


def _with_reports(inputs: Inputs) -> Inputs:
    reports = reports_for(inputs.traces.spans)
    return dataclasses.replace(
        inputs, logs=LambdaLogs(reports=reports, events=empty_frame(LOG_EVENT_SCHEMA))
    )


@pytest.fixture(scope="module")
def samples() -> Inputs:
    # the sample application and the real-world traces: cold starts of every kind, retried
    # asynchronous events, throttles, DNS, connection reuse and an S3 loop; and REPORTs of
    # their executions (and of untraced ones), some timed out
    return _with_reports(Inputs(traces=load_traces([SAMPLES / "xray", SAMPLES / "real_world"])))


@pytest.fixture(scope="module")
def scenario() -> Inputs:
    return _with_reports(dataclasses.replace(scenario_inputs(60), metrics=None, functions=None))


def _merged_of(inputs: Inputs, parts: int, seed: int = 1) -> pl.DataFrame:
    """The rollups of ``inputs``' spans and REPORTs split ``parts`` ways, merged."""
    reports = inputs.logs.reports if inputs.logs is not None else None
    return merged_parts(inputs.traces.spans, parts, seed, reports)


def _from_spans(inputs: Inputs) -> pl.DataFrame:
    return run_analysis(inputs).findings.select(COMPARED)


@pytest.mark.parametrize("parts", [1, 3, 8])
@pytest.mark.parametrize("which", ["samples", "scenario"])
def test_findings_from_rollups_equal_the_findings_from_spans(
    which: str, parts: int, request: pytest.FixtureRequest
) -> None:
    inputs: Inputs = request.getfixturevalue(which)
    expected = _from_spans(inputs)
    merged = _merged_of(inputs, parts)
    got = rollup_findings(merged, thresholds=sketched_thresholds(Thresholds()))
    assert got.select(COMPARED).equals(expected)
    assert got["trace_id"].null_count() == got.height  # example traces need the spans
    if which == "samples":
        # every kind rollups evaluate is exercised, so none passes by being absent
        assert set(got["kind"]) == set(RULE_SECTIONS)
        assert {"critical", "warning", "info"} <= set(got["severity"])


def _same(got: pl.DataFrame, exact: pl.DataFrame, keys: list[str], columns: list[str]) -> None:
    left = got.select(*keys, *columns).sort(keys, nulls_last=True)
    right = exact.select(*keys, *columns).sort(keys, nulls_last=True)
    assert left.height > 0
    assert left.equals(right), (left, right)


def test_each_table_counts_as_its_analysis(samples: Inputs) -> None:
    spans = samples.traces.spans
    merged = _merged_of(samples, 5)
    cold_counts = ["invocations", "cold_starts", "cold_start_rate", "user_facing_cold_start_rate"]
    cold_counts += [*rollups.MEASURES["cold"], *rollups.MEASURES["report"]]
    reports = samples.logs.reports if samples.logs is not None else None
    exact_cold = cold_starts(spans, reports=reports)
    _same(cold_table(merged), exact_cold, ["function_name"], cold_counts)
    assert exact_cold["timeouts"].sum() > 0
    counted = ["invocations", "errors", "faults", "throttled", "throttled_retries_unknown"]
    exact_functions = function_table(spans).filter(pl.col("invocations") > 0)
    rolled_functions = rolled_function_table(merged).filter(pl.col("invocations") > 0)
    _same(rolled_functions, exact_functions, ["function_name"], counted)
    outcomes = ["events", "retried_events", *rollups.MEASURES["outcome"]]
    _same(outcome_table(merged), async_events(spans), ["function_name"], outcomes)
    _same(
        invocation_throttle_table(merged),
        invocation_throttles(spans),
        ["source", "target", "cause", "absorbed_by"],
        ["throttled_attempts", "throttled_calls", "recovered_calls", "retries_unknown"],
    )
    _same(
        downstream_throttle_table(merged),
        downstream_throttles(spans),
        ["source", "service", "resource", "operation", "namespace"],
        ["throttled_calls", "calls", "throttle_rate", "retries", "retries_unknown"],
    )
    setup = ["calls", "connects", "dials", "tls_handshakes", "new_connections_per_call"]
    _same(connection_table(merged), connection_setup(spans), ["function_name", "host"], setup)
    _same(
        loop_table(merged),
        resource_loops(spans),
        ["path"],
        ["closing_resource", "calls", "confirmed"],
    )
    exact_slow = bottlenecks(spans)
    bottleneck_keys = ["entry", "node", "node_type", "node_kind"]
    _same(bottleneck_table(merged), exact_slow, bottleneck_keys, ["traces", "slow_traces"])
    shares = bottleneck_table(merged).join(exact_slow, on=bottleneck_keys, suffix="_exact")
    for row in shares.iter_rows(named=True):
        for share in ("critical_path_share", "slow_share"):
            assert row[share] == pytest.approx(row[f"{share}_exact"], rel=1e-9)
    dns = ["lookups", "invocations", "failures", "cold_lookups", "warm_lookups"]
    _same(dns_table(merged), dns_lookups(spans), ["service", "function_name", "host"], dns)
    share = dns_table(merged).join(
        dns_lookups(spans), on=["service", "function_name", "host"], suffix="_exact"
    )
    for row in share.iter_rows(named=True):  # sums of whole microseconds, not of floats
        assert row["invocation_share"] == pytest.approx(row["invocation_share_exact"], rel=1e-3)


def test_a_throttling_exception_is_named_as_the_spans_name_it(samples: Inputs) -> None:
    merged = _merged_of(samples, 4)
    got = downstream_throttle_table(merged).filter(pl.col("exception_type").is_not_null())
    exact = downstream_throttles(samples.traces.spans)
    _same(got, exact, ["source", "service", "resource", "operation"], ["exception_type"])


def test_a_rule_whose_evidence_some_day_lacks_is_left_out(samples: Inputs) -> None:
    merged = _merged_of(samples, 2)
    thresholds = sketched_thresholds(Thresholds())
    whole = rollup_findings(merged, thresholds=thresholds)
    assert rules_lacking({"outcome"}) == ["failures"]
    assert rules_lacking({"entry", "node"}) == []
    assert rules_lacking({"cold"}) == ["cold_start", "connection_reuse", "dns"]
    assert rules_lacking({"bottleneck"}) == ["bottleneck"]
    # recovered failures not counted for some days would make a failure look worse: no
    # failure finding at all rather than a wrong one
    without = rollup_findings(merged, lacking={"outcome"}, thresholds=thresholds)
    assert "failures" in set(whole["kind"]) and "failures" not in set(without["kind"])
    assert without.equals(whole.filter(pl.col("kind") != "failures"))
    everything = rollup_findings(merged, lacking=rollups.SECTIONS, thresholds=thresholds)
    assert everything.is_empty()


def test_unknown_configuration_keeps_a_dns_failure_below_critical() -> None:
    # the scenario's orders function is VPC attached (configuration) and its lookups fail:
    # critical from the spans with the configuration, at most a warning over rollups, which
    # hold no configuration (it describes the present, not each hour)
    inputs = scenario_inputs(60)
    with_config = run_analysis(inputs).findings.filter(pl.col("kind") == "dns")
    merged = merged_parts(inputs.traces.spans, 3)
    rolled = rollup_findings(merged, thresholds=sketched_thresholds(Thresholds()))
    dns = rolled.filter(pl.col("kind") == "dns")
    assert set(dns["subject"]) == set(with_config["subject"])
    assert "critical" not in set(dns["severity"])
    for row in dns.iter_rows(named=True):
        assert "VPC attached: unknown" in row["message"]


@pytest.mark.parametrize(
    ("name", "kind", "column", "others"),
    [
        (
            "init_p95_warning_ms",
            "cold_start",
            "init_p95_ms",
            {"cold_start_rate_warning": 2.0, "cold_start_rate_critical": 2.0},
        ),
        ("dns_p95_warning_ms", "dns", "p95_ms", {"dns_share_warning": 2.0}),
    ],
)
def test_a_percentile_at_its_threshold_by_the_sketch_alone_does_not_fire(
    samples: Inputs, name: str, kind: str, column: str, others: dict[str, float]
) -> None:
    # a threshold set at the sketch's own p95 fires from the sketch unless raised by its
    # accuracy: the order statistic itself may lie up to 1% below it. Every other condition
    # of the rule is switched off (and DNS failures left out), so only the percentile counts.
    merged = _merged_of(samples, 3)
    if kind == "cold_start":
        table = cold_table(merged).with_columns(pl.col("function_name").alias("subject"))
    else:
        table = dns_table(merged).filter(pl.col("failures") == 0)
        table = table.with_columns(pl.format("{} -> {}", "service", "host").alias("subject"))
    row = table.drop_nulls(column).sort(column).row(-1, named=True)
    value = row[column]
    assert isinstance(value, float) and value > 0
    at_sketch = dataclasses.replace(
        Thresholds(), **{name: value, "init_p95_critical_ms": value * 10, **others}
    )
    assert getattr(sketched_thresholds(at_sketch), name) == pytest.approx(
        value * (1 + rollups.RELATIVE_ACCURACY)
    )
    about = (pl.col("kind") == kind) & (pl.col("subject") == row["subject"])
    assert rollup_findings(merged, thresholds=at_sketch).filter(about).height == 1
    raised = sketched_thresholds(at_sketch)
    assert rollup_findings(merged, thresholds=raised).filter(about).is_empty()


def test_slow_traces_from_rollups_are_the_slow_ones_and_at_most_a_bucket_more() -> None:
    # 40 requests whose durations rise by 0.1% each: the exact p95 leaves 2 slow; the
    # sketch's bucket holding the p95 trace also holds some just below it (within 2%)
    b = SpanBuilder()
    durations = [100.0 * 1.001**k for k in range(40)]
    for k, ms in enumerate(durations):
        api = b.caller("orders-api/prod", start_s=10.0 * k, duration_ms=ms)
        b.lambda_invocation(
            "orders",
            start_s=10.0 * k + 0.001,
            duration_ms=ms / 2,
            trace_id=api.trace_id,
            parent_id=api.parent_id,
        )
    spans = b.frame()
    exact = bottlenecks(spans)
    rolled = bottleneck_table(merged_parts(spans, 3))
    exact_slow = int(exact["slow_traces"].max())  # type: ignore[arg-type]
    rolled_slow = int(rolled["slow_traces"].max())  # type: ignore[arg-type]
    ordered = sorted(durations)
    rank = -(-SLOW_QUANTILE * (len(ordered) - 1) // 1)  # ceil
    at_rank = ordered[int(rank)]
    gamma = (1 + rollups.RELATIVE_ACCURACY) / (1 - rollups.RELATIVE_ACCURACY)
    within_a_bucket = sum(ms > at_rank / gamma for ms in durations)
    assert exact_slow == 2
    assert exact_slow <= rolled_slow <= within_a_bucket
    assert rolled_slow > exact_slow  # the case this test is about: the bucket is wider
    # critical-path shares stay exact
    assert (
        rolled.select("entry", "node", "critical_path_share")
        .sort("node")
        .equals(exact.select("entry", "node", "critical_path_share").sort("node"))
    )


def test_an_unknown_throttle_cause_over_rollups_does_not_ask_to_collect_metrics(
    samples: Inputs, scenario: Inputs
) -> None:
    thresholds = sketched_thresholds(Thresholds())
    unknown = rollup_findings(merged_parts(samples.traces.spans, 2), thresholds=thresholds)
    unknown = unknown.filter(pl.col("kind") == "invocation_throttle")
    assert unknown.height > 0
    for row in unknown.to_dicts():
        assert orjson.loads(row["evidence"])["cause"] == "unknown"
        assert "Collect the Throttles" not in row["recommendation"]
        assert "span window's finding" in row["recommendation"]
    # a cause the refusal names keeps its advice
    named = rollup_findings(merged_parts(scenario.traces.spans, 2), thresholds=thresholds)
    [known] = named.filter(pl.col("kind") == "invocation_throttle").to_dicts()
    assert orjson.loads(known["evidence"])["cause"] == "reserved_concurrency_reached"
    assert known["recommendation"] == THROTTLE_ADVICE["reserved_concurrency_reached"]


def test_without_any_report_timeouts_are_unknown_not_zero(samples: Inputs) -> None:
    spans = samples.traces.spans
    without = cold_table(rollups.merge([rollups.rollup(spans)]))
    assert without["timeouts"].null_count() == without.height > 0
    assert cold_starts(spans)["timeouts"].null_count() == without.height
    # with REPORTs, a function none of them names has none: 0, as from the spans
    reports = reports_for(spans).head(1)
    named = cold_table(rollups.merge([rollups.rollup(spans, reports)]))
    exact = cold_starts(spans, reports=reports)
    _same(named, exact, ["function_name"], ["timeouts", "reported_invocations"])
    assert named["timeouts"].null_count() == 0
