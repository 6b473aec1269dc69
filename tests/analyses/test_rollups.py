"""Hourly partial aggregates merge to the single-pass answer, whatever the split."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import orjson
import polars as pl
import pytest
from ddsketch.mapping import LogarithmicMapping
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyses import rollups
from analyses.async_events import async_event_rows, async_events
from analyses.bottlenecks import bottlenecks
from analyses.cold_starts import cold_starts
from analyses.dns import dns_lookup_rows, dns_lookups
from analyses.entry_points import entry_points, entry_traces
from analyses.finding_thresholds import Thresholds
from analyses.findings import findings
from analyses.invocations import invocations
from analyses.service_map import (
    service_map_edges,
    service_map_hops,
    service_map_hops_and_node_requests,
    service_map_nodes,
)
from tests.builders.rollups import merged_parts, split_reports, split_traces
from tests.builders.sideinputs import reports_for
from tests.builders.spans import SpanBuilder
from tracelens.ingest.loader import load_traces
from tracelens.rollup import sketched_thresholds
from tracelens.schema import SPAN_SCHEMA, empty_frame

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"
# the sample application, and asynchronous invocations (Dwell Time, Attempt #N)
SOURCES = [SAMPLES / "xray", SAMPLES / "real_world" / "async_invocations.json"]
EDGE_KEYS = ["source", "source_type", "target", "target_type"]


@pytest.fixture(scope="module")
def spans() -> pl.DataFrame:
    return load_traces(SOURCES).spans


@pytest.fixture(scope="module")
def reports(spans: pl.DataFrame) -> pl.DataFrame:
    return reports_for(spans)


@pytest.fixture(scope="module")
def whole(spans: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    return rollups.rollup(spans, reports)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.integers(min_value=2, max_value=9), seed=st.integers(0, 2**32), order=st.randoms())
def test_any_split_merges_to_the_single_pass_rollup(
    spans: pl.DataFrame,
    reports: pl.DataFrame,
    whole: pl.DataFrame,
    parts: int,
    seed: int,
    order: object,
) -> None:
    # every section is in the frames compared (the entry points' and nodes' too, and the
    # REPORTs': named or told by their trace, traced or not, timed out or not)
    assert set(whole["section"].unique()) == set(rollups.SECTIONS)
    partials = [
        rollups.rollup(part, logged)
        for part, logged in zip(
            split_traces(spans, parts, seed),
            split_reports(spans, reports, parts, seed),
            strict=True,
        )
    ]
    order.shuffle(partials)  # type: ignore[attr-defined]
    # associativity: merge pairwise in a tree, then all at once
    left = rollups.merge(
        [rollups.merge(partials[: parts // 2]), rollups.merge(partials[parts // 2 :])]
    )
    assert left.equals(rollups.merge([whole]))
    assert rollups.merge(partials, by_hour=True).equals(rollups.merge([whole], by_hour=True))


def _dated(spans: pl.DataFrame, seed: int) -> dict[date, pl.DataFrame]:
    """``spans`` in date partitions as a store keeps them: a trace in the day of its earliest
    start, or (about half of them, by ``seed``) in the day before (dated by the time in its
    id, its first span not stored)."""
    traces = spans.group_by("trace_id").agg(pl.col("start_time").min().dt.date().alias("day"))
    earlier = pl.col("trace_id").hash(seed) % 2 == 0
    traces = traces.with_columns(
        pl.when(earlier).then(pl.col("day") - timedelta(days=1)).otherwise(pl.col("day"))
    )
    tagged = spans.join(traces, on="trace_id")
    return {
        key[0]: part.drop("day")
        for key, part in tagged.partition_by("day", as_dict=True).items()
        if isinstance(key[0], date)
    }


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32), bounds=st.lists(st.integers(0, 10_000), min_size=2, max_size=2))
def test_partitions_dated_before_their_hours_merge_to_the_single_pass_window(
    spans: pl.DataFrame, seed: int, bounds: list[int]
) -> None:
    """Each date partition rolled up whole (whatever hours its traces start in); a window's
    merge reads the partitions of its days and of the day before, its rows kept to the
    window's hours: the single pass over the traces starting in the window."""
    partitions = {day: rollups.rollup(part) for day, part in _dated(spans, seed).items()}
    hours = rollups.rollup(spans).get_column("hour").unique().sort()
    first, last = sorted(hours[b % hours.len()] for b in bounds)
    since, until = first, last + timedelta(hours=1)
    read = [
        frame.filter((pl.col("hour") >= since) & (pl.col("hour") < until))
        for day, frame in partitions.items()
        if since.date() - timedelta(days=1) <= day <= (until - timedelta(microseconds=1)).date()
    ]
    starts = spans.group_by("trace_id").agg(pl.col("start_time").min())
    inside = starts.filter((pl.col("start_time") >= since) & (pl.col("start_time") < until))
    single = rollups.rollup(spans.join(inside.select("trace_id"), on="trace_id", how="semi"))
    assert rollups.merge(read).equals(rollups.merge([single]))
    assert rollups.merge(read, by_hour=True).equals(rollups.merge([single], by_hour=True))


