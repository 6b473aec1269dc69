"""Partial aggregates per hour that merge associatively (rollups).

A rollup is one long frame (``ROLLUP_SCHEMA``): per hour (the hour a trace started in; a
Lambda REPORT's own hour in section ``report``), section
(``SECTIONS``: ``input``, ``function``, ``edge``, ``async``, ``critical_path``, ``dns``,
``entry``, ``node``), key (``source``/``source_type``/``target``/``target_type``; a function's
name is its ``source``)
and measure, either a count (``bucket`` null) or one bucket of a DDSketch (``bucket`` the
sketch's key, ``count`` the values in it). Merging rollups is concatenating them and summing
``count`` (or taking its maximum) per everything else: associative and commutative, so any
split of the traces into partitions merges to the same frame as one pass over all of them.

Counts are exact; maxima (``MAX_MEASURES``) merge by their maximum and are exact to the
microsecond. Percentiles come from the sketch: DDSketch with the logarithmic mapping of the
``ddsketch`` package at ``RELATIVE_ACCURACY`` (1%; keys and bucket values as its
``LogarithmicMapping``, its rank rule): the value it returns for quantile ``q`` lies within 1%
(relative) of the order statistic at rank ``floor(q * (n - 1))``; the contract's linear
interpolation lies between that order statistic and the next one. Values at or below 0 fall in
the zero bucket (returned as 0).

What a rollup holds (``MEASURES`` and ``SKETCHED`` per section): ``SECTIONS_FROM_ROLLUPS``.
Everything else in the contract needs the spans (``SECTIONS_NEEDING_SPANS``). Sections are only
ever added (``ADDED_SECTIONS``): a rollup written before one was added lacks its rows, which is
not the same as none of them (the store records the sections each rollup holds).
"""

from __future__ import annotations

import math

import polars as pl
from ddsketch.mapping import LogarithmicMapping

from analyses.async_events import (
    ASYNC_SCHEMA,
    OUTCOME_COUNT_EXPRS,
    async_event_rows,
    event_outcome_rows,
)
from analyses.bottlenecks import critical_path_time
from analyses.cold_starts import (
    COLD_COUNT_EXPRS,
    TIMEOUT_COUNT_EXPRS,
    USER_FACING_KINDS,
    report_rows,
)
from analyses.dns import CONNECTION_COUNT_EXPRS, connection_rows, dns_lookup_rows
from analyses.downstream_throttles import DOWNSTREAM_COUNT_EXPRS, downstream_calls
from analyses.entry_points import ENTRY_COUNT_EXPRS, entry_traces, rated_by_impact
from analyses.invocations import INVOCATION_SCHEMA, invocations
from analyses.loops import LOOP_HOP_COUNT_EXPRS, loop_hop_rows
from analyses.memo import shared_intermediates
from analyses.service_map import NODE_COUNT_EXPRS, service_map_hops_and_node_requests
from analyses.throttles import THROTTLE_COUNT_EXPRS, caused_attempts
from tracelens.schema import UTC_US, conform, empty_frame

RELATIVE_ACCURACY = 0.01
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
# The mapping's key of a value v is ceil(log2(v) * multiplier) (LogarithmicMapping.key), here
# as a polars expression over whole columns.
_MULTIPLIER = math.log(2) / math.log1p(2 * RELATIVE_ACCURACY / (1 - RELATIVE_ACCURACY))
ZERO_BUCKET = -(2**31)  # values at or below the smallest the mapping can index (0 ms)
_MIN_INDEXABLE = _MAPPING.min_possible

KEYS = ("source", "source_type", "target", "target_type", "detail")
"""The columns keying a section's rows (what each means per section: ``MEASURES``)."""
KEY_COLUMNS = ("section", *KEYS[:-1], "measure", "detail")
ROLLUP_SCHEMA: dict[str, pl.DataType] = {
    "hour": UTC_US,
    "section": pl.String(),  # SECTIONS
    "source": pl.String(),  # the function's name for sections "function" and "async"
    "source_type": pl.String(),
    "target": pl.String(),
    "target_type": pl.String(),
    "measure": pl.String(),
    "bucket": pl.Int32(),  # null for a count; else a DDSketch key (ZERO_BUCKET for 0)
    "count": pl.Int64(),
    # A fifth key (section "downstream": the operation); null elsewhere, and in rollups
    # written before it was added (read as null).
    "detail": pl.String(),
}

