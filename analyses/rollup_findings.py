"""Findings over merged rollups: each rule run on the table its analysis gives, rebuilt from
the rollup sections that hold its evidence.

Every table below has its analysis's schema. Its counts are the merged counts, which equal the
single pass over the same traces (each is counted per hour with the analysis's own
expressions: ``COLD_COUNT_EXPRS``, ``OUTCOME_COUNT_EXPRS``, ``THROTTLE_COUNT_EXPRS``,
``DOWNSTREAM_COUNT_EXPRS``, ``CONNECTION_COUNT_EXPRS``, ``LOOP_HOP_COUNT_EXPRS``,
``TIMEOUT_COUNT_EXPRS``); its
percentiles come from the sketches, within ``analyses.rollups.RELATIVE_ACCURACY`` (the caller
raises the percentile thresholds by it). What rollups do not hold is unknown (null), never 0:

- example traces;
- the cold starts only Lambda's REPORT logs tell (an init with no traced execution): a rollup
  counts REPORTs and their timeouts (the ``report`` section), not their inits; without any
  REPORT in the merged rollups, timeouts are unknown (null), as ``analyses.cold_starts`` has
  them without REPORT records;
- configuration and CloudWatch metrics, which describe the present, not each hour of a long
  window: a DNS failure is then never critical (VPC attachment unknown), and a throttle's cause
  is what the refusal's message says, else ``unknown`` (a reserved concurrency of 0 is not
  known, so only the share of calls that failed makes a throttle critical);
- the first and last time of a throttle (an hour is known, not the time).

Every rule's evidence is rolled up (a bottleneck's slow traces as the duration sketch tells
them: :func:`bottleneck_table`).

A rule is evaluated only when every section it reads is held on every merged day
(``RULE_SECTIONS``): counts missing for some days would be taken for none (a recovered failure
not counted makes a failure look worse than it was), so such a rule is left out and its kind
named by :func:`rules_lacking`.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from analyses.async_events import ASYNC_SCHEMA
from analyses.bottlenecks import BOTTLENECK_SCHEMA, SLOW_QUANTILE
from analyses.cold_starts import COLD_START_SCHEMA
from analyses.dns import CONNECTION_SETUP_SCHEMA, DNS_SCHEMA, with_new_connections
from analyses.downstream_throttles import (
    DOWNSTREAM_CAUSE,
    DOWNSTREAM_THROTTLE_SCHEMA,
    with_known_retries,
)
from analyses.entry_points import ENTRY_TRACE_SCHEMA
from analyses.finding_rules_lambda import THROTTLE_ADVICE
from analyses.finding_thresholds import Thresholds
from analyses.findings import FINDING_SCHEMA, findings
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.loops import LOOP_SCHEMA, edges_of_hop_counts, loops_of
from analyses.rollups import (
    EXCEPTION_MEASURE,
    MEASURES,
    PERCENTILES,
    async_table,
    counts,
    quantiles,
)
from analyses.throttles import INVOCATION_THROTTLE_SCHEMA
from tracelens.schema import conform

RULE_SECTIONS: dict[str, tuple[str, ...]] = {
    "cold_start": ("function", "cold"),
    "failures": ("function", "async", "outcome"),
    "invocation_throttle": ("function", "throttle"),
    "downstream_throttle": ("downstream",),
    # NOTE: lowered to info for a function no caller waited for (the cold section's paths)
    "dns": ("dns", "cold"),
    "connection_reuse": ("connection", "cold"),
    "recursive_loop": ("loop",),
    "async_events": ("async",),
    "bottleneck": ("bottleneck",),
    # NOTE: a share of the function's invocations: its REPORTs, or its traced ones when more
    "timeout": ("function", "report"),
}
"""Per finding kind evaluated from rollups, the sections its rule reads."""


def rules_lacking(lacking: Collection[str]) -> list[str]:
    """The finding kinds of ``RULE_SECTIONS`` left out when the ``lacking`` sections are not
    held on every merged day."""
    return sorted(kind for kind, needs in RULE_SECTIONS.items() if set(needs) & set(lacking))


def cold_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``COLD_START_SCHEMA`` from merged rollups: traced counts, user-facing init percentiles
    (sketch) and maximum, REPORTs and timeouts (the ``report`` section: null without any
    REPORT, 0 for a function without one); the cold starts REPORT logs add are null."""
    function = counts(merged, "function").select(
        pl.col("source").alias("function_name"), "invocations", "cold_starts", "init_max_us"
    )
    reported = counts(merged, "report").select(
        pl.col("source").alias("function_name"), *MEASURES["report"]
    )
    # NOTE: a function seen only in REPORTs is a row, as in analyses.cold_starts
    function = function.join(
        reported, on="function_name", how="full", coalesce=True, nulls_equal=True
    ).with_columns(pl.col("invocations", "cold_starts").fill_null(0))
    if not reported.is_empty():
        function = function.with_columns(pl.col(MEASURES["report"]).fill_null(0))
    kinds = counts(merged, "cold").select(
        pl.col("source").alias("function_name"), *MEASURES["cold"]
    )
    inits = quantiles(merged, "function", "init_ms", capped_by="init_max_us").select(
        pl.col("source").alias("function_name"),
        *(pl.col(f"{p}_ms").alias(f"init_{p}_ms") for p in PERCENTILES),
    )
    table = (
        function.join(kinds, on="function_name", how="left", nulls_equal=True)
        .join(inits, on="function_name", how="left", nulls_equal=True)
        .with_columns(pl.col(MEASURES["cold"]).fill_null(0))
    )
    rate_base = pl.when(pl.col("invocations") > 0).then(pl.col("invocations"))
    sync_base = pl.when(pl.col("sync_invocations") > 0).then(pl.col("sync_invocations"))
    table = table.with_columns(
        (pl.col("cold_starts") / rate_base).alias("cold_start_rate"),
        (pl.col("user_facing_cold_starts") / sync_base).alias("user_facing_cold_start_rate"),
        (pl.col("init_max_us") / 1000).alias("init_max_ms"),
    )
    return conform(table, COLD_START_SCHEMA).sort("function_name")