def test_counts_equal_the_analyses(spans: pl.DataFrame, whole: pl.DataFrame) -> None:
    merged = rollups.merge([whole])
    functions = rollups.counts(merged, "function").rename({"source": "function_name"})
    inv = invocations(spans)
    expected = inv.group_by("function_name").agg(
        pl.len().cast(pl.Int64).alias("invocations"),
        pl.col("error").sum().cast(pl.Int64).alias("errors"),
        pl.col("fault").sum().cast(pl.Int64).alias("faults"),
        pl.col("cold_kind").is_not_null().sum().cast(pl.Int64).alias("cold_starts"),
    )
    got = functions.select(expected.columns).sort("function_name")
    assert got.equals(expected.sort("function_name"))
    assert got["invocations"].sum() > 0

    edges = rollups.counts(merged, "edge").sort(EDGE_KEYS)
    exact = service_map_edges(spans).sort(EDGE_KEYS)
    cols = [*EDGE_KEYS, "calls", "errors", "faults", "throttles"]
    assert edges.select(cols).equals(exact.select(cols))

    totals = rollups.counts(merged, "input").row(0, named=True)
    assert totals["traces"] == spans["trace_id"].n_unique()
    assert totals["segments"] == int((spans["depth"] == 0).sum())


def _within(sketched: float, lower: float, upper: float) -> bool:
    alpha = rollups.RELATIVE_ACCURACY
    return lower * (1 - alpha) - 1e-9 <= sketched <= upper * (1 + alpha) + 1e-9


@pytest.mark.parametrize("parts", [1, 24])
def test_percentiles_within_the_sketch_error(spans: pl.DataFrame, parts: int) -> None:
    merged = merged_parts(spans, parts, 7)
    for section, values, keys in (
        ("function", invocations(spans).rename({"function_name": "source"}), ["source"]),
        ("edge", service_map_hops(spans), EDGE_KEYS),
    ):
        sketched = rollups.quantiles(merged, section)
        checked = 0
        for name, q in rollups.PERCENTILES.items():
            bounds = (
                values.drop_nulls("duration_ms")
                .group_by(keys)
                .agg(
                    pl.col("duration_ms").quantile(q, interpolation="lower").alias("lo"),
                    pl.col("duration_ms").quantile(q, interpolation="higher").alias("hi"),
                    pl.col("duration_ms").quantile(q, interpolation="linear").alias("exact"),
                )
            )
            joined = bounds.join(sketched, on=keys, how="inner", nulls_equal=True)
            assert joined.height == bounds.height
            for row in joined.iter_rows(named=True):
                assert _within(row[f"{name}_ms"], row["lo"], row["hi"]), (section, name, row)
                checked += 1
        assert checked > 0


def test_empty_and_zero_durations() -> None:
    assert rollups.rollup(empty_frame(SPAN_SCHEMA)).is_empty()
    frame = pl.DataFrame(
        {
            "section": ["edge"] * 3,
            "source": ["a"] * 3,
            "source_type": ["t"] * 3,
            "target": ["b"] * 3,
            "target_type": ["t"] * 3,
            "measure": ["latency_ms"] * 3,
            "bucket": [rollups.ZERO_BUCKET, rollups.ZERO_BUCKET, 0],
            "count": [3, 2, 5],
            "hour": [None, None, None],
            "detail": [None, None, None],
        }
    ).cast(pl.Schema(rollups.ROLLUP_SCHEMA))
    merged = rollups.merge([frame])
    row = rollups.quantiles(merged, "edge").row(0, named=True)
    assert row["p50_ms"] == 0.0
    assert row["p95_ms"] == pytest.approx(1.0, rel=rollups.RELATIVE_ACCURACY)