FUNCTION_COUNTS = ("invocations", "errors", "faults", "cold_starts")
EDGE_COUNTS = ("calls", "errors", "faults", "throttles")
ASYNC_COUNTS = ("events", "events_with_attempts", "attempts", "retried_events")
ENTRY_COUNTS = tuple(ENTRY_COUNT_EXPRS)  # counted as analyses.entry_points counts them
NODE_COUNTS = tuple(NODE_COUNT_EXPRS)  # counted as analyses.service_map counts them
# Measures merged by their maximum, not summed (times in whole microseconds).
MAX_MEASURES = ("init_max_us", "max_attempt", "event_age_max_us", "lookup_max_us")
MEASURES: dict[str, tuple[str, ...]] = {
    "input": ("segments", "traces"),
    "function": (*FUNCTION_COUNTS, "init_max_us"),
    "edge": EDGE_COUNTS,
    "async": (*ASYNC_COUNTS, "max_attempt", "event_age_max_us"),
    # source: the entry point, source_type: the node kind, target/target_type: the node
    "critical_path": ("path_us", "traces"),
    # source: the service, source_type: the function (null when not a Lambda function)
    "dns": (
        "lookups",
        "failures",
        "cold_lookups",
        "warm_lookups",
        "lookup_us",
        "invocations",
        "invocation_us",
        "lookup_max_us",
    ),
    # source: the entry point, source_type: its type (entry_points[])
    "entry": ENTRY_COUNTS,
    # source: the node's name, source_type: its type (service_map.nodes[])
    "node": NODE_COUNTS,
    # The sections below hold the evidence of findings (analyses.rollup_findings).
    # source: the function; counts of cold-start kinds and invocation paths (traced)
    "cold": tuple(m for m in COLD_COUNT_EXPRS if m not in FUNCTION_COUNTS),
    # source: the function; outcomes of asynchronous events (analyses.async_events)
    "outcome": tuple(name for exprs in OUTCOME_COUNT_EXPRS for name in exprs),
    # source: the caller, source_type: absorbed_by, target: the throttled function,
    # target_type: the cause the spans alone tell (no metrics, no configuration)
    "throttle": tuple(THROTTLE_COUNT_EXPRS),
    # source: the caller, source_type: namespace, target: service, target_type: resource,
    # detail: operation; plus EXCEPTION_MEASURE + a throttling exception: its throttled calls
    "downstream": tuple(DOWNSTREAM_COUNT_EXPRS),
    # source: the function, target: the host (warm invocations' connection set-up)
    "connection": tuple(CONNECTION_COUNT_EXPRS),
    # source, target: a loop edge's node keys, target_type: its evidence (analyses.loops)
    "loop": tuple(LOOP_HOP_COUNT_EXPRS),
    # source: the entry; critical-path time as section critical_path (source_type, target,
    # target_type) per bucket of the trace's duration (bucket: a DDSketch key, ZERO_BUCKET, or
    # null when unknown); entry_traces and a sketch of its traces' durations (root_ms); waits:
    # its traces per invocation path (detail: sync, async, event_source, null when unknown)
    "bottleneck": ("path_us", "traces", "entry_traces", "waits"),
    # source: the function; its REPORTs and timeouts per hour of the REPORT (not of a trace;
    # a REPORT without a time has a null hour: read with its day, as the logs are)
    "report": tuple(TIMEOUT_COUNT_EXPRS),
}
EXCEPTION_MEASURE = "exception:"
"""Prefix of the downstream section's measures counting throttled calls per exception type."""
SECTIONS = tuple(MEASURES)
"""Every section a rollup holds, in the order they were added."""
EVIDENCE_SECTIONS = (
    "cold",
    "outcome",
    "throttle",
    "downstream",
    "connection",
    "loop",
    "bottleneck",
    "report",
)
"""The sections holding only findings' evidence (``analyses.rollup_findings``)."""
ADDED_SECTIONS = ("entry", "node", *EVIDENCE_SECTIONS)
"""Sections added after rollups were first stored: a rollup that does not record its sections
holds every one but these."""
# The sketched measures of each section (milliseconds).
SKETCHED: dict[str, tuple[str, ...]] = {
    "function": ("duration_ms", "init_ms"),
    "edge": ("latency_ms",),
    "async": ("event_age_ms",),
    "dns": ("latency_ms", "cold_ms", "warm_ms"),
    "entry": ("latency_ms",),  # completed requests
    "node": ("service_ms",),  # the Lambda service's own time per request
    "bottleneck": ("root_ms",),  # the entry's traces' durations
}
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}