def function_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``FUNCTION_TABLE_SCHEMA`` from merged rollups: traced counts, duration percentiles
    (sketch), throttled attempts (the throttle section); configuration, REPORT figures and
    example traces null."""
    function = counts(merged, "function").select(
        pl.col("source").alias("function_name"), "invocations", "errors", "faults", "cold_starts"
    )
    durations = quantiles(merged, "function", "duration_ms").select(
        pl.col("source").alias("function_name"),
        *(pl.col(f"{p}_ms").alias(f"duration_{p}_ms") for p in PERCENTILES),
    )
    throttled = (
        counts(merged, "throttle")
        .group_by(pl.col("target").alias("function_name"))
        .agg(
            pl.col("throttled_attempts").sum().alias("throttled"),
            pl.col("retries_unknown").sum().alias("throttled_retries_unknown"),
        )
    )
    table = (
        function.join(durations, on="function_name", how="left", nulls_equal=True)
        .join(throttled, on="function_name", how="full", coalesce=True, nulls_equal=True)
        .with_columns(
            pl.col(
                "invocations",
                "errors",
                "faults",
                "cold_starts",
                "throttled",
                "throttled_retries_unknown",
            ).fill_null(0)
        )
    )
    return conform(table, FUNCTION_TABLE_SCHEMA).sort(
        ["invocations", "function_name"], descending=[True, False]
    )


def outcome_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``ASYNC_SCHEMA`` from merged rollups (``analyses.rollups.async_table``) with the
    outcome counts of the ``outcome`` section (0 for a function with none)."""
    table = async_table(merged).drop(MEASURES["outcome"])
    outcomes = counts(merged, "outcome").select(
        pl.col("source").alias("function_name"), *MEASURES["outcome"]
    )
    joined = table.join(outcomes, on="function_name", how="left", nulls_equal=True)
    return conform(
        joined.with_columns(pl.col(MEASURES["outcome"]).fill_null(0)), ASYNC_SCHEMA
    ).sort("function_name")