def test_async_and_init_figures_equal_the_analyses(spans: pl.DataFrame) -> None:
    merged = merged_parts(spans, 5, 3)
    exact = async_events(spans)
    assert exact.height > 0
    rolled = rollups.counts(merged, "async").rename({"source": "function_name"})
    joined = exact.join(rolled, on="function_name", suffix="_rolled")
    assert joined.height == exact.height == rolled.height
    for row in joined.iter_rows(named=True):
        for key in (*rollups.ASYNC_COUNTS, "max_attempt"):
            assert row[f"{key}_rolled"] == row[key], key
        assert row["event_age_max_us"] == round(row["event_age_max_ms"] * 1000)

    colds = cold_starts(spans).drop_nulls("init_max_ms")
    assert colds.height > 0
    functions = rollups.counts(merged, "function").rename({"source": "function_name"})
    for row in colds.join(functions, on="function_name").iter_rows(named=True):
        assert row["init_max_us"] == round(row["init_max_ms"] * 1000)


@pytest.mark.parametrize(
    ("section", "measure", "rows", "column"),
    [
        ("function", "init_ms", "inits", "init_ms"),
        ("async", "event_age_ms", "events", "dwell_ms"),
    ],
)
def test_init_and_event_age_percentiles_within_the_sketch_error(
    spans: pl.DataFrame, section: str, measure: str, rows: str, column: str
) -> None:
    merged = merged_parts(spans, 6, 5)
    if rows == "inits":
        values = invocations(spans).filter(
            pl.col("cold_kind").is_in(["on_demand", "snapstart"])
            & (pl.col("invocation_path") == "sync")
        )
    else:
        values = async_event_rows(spans)
    values = values.drop_nulls(column).rename({"function_name": "source"})
    sketched = rollups.quantiles(merged, section, measure)
    checked = 0
    for name, q in rollups.PERCENTILES.items():
        bounds = values.group_by("source").agg(
            pl.col(column).quantile(q, interpolation="lower").alias("lo"),
            pl.col(column).quantile(q, interpolation="higher").alias("hi"),
        )
        for row in bounds.join(sketched, on="source").iter_rows(named=True):
            assert _within(row[f"{name}_ms"], row["lo"], row["hi"]), (name, row)
            checked += 1
    assert checked == 3 * values["source"].n_unique() > 0


ENTRY_KEYS = ["source", "source_type"]


def _same_name_roots(tmp_path: Path) -> pl.DataFrame:
    """Two requests whose roots are both named ``worker``: a Lambda function's (an event
    consumer) and an EC2 client's (other)."""
    start = 1_763_600_000.0
    documents = [
        {"trace_id": "1-691e6a00-00000000000000000000aaa1", "id": "00000000000000a1",
         "name": "worker", "origin": "AWS::Lambda::Function", "start_time": start,
         "end_time": start + 0.2},
        {"trace_id": "1-691e6a00-00000000000000000000aaa2", "id": "00000000000000a2",
         "name": "worker", "origin": "AWS::EC2::Instance", "start_time": start + 1,
         "end_time": start + 1.5, "fault": True},
    ]  # fmt: skip
    path = tmp_path / "workers.json"
    path.write_bytes(orjson.dumps(documents))
    return load_traces([path]).spans


@pytest.mark.parametrize("parts", [1, 8])
def test_entry_point_and_node_counts_equal_the_analyses(
    spans: pl.DataFrame, parts: int, tmp_path: Path
) -> None:
    # with a Lambda root and a client root both named worker: two entry points on both sides
    spans = pl.concat([spans, _same_name_roots(tmp_path)], how="diagonal_relaxed")
    merged = merged_parts(spans, parts, 17)
    exact = entry_points(entry_traces(spans)).rename(
        {"entry": "source", "entry_type": "source_type"}
    )
    rolled = rollups.counts(merged, "entry")
    cols = [*ENTRY_KEYS, *rollups.ENTRY_COUNTS]
    assert rolled.select(cols).sort(ENTRY_KEYS).equals(exact.select(cols).sort(ENTRY_KEYS))
    # the rates too, one computation for both (analyses.entry_points.rated_by_impact)
    rates = ["entry", "entry_type", "error_rate", "fault_rate", "throttle_rate", "cold_start_share"]
    from_rollups = rollups.entry_points_from_rollups(merged).select(rates).sort(rates[:2])
    from_spans = exact.rename({"source": "entry", "source_type": "entry_type"}).select(rates)
    assert from_rollups.equals(from_spans.sort(rates[:2]))
    workers = exact.filter(pl.col("source") == "worker").sort("source_type")
    assert workers.select("source_type", "requests", "faults").rows() == [
        ("event consumer", 1, 0),
        ("other", 1, 1),
    ]

    nodes = service_map_nodes(spans).rename({"name": "source", "type": "source_type"})
    counted = rollups.counts(merged, "node").sort(ENTRY_KEYS)
    plain = [*ENTRY_KEYS, "requests", "errors", "faults", "throttles", "failed"]
    assert counted.select(plain).equals(nodes.select(plain).sort(ENTRY_KEYS))
    # the Lambda service's counts: null on the spans' side where none was recorded, 0 here
    for column in ("service_requests", "service_throttles"):
        assert counted[column].to_list() == nodes.sort(ENTRY_KEYS)[column].fill_null(0).to_list()
    assert int(nodes["service_requests"].fill_null(0).sum()) > 0