SECTIONS_FROM_ROLLUPS = (
    "input.segments",
    "input.traces",
    "functions[].invocations",
    "functions[].errors",
    "functions[].faults",
    "functions[].cold_starts",
    "functions[].duration_ms",
    "functions[].init_ms",
    "service_map.edges",
    "async_invocations (counts, max_attempt, event_age_ms)",
    "bottlenecks (critical_path_share, traces: critical-path time per entry and node)",
    "dns (lookups, failures, latency_ms, invocation_share, cold, warm)",
    "entry_points (counts, rates, cold_start_share, latency_ms)",
    "service_map.nodes (counts, service_p50_ms, service_p95_ms)",
    "findings (every kind, from their evidence: counts per function of cold-start kinds and "
    "invocation paths, outcomes of asynchronous events, invocation throttles, downstream calls "
    "per operation, connection set-up, loop edges, critical-path time per bucket of the trace's "
    "duration and who waited per entry point, REPORT logs and their timeouts; init, event-age, "
    "DNS and trace-duration percentiles from sketches)",
)
SECTIONS_NEEDING_SPANS = (
    "input (documents, duplicates, rejections, incomplete)",
    "functions[] (throttled, cold-start kinds, sync/off-path, init_ms from logs, metrics, config)",
    "throttles",
    "dns[].vpc_attached (configuration)",
    "bottlenecks (slow_share: the slow traces are a quantile of the whole window)",
    "entry_points[] (slowest_trace_id, failed_trace_id)",
    "service_map.cycles",
    "service_map.loops",
    "findings over rollups: every finding's example trace, the exact slow traces of a "
    "bottleneck (those of the duration sketch's bucket holding the p95 count as slow: at most "
    "2% below it), the cold starts REPORT logs add (seen only in logs), configuration (VPC "
    "attachment, reserved concurrency) and metrics (throttle causes beyond what a refusal's "
    "message says)",
    "example traces and waterfalls",
)


def _hour_of_traces(spans: pl.DataFrame) -> pl.DataFrame:
    return spans.group_by("trace_id").agg(
        pl.col("start_time").min().dt.truncate("1h").cast(UTC_US).alias("hour")
    )


def _bucket(column: str) -> pl.Expr:
    value = pl.col(column)
    key = (value.log(2) * _MULTIPLIER).ceil()
    return (
        pl.when(value <= _MIN_INDEXABLE)
        .then(pl.lit(ZERO_BUCKET))
        .otherwise(key)
        .cast(pl.Int32)
        .alias("bucket")
    )


def _counts(frame: pl.DataFrame, keys: list[str], measures: dict[str, pl.Expr]) -> pl.DataFrame:
    wide = frame.group_by(["hour", *keys]).agg(
        [expr.cast(pl.Int64).alias(name) for name, expr in measures.items()]
    )
    return wide.unpivot(
        index=["hour", *keys], on=list(measures), variable_name="measure", value_name="count"
    ).with_columns(pl.lit(None, pl.Int32).alias("bucket"))


def _sketch(frame: pl.DataFrame, keys: list[str], column: str, measure: str) -> pl.DataFrame:
    return (
        frame.filter(pl.col(column).is_not_null() & pl.col(column).is_finite())
        .group_by(["hour", *keys, _bucket(column)])
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .with_columns(pl.lit(measure).alias("measure"))
    )


def _shaped(frame: pl.DataFrame, section: str) -> pl.DataFrame:
    return conformed(frame.with_columns(pl.lit(section).alias("section")))