def invocation_throttle_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``INVOCATION_THROTTLE_SCHEMA`` from merged rollups (causes as the spans tell them;
    times and example traces null)."""
    table = counts(merged, "throttle").rename(
        {"source_type": "absorbed_by", "target_type": "cause"}
    )
    return conform(table, INVOCATION_THROTTLE_SCHEMA).sort(
        ["throttled_attempts", "source", "target", "cause"],
        descending=[True, False, False, False],
        nulls_last=True,
    )


def downstream_throttle_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``DOWNSTREAM_THROTTLE_SCHEMA`` from merged rollups: the groups with a throttled call;
    ``exception_type`` the one first seen (by hour; then the most calls, then by name)."""
    keys = {
        "source_type": "namespace",
        "target": "service",
        "target_type": "resource",
        "detail": "operation",
    }
    names = ["source", *keys.values()]
    table = counts(merged, "downstream").rename(keys).filter(pl.col("throttled_calls") > 0)
    exception = pl.col("measure").str.strip_prefix(EXCEPTION_MEASURE)
    exceptions = (
        merged.filter(
            (pl.col("section") == "downstream")
            & pl.col("measure").str.starts_with(EXCEPTION_MEASURE)
        )
        .rename(keys)
        .group_by(*names, exception.alias("exception_type"))
        .agg(pl.col("hour").min(), pl.col("count").sum())
        .sort(["hour", "count", "exception_type"], descending=[False, True, False])
        .group_by(names, maintain_order=True)
        .agg(pl.col("exception_type").first())
    )
    table = (
        with_known_retries(table)
        .join(exceptions, on=names, how="left", nulls_equal=True)
        .with_columns(
            (pl.col("throttled_calls") / pl.col("calls")).alias("throttle_rate"),
            pl.lit(DOWNSTREAM_CAUSE).alias("cause"),
        )
    )
    return conform(table, DOWNSTREAM_THROTTLE_SCHEMA).sort(
        ["throttled_calls", "source", "service", "resource"],
        descending=[True, False, False, False],
        nulls_last=True,
    )


def dns_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``DNS_SCHEMA`` from merged rollups (``vpc_attached`` unknown: configuration is not per
    hour), most lookup time first."""
    keys = ["source", "source_type", "target"]
    sketches = [
        quantiles(merged, "dns", measure, capped_by="lookup_max_us").select(
            *keys, *(pl.col(f"{p}_ms").alias(f"{prefix}{p}_ms") for p in picked)
        )
        for measure, prefix, picked in (
            ("latency_ms", "", ("p50", "p95")),
            ("cold_ms", "cold_", ("p50",)),
            ("warm_ms", "warm_", ("p50",)),
        )
    ]
    table = counts(merged, "dns")
    for sketch in sketches:
        table = table.join(sketch, on=keys, how="left", nulls_equal=True)
    table = table.select(
        pl.col("source").alias("service"),
        pl.col("source_type").alias("function_name"),
        pl.col("target").alias("host"),
        pl.all().exclude("source", "source_type", "target"),
        (pl.col("lookup_max_us") / 1000).alias("max_ms"),
        pl.when(pl.col("invocation_us") > 0)
        .then(pl.col("lookup_us") / pl.col("invocation_us"))
        .alias("invocation_share"),
    ).sort(["lookup_us", "service", "host"], descending=[True, False, False], nulls_last=True)
    return conform(table, DNS_SCHEMA)


def connection_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``CONNECTION_SETUP_SCHEMA`` from merged rollups (no example traces)."""
    table = counts(merged, "connection").rename({"source": "function_name", "target": "host"})
    return conform(with_new_connections(table), CONNECTION_SETUP_SCHEMA)