@pytest.mark.parametrize("parts", [1, 24])
@pytest.mark.parametrize("section", ["entry", "node"])
def test_entry_point_and_node_percentiles_within_the_sketch_error(
    spans: pl.DataFrame, section: str, parts: int
) -> None:
    merged = merged_parts(spans, parts, 19)
    if section == "entry":
        values = (
            entry_traces(spans)
            .filter(pl.col("end_time").is_not_null())
            .select(pl.col("entry").alias("source"), pl.col("entry_type").alias("source_type"),
                    pl.col("duration_ms").alias("value"))
        )  # fmt: skip
    else:
        _, requests = service_map_hops_and_node_requests(spans)
        values = requests.select(
            pl.col("name").alias("source"),
            pl.col("type").alias("source_type"),
            pl.col("service_ms").alias("value"),
        )
    values = values.drop_nulls("value")
    sketched = rollups.quantiles(merged, section)
    checked = 0
    for name, q in rollups.PERCENTILES.items():
        bounds = values.group_by(ENTRY_KEYS).agg(
            pl.col("value").quantile(q, interpolation="lower").alias("lo"),
            pl.col("value").quantile(q, interpolation="higher").alias("hi"),
        )
        joined = bounds.join(sketched, on=ENTRY_KEYS, nulls_equal=True)
        assert joined.height == bounds.height == sketched.height
        for row in joined.iter_rows(named=True):
            assert _within(row[f"{name}_ms"], row["lo"], row["hi"]), (section, name, row)
            checked += 1
    assert checked == 3 * sketched.height > 0


def test_critical_path_shares_equal_the_bottlenecks(spans: pl.DataFrame) -> None:
    merged = merged_parts(spans, 7, 11)
    rolled = rollups.counts(merged, "critical_path").with_columns(
        (pl.col("path_us") / pl.col("path_us").sum().over("source")).alias("share")
    )
    exact = bottlenecks(spans)
    joined = exact.join(
        rolled,
        left_on=["entry", "node_kind", "node", "node_type"],
        right_on=EDGE_KEYS,
        nulls_equal=True,
    )
    assert joined.height == exact.height == rolled.height > 0
    for row in joined.iter_rows(named=True):
        assert row["traces_right"] == row["traces"]
        assert row["share"] == pytest.approx(row["critical_path_share"], rel=1e-9, abs=1e-12)


def test_dns_figures_equal_the_analysis(spans: pl.DataFrame) -> None:
    merged = merged_parts(spans, 4, 13)
    keys = ["service", "function_name", "host"]
    exact = dns_lookups(spans)
    assert exact.height > 0
    rolled = rollups.counts(merged, "dns").rename(
        {"source": "service", "source_type": "function_name", "target": "host"}
    )
    joined = exact.join(rolled, on=keys, nulls_equal=True, suffix="_rolled")
    assert joined.height == exact.height == rolled.height
    for row in joined.iter_rows(named=True):
        for key in ("lookups", "failures", "cold_lookups", "warm_lookups"):
            assert row[f"{key}_rolled"] == row[key], key
        assert row["lookup_max_us"] == round(row["max_ms"] * 1000)
        share = row["lookup_us"] / row["invocation_us"]
        assert share == pytest.approx(row["invocation_share"], rel=1e-3)
    values = dns_lookup_rows(spans).rename(
        {"service": "source", "function_name": "source_type", "host": "target"}
    )
    for measure, keep in (
        ("latency_ms", pl.lit(value=True)),
        ("cold_ms", pl.col("cold")),
        ("warm_ms", pl.col("cold").not_()),
    ):
        sketched = rollups.quantiles(merged, "dns", measure)
        bounds = (
            values.filter(keep)
            .group_by(["source", "source_type", "target"])
            .agg(
                pl.col("duration_ms").quantile(0.5, interpolation="lower").alias("lo"),
                pl.col("duration_ms").quantile(0.5, interpolation="higher").alias("hi"),
            )
        )
        both = bounds.join(sketched, on=["source", "source_type", "target"], nulls_equal=True)
        assert both.height == bounds.height > 0
        for row in both.iter_rows(named=True):
            assert _within(row["p50_ms"], row["lo"], row["hi"]), (measure, row)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=50,
    )
)
def test_bucket_keys_are_the_ddsketch_mappings(values: list[float]) -> None:
    mapping = LogarithmicMapping(rollups.RELATIVE_ACCURACY)
    keys = pl.DataFrame({"v": values}).select(rollups._bucket("v"))["bucket"].to_list()
    assert keys == [mapping.key(v) for v in values]
    for v, key in zip(values, keys, strict=True):
        assert abs(mapping.value(key) - v) <= rollups.RELATIVE_ACCURACY * v * (1 + 1e-9)