def conformed(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as ``ROLLUP_SCHEMA``: a column it lacks (``detail``, in a rollup written
    before it was added) is null."""
    return conform(frame, ROLLUP_SCHEMA)


def rollup(spans: pl.DataFrame, reports: pl.DataFrame | None = None) -> pl.DataFrame:
    """The partial aggregates of ``spans`` (``SPAN_SCHEMA``, deduplicated, whole traces) per
    hour a trace started in, and of Lambda ``reports`` (``REPORT_SCHEMA``, deduplicated; the
    ``report`` section) per hour of the REPORT, as ``ROLLUP_SCHEMA`` (merged: one row per key
    and bucket). A REPORT naming no function counts for its traced execution's among
    ``spans`` (as ``analyses.cold_starts`` counts it among the traces it is given)."""
    reports = None if reports is None or reports.is_empty() else reports
    if spans.is_empty():
        if reports is None:
            return pl.DataFrame(schema=ROLLUP_SCHEMA)
        return merge([_reports(empty_frame(INVOCATION_SCHEMA), reports)], by_hour=True)
    # NOTE: its sections share the span tree and the invocations: each is computed once.
    with shared_intermediates():
        rolled = _rollup(spans)
        if reports is None:
            return rolled
        return merge([rolled, _reports(invocations(spans), reports)], by_hour=True)


def _reports(inv: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """The ``report`` section: per function and hour of the REPORT (``TIMEOUT_COUNT_EXPRS``
    over :func:`analyses.cold_starts.report_rows`)."""
    rows = report_rows(inv, reports).select(
        pl.col("timestamp").dt.truncate("1h").cast(UTC_US).alias("hour"),
        pl.col("function_name").alias("source"),
        "timeout",
    )
    return _shaped(_counts(rows, ["source"], TIMEOUT_COUNT_EXPRS), "report")


def _rollup(spans: pl.DataFrame) -> pl.DataFrame:
    hours = _hour_of_traces(spans)
    inv = invocations(spans).join(hours, on="trace_id", how="left")
    hops, node_requests = service_map_hops_and_node_requests(spans)
    hops = hops.join(hours, on="trace_id", how="left")
    per_trace = (
        spans.group_by("trace_id")
        .agg((pl.col("depth") == 0).sum().alias("segments"))
        .join(hours, on="trace_id")
    )
    name = pl.col("function_name").alias("source")
    edge_keys = ["source", "source_type", "target", "target_type"]
    flag = {  # nulls count as false
        c: pl.col(c).fill_null(value=False).sum() for c in ("error", "fault", "throttle")
    }
    parts = [
        _shaped(
            _counts(
                per_trace,
                [],
                {"segments": pl.col("segments").sum(), "traces": pl.len()},
            ),
            "input",
        ),
        _shaped(
            _counts(
                inv.with_columns(name),
                ["source"],
                {
                    "invocations": pl.len(),
                    "errors": pl.col("error").sum(),
                    "faults": pl.col("fault").sum(),
                    "cold_starts": pl.col("cold_kind").is_not_null().sum(),
                },
            ),
            "function",
        ),
        _shaped(
            _sketch(inv.with_columns(name), ["source"], "duration_ms", "duration_ms"), "function"
        ),
        _shaped(
            _counts(
                hops,
                edge_keys,
                {
                    "calls": pl.len(),
                    "errors": flag["error"],
                    "faults": flag["fault"],
                    "throttles": flag["throttle"],
                },
            ),
            "edge",
        ),
        _shaped(_sketch(hops, edge_keys, "duration_ms", "latency_ms"), "edge"),
        *_function_inits(inv.with_columns(name)),
        *_async(spans, hours),
        *_critical_path(spans, hours),
        *_dns(spans, hours),
        *_entries(spans, inv, hours),
        *_nodes(node_requests, hours),
        *_evidence(spans, inv.with_columns(name), hours),
    ]
    return merge(parts, by_hour=True)


def _micros(column: str) -> pl.Expr:
    return (pl.col(column) * 1000).round(0).cast(pl.Int64)


def _function_inits(inv: pl.DataFrame) -> list[pl.DataFrame]:
    """User-facing inits (as ``functions[].init_ms``, traces only): sketch and maximum."""
    user = inv.filter(
        pl.col("cold_kind").is_in(USER_FACING_KINDS)
        & (pl.col("invocation_path") == "sync")
        & pl.col("init_ms").is_not_null()
    )
    return [
        _shaped(_sketch(user, ["source"], "init_ms", "init_ms"), "function"),
        _shaped(_counts(user, ["source"], {"init_max_us": _micros("init_ms").max()}), "function"),
    ]


def _async(spans: pl.DataFrame, hours: pl.DataFrame) -> list[pl.DataFrame]:
    events = (
        async_event_rows(spans)
        .join(hours, on="trace_id", how="left")
        .with_columns(pl.col("function_name").alias("source"))
    )
    if events.is_empty():
        return []
    attempts = pl.col("attempts")
    counted = {
        "events": pl.len(),
        "events_with_attempts": attempts.is_not_null().sum(),
        "attempts": attempts.sum(),
        "retried_events": (attempts >= 2).sum(),
        "max_attempt": attempts.max(),
        "event_age_max_us": _micros("dwell_ms").max(),
    }
    return [
        _shaped(_counts(events, ["source"], counted), "async"),
        _shaped(_sketch(events, ["source"], "dwell_ms", "event_age_ms"), "async"),
    ]


def _critical_path(spans: pl.DataFrame, hours: pl.DataFrame) -> list[pl.DataFrame]:
    """Critical-path time per entry and node (``critical_path``), and the same per bucket of
    the trace's duration with a sketch of the entry's trace durations (``bottleneck``: the
    slow traces are those at or above the sketch's ``SLOW_QUANTILE`` bucket)."""
    path = critical_path_time(spans).join(hours, on="trace_id", how="left")
    keyed = path.select(
        "hour",
        "trace_id",
        "path_us",
        "root_ms",
        pl.col("entry").alias("source"),
        pl.col("node_kind").alias("source_type"),
        pl.col("node").alias("target"),
        pl.col("node_type").alias("target_type"),
    )
    keys = ["source", "source_type", "target", "target_type"]
    counted = {"path_us": pl.col("path_us").sum(), "traces": pl.len()}
    # NOTE: a trace of unknown duration has a null bucket: counted, never slow.
    by_duration = (
        keyed.with_columns(_bucket("root_ms"))
        .group_by(["hour", *keys, "bucket"])
        .agg(*(expr.cast(pl.Int64).alias(name) for name, expr in counted.items()))
        .unpivot(
            index=["hour", *keys, "bucket"],
            on=list(counted),
            variable_name="measure",
            value_name="count",
        )
    )
    roots = keyed.unique("trace_id").select("hour", "source", "root_ms")
    return [
        _shaped(_counts(keyed, keys, counted), "critical_path"),
        _shaped(by_duration, "bottleneck"),
        _shaped(_sketch(roots, ["source"], "root_ms", "root_ms"), "bottleneck"),
        _shaped(_counts(roots, ["source"], {"entry_traces": pl.len()}), "bottleneck"),
    ]


def _dns(spans: pl.DataFrame, hours: pl.DataFrame) -> list[pl.DataFrame]:
    lookups = dns_lookup_rows(spans).join(hours, on="trace_id", how="left")
    if lookups.is_empty():
        return []
    lookups = lookups.with_columns(
        pl.col("service").alias("source"),
        pl.col("function_name").alias("source_type"),
        pl.col("host").alias("target"),
    )
    keys = ["source", "source_type", "target"]
    cold = pl.col("cold")  # as dns_lookups: an unknown invocation is neither cold nor warm
    counted = {
        "lookups": pl.len(),
        "failures": pl.col("failed").fill_null(value=False).sum(),
        "cold_lookups": pl.col("cold").sum(),
        "warm_lookups": pl.col("cold").not_().sum(),
        "lookup_us": _micros("duration_ms").sum(),
        "lookup_max_us": _micros("duration_ms").max(),
    }
    invocations = (
        lookups.unique(["hour", *keys, "trace_id", "segment_id"])
        .group_by(["hour", *keys])
        .agg(
            pl.len().cast(pl.Int64).alias("invocations"),
            _micros("invocation_ms").sum().alias("invocation_us"),
        )
        .unpivot(index=["hour", *keys], variable_name="measure", value_name="count")
        .with_columns(pl.lit(None, pl.Int32).alias("bucket"))
    )
    return [
        _shaped(_counts(lookups, keys, counted), "dns"),
        _shaped(invocations, "dns"),
        _shaped(_sketch(lookups, keys, "duration_ms", "latency_ms"), "dns"),
        _shaped(_sketch(lookups.filter(cold), keys, "duration_ms", "cold_ms"), "dns"),
        _shaped(_sketch(lookups.filter(~cold), keys, "duration_ms", "warm_ms"), "dns"),
    ]


def _entries(spans: pl.DataFrame, inv: pl.DataFrame, hours: pl.DataFrame) -> list[pl.DataFrame]:
    """Per entry point (``entry_points[]``): its counts and a sketch of completed requests'
    latency."""
    traces = (
        entry_traces(spans, invocation_rows=inv)
        .join(hours, on="trace_id", how="left")
        .with_columns(pl.col("entry").alias("source"), pl.col("entry_type").alias("source_type"))
    )
    keys = ["source", "source_type"]
    completed = traces.filter(pl.col("end_time").is_not_null())
    # NOTE: who waited for each entry's traces (bottleneck findings lower what nobody did)
    waits = traces.with_columns(pl.col("invocation_path").alias("detail"))
    return [
        _shaped(_counts(traces, keys, ENTRY_COUNT_EXPRS), "entry"),
        _shaped(_sketch(completed, keys, "duration_ms", "latency_ms"), "entry"),
        _shaped(_counts(waits, ["source", "detail"], {"waits": pl.len()}), "bottleneck"),
    ]


def _nodes(requests: pl.DataFrame, hours: pl.DataFrame) -> list[pl.DataFrame]:
    """Per service-map node (``service_map.nodes[]``): its counts and a sketch of the Lambda
    service's own time per request."""
    rows = requests.join(hours, on="trace_id", how="left").with_columns(
        pl.col("name").alias("source"), pl.col("type").alias("source_type")
    )
    keys = ["source", "source_type"]
    return [
        _shaped(_counts(rows, keys, NODE_COUNT_EXPRS), "node"),
        _shaped(_sketch(rows, keys, "service_ms", "service_ms"), "node"),
    ]


def _keyed(
    rows: pl.DataFrame, hours: pl.DataFrame, keys: dict[str, str], columns: list[str]
) -> pl.DataFrame:
    """``rows`` (with ``trace_id``, or already their ``hour``) with their trace's hour, the
    rollup's key columns (``keys``: key column -> the rows' column) and ``columns``."""
    dated = rows if "hour" in rows.columns else rows.join(hours, on="trace_id", how="left")
    return dated.select(
        "hour", *(pl.col(c).cast(pl.String).alias(k) for k, c in keys.items()), *columns
    )


def _counted(
    rows: pl.DataFrame,
    hours: pl.DataFrame,
    section: str,
    keys: dict[str, str],
    exprs: dict[str, pl.Expr],
) -> pl.DataFrame:
    """``exprs`` over ``rows`` per hour and key, shaped as ``section``."""
    needed = sorted({c for expr in exprs.values() for c in expr.meta.root_names()})
    return _shaped(_counts(_keyed(rows, hours, keys, needed), list(keys), exprs), section)


_THROTTLE_KEYS = {
    "source": "source",
    "source_type": "absorbed_by",
    "target": "target",
    "target_type": "cause",
}
_DOWNSTREAM_KEYS = {
    "source": "source",
    "source_type": "namespace",
    "target": "service",
    "target_type": "resource",
    "detail": "operation",
}
_LOOP_KEYS = {"source": "source", "target": "target", "target_type": "evidence"}


def _evidence(spans: pl.DataFrame, inv: pl.DataFrame, hours: pl.DataFrame) -> list[pl.DataFrame]:
    """The sections holding findings' evidence (``cold`` ... ``loop``): the rows each rule's
    analysis aggregates, counted per hour with that analysis's own expressions."""
    function = {"source": "function_name"}
    events, executions = event_outcome_rows(spans)
    calls = downstream_calls(spans)
    cold = {m: COLD_COUNT_EXPRS[m] for m in MEASURES["cold"]}
    return [
        _counted(inv, hours, "cold", function, cold),
        _counted(events, hours, "outcome", function, OUTCOME_COUNT_EXPRS[0]),
        _counted(executions, hours, "outcome", function, OUTCOME_COUNT_EXPRS[1]),
        _counted(caused_attempts(spans), hours, "throttle", _THROTTLE_KEYS, THROTTLE_COUNT_EXPRS),
        _counted(calls, hours, "downstream", _DOWNSTREAM_KEYS, DOWNSTREAM_COUNT_EXPRS),
        _exceptions(calls, hours),
        _counted(
            connection_rows(spans),
            hours,
            "connection",
            {"source": "function_name", "target": "host"},
            CONNECTION_COUNT_EXPRS,
        ),
        _counted(loop_hop_rows(spans), hours, "loop", _LOOP_KEYS, LOOP_HOP_COUNT_EXPRS),
    ]


def _exceptions(calls: pl.DataFrame, hours: pl.DataFrame) -> pl.DataFrame:
    """Throttled downstream calls per exception type (measure ``EXCEPTION_MEASURE`` + type)."""
    throttled = calls.filter(pl.col("throttled") & pl.col("exception_type").is_not_null())
    named = throttled.with_columns(
        (EXCEPTION_MEASURE + pl.col("exception_type").cast(pl.String)).alias("measure")
    )
    keyed = _keyed(named, hours, _DOWNSTREAM_KEYS, ["measure"])
    counted = keyed.group_by(["hour", *_DOWNSTREAM_KEYS, "measure"]).agg(
        pl.len().cast(pl.Int64).alias("count")
    )
    return _shaped(counted, "downstream")


def merge(rollups: list[pl.DataFrame], *, by_hour: bool = False) -> pl.DataFrame:
    """Rollups merged: counts summed per key and bucket (per hour when ``by_hour``, else the
    hour column is the earliest hour merged)."""
    frames = [conformed(r) for r in rollups if not r.is_empty()]
    if not frames:
        return pl.DataFrame(schema=ROLLUP_SCHEMA)
    keys = [*KEY_COLUMNS, "bucket"] + (["hour"] if by_hour else [])
    hour = [] if by_hour else [pl.col("hour").min()]
    # NOTE: grouped by the streaming engine: a month of hourly rows (913k at 200k segments)
    # merged in memory peaked 450 MB above its input; streamed, 72 MB, and 3x faster.
    rows = pl.concat([frame.lazy() for frame in frames])
    is_max = pl.col("measure").is_in(MAX_MEASURES)
    summed = rows.filter(~is_max).group_by(keys).agg(pl.col("count").sum(), *hour)
    maxed = rows.filter(is_max).group_by(keys).agg(pl.col("count").max(), *hour)
    merged = pl.concat([summed.select(list(ROLLUP_SCHEMA)), maxed.select(list(ROLLUP_SCHEMA))])
    return merged.sort([*KEY_COLUMNS, "bucket", "hour"], nulls_last=False).collect(
        engine="streaming"
    )


def _bucket_value() -> pl.Expr:
    """The value DDSketch returns for a bucket (0 for the zero bucket)."""
    bucket = pl.col("bucket")
    gamma = _MAPPING.gamma
    return (
        pl.when(bucket == ZERO_BUCKET)
        .then(0.0)
        .otherwise(pl.lit(gamma).pow(bucket.cast(pl.Float64)) * (2.0 / (1.0 + gamma)))
    )


def quantiles(
    merged: pl.DataFrame,
    section: str,
    measure: str | None = None,
    *,
    capped_by: str | None = None,
) -> pl.DataFrame:
    """Per key of ``section``: ``p50_ms``, ``p95_ms``, ``p99_ms`` of its sketch of ``measure``
    (default: the section's first; DDSketch's rank rule: the first bucket whose cumulative
    count exceeds ``q * (n - 1)``).

    ``capped_by``: the section's maximum of the same values (a ``MAX_MEASURES`` measure, in
    microseconds): no percentile is read above it. The sketch may read up to its relative
    accuracy above the largest value (a p95 of 120.3 ms beside a maximum of 119.6 ms); the
    order statistic is at most the maximum, so the capped value is as close to it."""
    keys = list(KEYS)
    measure = measure or SKETCHED[section][0]
    rows = (
        merged.filter(
            (pl.col("section") == section)
            & (pl.col("measure") == measure)
            & pl.col("bucket").is_not_null()
        )
        .group_by([*keys, "bucket"])
        .agg(pl.col("count").sum())
        .sort([*keys, "bucket"], nulls_last=False)
        .with_columns(_bucket_value().alias("value"))
    )
    n = pl.col("count").sum()
    cumulative = pl.col("count").cum_sum()
    sketched = rows.group_by(keys, maintain_order=True).agg(
        [
            pl.col("value").filter(cumulative > q * (n - 1)).first().alias(f"{name}_ms")
            for name, q in PERCENTILES.items()
        ]
    )
    if capped_by is None:
        return sketched
    maxima = counts(merged, section).select(*keys, (pl.col(capped_by) / 1000).alias("_max"))
    return (
        sketched.join(maxima, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.min_horizontal(f"{name}_ms", "_max") for name in PERCENTILES)
        .drop("_max")
    )


def counts(merged: pl.DataFrame, section: str) -> pl.DataFrame:
    """Per key of ``section``: one column per counted measure (``MEASURES``; a sum is 0 when
    never counted, a maximum null)."""
    keys = list(KEYS)
    rows = merged.filter((pl.col("section") == section) & pl.col("bucket").is_null())

    def value(m: str) -> pl.Expr:
        picked = pl.col("count").filter(pl.col("measure") == m)
        return (picked.max() if m in MAX_MEASURES else picked.sum()).cast(pl.Int64).alias(m)

    wide = rows.group_by(keys).agg([value(m) for m in MEASURES[section]])
    return wide.sort(keys, nulls_last=False)


EDGE_KEYS = ("source", "source_type", "target", "target_type")


def entry_points_from_rollups(merged: pl.DataFrame) -> pl.DataFrame:
    """``entry_points[]`` as merged rollups hold them: ``entry``, ``entry_type``, the counts
    (``ENTRY_COUNTS``), ``p50_ms``/``p95_ms``/``p99_ms`` from the sketch and the rates, sorted
    by user impact (:func:`analyses.entry_points.rated_by_impact`, as from the spans)."""
    keys = ["source", "source_type"]
    latency = quantiles(merged, "entry").select(*keys, *(f"{p}_ms" for p in PERCENTILES))
    counted = (
        counts(merged, "entry")
        .select(*keys, *ENTRY_COUNTS)
        .join(latency, on=keys, how="left", nulls_equal=True)
        .rename({"source": "entry", "source_type": "entry_type"})
    )
    return rated_by_impact(counted)


def edge_fault_rates(merged: pl.DataFrame) -> dict[tuple[str | None, ...], float | None]:
    """Per call edge of merged rollups (its ``EDGE_KEYS`` values), faults / calls: null
    when the edge made no call (or a count is unknown)."""
    rates = counts(merged, "edge").select(
        *EDGE_KEYS,
        pl.when(pl.col("calls") > 0).then(pl.col("faults") / pl.col("calls")).alias("fault_rate"),
    )
    return {row[:-1]: row[-1] for row in rates.iter_rows()}


DAILY_MEASURES = {
    "traces": ("input", "traces"),
    "segments": ("input", "segments"),
    "invocations": ("function", "invocations"),
    "errors": ("function", "errors"),
    "faults": ("function", "faults"),
    "cold_starts": ("function", "cold_starts"),
}


def daily_totals(rollups: pl.DataFrame) -> pl.DataFrame:
    """Per day (UTC) of ``rollups`` (``ROLLUP_SCHEMA`` with their hours, merged or not): the
    ``DAILY_MEASURES`` summed over every function (0 when none), oldest day first."""
    daily = {section for section, _ in DAILY_MEASURES.values()}
    counted = rollups.filter(pl.col("bucket").is_null() & pl.col("section").is_in(daily))

    def total(section: str, measure: str) -> pl.Expr:
        picked = (pl.col("section") == section) & (pl.col("measure") == measure)
        return pl.col("count").filter(picked).sum().cast(pl.Int64)

    return (
        counted.group_by(pl.col("hour").dt.date().alias("day"))
        .agg([total(*where).alias(name) for name, where in DAILY_MEASURES.items()])
        .sort("day")
    )


def async_table(merged: pl.DataFrame) -> pl.DataFrame:
    """Merged rollups' asynchronous invocations as ``analyses.async_events.ASYNC_SCHEMA``
    (what ``async_events`` gives from spans), for the findings whose rule reads only its
    counts and event-age sketch: no example trace, and the outcome counts, which need each
    event's attempts, unknown (null)."""
    counted = counts(merged, "async")
    ages = quantiles(merged, "async", "event_age_ms", capped_by="event_age_max_us").select(
        "source", *(pl.col(f"{p}_ms").alias(f"event_age_{p}_ms") for p in PERCENTILES)
    )
    table = counted.join(ages, on="source", how="left", nulls_equal=True).with_columns(
        pl.col("source").alias("function_name"),
        pl.when(pl.col("events_with_attempts") > 0)
        .then(pl.col("retried_events") / pl.col("events_with_attempts"))
        .alias("retried_share"),
        (pl.col("event_age_max_us") / 1000).alias("event_age_max_ms"),
    )
    return conform(table, ASYNC_SCHEMA).sort("function_name")