def loop_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``LOOP_SCHEMA`` from merged rollups: the loops of the merged loop edges (no example
    traces)."""
    hops = counts(merged, "loop").rename({"target_type": "evidence"})
    if hops.is_empty():
        return pl.DataFrame(schema=LOOP_SCHEMA)
    return loops_of(edges_of_hop_counts(hops))


def bottleneck_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``BOTTLENECK_SCHEMA`` from merged rollups (no example traces). ``critical_path_share``
    is exact. The slow traces of an entry are those at or above its durations'
    ``SLOW_QUANTILE`` (linear interpolation between the order statistics at ranks
    ``floor(q * (n - 1))`` and ``ceil(...)``): every trace from rank ``ceil(q * (n - 1))``
    up. Over rollups they are the traces in the buckets of the duration sketch from the one
    holding that rank up: every slow trace, and those of that bucket just below it (a bucket's
    values lie within 2% of each other): ``slow_share`` is of a slow set at most that much
    wider."""
    rows = merged.filter(pl.col("section") == "bottleneck")
    durations = rows.filter((pl.col("measure") == "root_ms") & pl.col("bucket").is_not_null())
    n = pl.col("count").sum()
    first_slow = (
        durations.group_by("source", "bucket")
        .agg(pl.col("count").sum())
        .sort("source", "bucket")
        .group_by("source", maintain_order=True)
        .agg(
            pl.col("bucket")
            .filter(pl.col("count").cum_sum() > (SLOW_QUANTILE * (n - 1)).ceil())
            .first()
            .alias("first_slow"),
        )
    )
    slow = pl.col("bucket").is_not_null() & (pl.col("bucket") >= pl.col("first_slow"))
    entries = (
        rows.filter(pl.col("measure").is_in(["entry_traces", "root_ms"]))
        .join(first_slow.select("source", "first_slow"), on="source", how="left")
        .group_by("source")
        .agg(
            pl.col("count").filter(pl.col("measure") == "entry_traces").sum().alias("entry_traces"),
            pl.col("count")
            .filter((pl.col("measure") == "root_ms") & slow)
            .sum()
            .alias("entry_slow_traces"),
        )
    )
    keys = ["source", "source_type", "target", "target_type"]
    path = rows.filter(pl.col("measure").is_in(["path_us", "traces"])).join(
        first_slow.select("source", "first_slow"), on="source", how="left"
    )

    def summed(measure: str, *, only_slow: bool = False) -> pl.Expr:
        picked = pl.col("measure") == measure
        return pl.col("count").filter(picked & slow if only_slow else picked).sum()

    table = (
        path.group_by(keys)
        .agg(
            summed("path_us").alias("total_us"),
            summed("path_us", only_slow=True).alias("slow_total_us"),
            summed("traces").alias("traces"),
            summed("traces", only_slow=True).alias("slow_traces"),
        )
        .join(entries, on="source", how="left", nulls_equal=True)
    )
    entry = pl.col("source")
    table = table.with_columns(
        critical_path_share=pl.col("total_us") / pl.col("total_us").sum().over(entry),
        slow_share=pl.col("slow_total_us") / pl.col("slow_total_us").sum().over(entry),
        mean_ms=pl.col("total_us") / 1000.0 / pl.col("entry_traces"),
        slow_mean_ms=pl.col("slow_total_us") / 1000.0 / pl.col("entry_slow_traces"),
    ).rename(
        {
            "source": "entry",
            "source_type": "node_kind",
            "target": "node",
            "target_type": "node_type",
        }
    )
    return conform(table, BOTTLENECK_SCHEMA).sort(
        ["entry", "critical_path_share", "node", "node_type", "node_kind"],
        descending=[False, True, False, False, False],
        nulls_last=True,
    )


def entry_wait_table(merged: pl.DataFrame) -> pl.DataFrame:
    """``ENTRY_TRACE_SCHEMA`` rows enough for who waited for each entry
    (``analyses.finding_rules_network.entry_waits``): one per entry and invocation path seen,
    every other column null."""
    waits = merged.filter((pl.col("section") == "bottleneck") & (pl.col("measure") == "waits"))
    seen = (
        waits.group_by("source", "detail")
        .agg(pl.col("count").sum())
        .filter(pl.col("count") > 0)
        .select(pl.col("source").alias("entry"), pl.col("detail").alias("invocation_path"))
    )
    return conform(seen, ENTRY_TRACE_SCHEMA)


def rollup_findings(
    merged: pl.DataFrame,
    *,
    lacking: Collection[str] = (),
    thresholds: Thresholds | None = None,
    silence: Collection[str] = (),
) -> pl.DataFrame:
    """``FINDING_SCHEMA``: the findings of every rule of ``RULE_SECTIONS`` over merged rollups
    (``analyses.rollups.merge``), but those reading a ``lacking`` section (a section some
    merged day's rollup does not hold). ``thresholds``: raise the percentile thresholds by
    the sketch's accuracy first (the caller's); no example traces."""
    left_out = rules_lacking(lacking)
    if len(left_out) == len(RULE_SECTIONS):
        return pl.DataFrame(schema=FINDING_SCHEMA)
    found = findings(
        functions=function_table(merged),
        cold_starts=cold_table(merged),
        invocation_throttles=invocation_throttle_table(merged),
        downstream_throttles=downstream_throttle_table(merged),
        dns=dns_table(merged),
        connection_setup=connection_table(merged),
        bottlenecks=bottleneck_table(merged),
        loops=loop_table(merged),
        async_events=outcome_table(merged),
        entry_traces=entry_wait_table(merged),
        thresholds=thresholds,
        silence=silence,
        # NOTE: a cause over rollups is only what the refusal says: asking to collect metrics
        # (the advice for an unknown cause) would be wrong where they were collected.
        throttle_advice={**THROTTLE_ADVICE, "unknown": _UNKNOWN_CAUSE_OVER_ROLLUPS},
    )
    return found.filter(~pl.col("kind").is_in(left_out))


_UNKNOWN_CAUSE_OVER_ROLLUPS = (
    "Over the whole window a throttle's cause is known only where Lambda's refusal names it "
    "(metrics and configuration are not kept per hour): the span window's finding for this "
    "function tells it from the metrics collected. Meanwhile retry with exponential backoff "
    "and jitter."
)