def test_async_findings_from_rollups_match_the_spans(spans: pl.DataFrame) -> None:
    merged = merged_parts(spans, 5, 23)
    exact = findings(async_events=async_events(spans))
    rolled = findings(async_events=rollups.async_table(merged))
    assert exact.height > 0 and set(exact["kind"]) == {"async_events"}
    same = ["severity", "kind", "subject", "affected", "share", "key", "recommendation"]
    assert rolled.select(same).equals(exact.select(same))
    assert rolled["trace_id"].is_null().all()  # example traces need the spans
    dwell = async_event_rows(spans).drop_nulls("dwell_ms")
    for want, got in zip(exact.iter_rows(named=True), rolled.iter_rows(named=True), strict=True):
        exact_evidence, evidence = orjson.loads(want["evidence"]), orjson.loads(got["evidence"])
        assert evidence.keys() == exact_evidence.keys()
        for key in ("events", "events_with_attempts", "attempts", "retried_events", "max_attempt"):
            assert evidence[key] == exact_evidence[key]
        assert evidence["event_age_max_ms"] == pytest.approx(exact_evidence["event_age_max_ms"])
        ages = dwell.filter(pl.col("function_name") == got["subject"])["dwell_ms"]
        for name in ("p50", "p95"):
            q = rollups.PERCENTILES[name]
            lo = ages.quantile(q, interpolation="lower")
            hi = ages.quantile(q, interpolation="higher")
            assert lo is not None and hi is not None
            # evidence is rounded to 3 decimals
            assert _within(evidence[f"event_age_{name}_ms"], lo - 1e-3, hi + 1e-3), name


@pytest.mark.parametrize(("p95", "warns"), [(60_500.0, False), (60_700.0, True)])
def test_a_sketched_percentile_warns_only_past_its_error(
    spans: pl.DataFrame, p95: float, warns: bool
) -> None:
    # 60 s is the event-age threshold: a sketched 60.5 s may be an order statistic of 59.9 s
    table = rollups.async_table(rollups.merge([rollups.rollup(spans)])).with_columns(
        pl.lit(0, pl.Int64).alias("retried_events"),
        pl.lit(0.0).alias("retried_share"),
        pl.lit(p95).alias("event_age_p95_ms"),
    )
    found = findings(async_events=table, thresholds=sketched_thresholds(Thresholds()))
    assert (found.height > 0) == warns


def test_a_sketched_percentile_is_never_above_the_largest_value() -> None:
    # one init of 119.6 ms: the sketch's bucket value reads above it (up to 1%); the maximum
    # is known exactly, so the percentile is read no higher
    b = SpanBuilder()
    api = b.caller("orders-api/prod")
    b.lambda_invocation(
        "orders",
        start_s=0.01,
        duration_ms=30,
        trace_id=api.trace_id,
        parent_id=api.parent_id,
        init="on_demand",
        init_ms=119.6,
    )
    merged = rollups.merge([rollups.rollup(b.frame())])
    raw = rollups.quantiles(merged, "function", "init_ms").row(0, named=True)
    capped = rollups.quantiles(merged, "function", "init_ms", capped_by="init_max_us")
    row = capped.row(0, named=True)
    assert raw["p95_ms"] > 119.6  # what the bucket alone reads
    assert row["p50_ms"] == row["p95_ms"] == row["p99_ms"] == pytest.approx(119.6)
