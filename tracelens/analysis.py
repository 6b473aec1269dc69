"""Run every analysis over loaded inputs: the one place that wires analyses together.

Analyses stay pure; this module only decides which frames each one gets. The result feeds both
the JSON contract (:mod:`tracelens.contract`) and the HTML report (:mod:`tracelens.report`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, TypeVar

import networkx as nx
import polars as pl

from analyses.async_events import async_events
from analyses.bottlenecks import critical_path_and_bottlenecks
from analyses.cold_starts import cold_starts
from analyses.completeness import completeness, traffic_window, unrepresentable_rows
from analyses.dns import dns_and_connection_setup
from analyses.entry_points import entry_points, entry_traces
from analyses.finding_thresholds import FindingSettings
from analyses.findings import findings
from analyses.functions import function_table
from analyses.invocations import invocations
from analyses.loops import loop_node_lists, resource_loops
from analyses.memo import in_this_block, shared_intermediates
from analyses.metric_totals import metric_totals
from analyses.node_examples import node_examples
from analyses.rankings import (
    MAX_COLD_START_FUNCTIONS,
    bottlenecks_by_entry,
    bottlenecks_by_slow_share,
    busiest_nodes,
    cold_start_functions,
    failing_edges,
    functions_by_failures,
    init_points,
    node_examples_by_failures,
    nodes_by_failures,
    severity_counts,
    throttle_subjects,
)
from analyses.service_map import build_service_map, service_map_nodes_and_edges
from analyses.throttles import (
    downstream_throttles,
    invocation_throttles,
    throttle_timeline,
    throttled_attempts,
)
from analyses.timeline import entry_timeline, function_timeline
from analyses.trace_paths import TraceOrigin, trace_origin
from analyses.trace_regions import TraceRegions, trace_regions
from tracelens.inputs import Inputs

R = TypeVar("R")

if TYPE_CHECKING:
    from tracelens.rollup import LongWindow
    from tracelens.windowplan import WindowPlan


@dataclass(frozen=True)
class Rankings:
    """What the report shows first, taken from an :class:`AnalysisResult`'s frames (only the
    report reads them: ``AnalysisResult.ranked`` computes them on first use, so the JSON
    contract does not pay for them)."""

    # What to show first (analyses.rankings): findings per severity; nodes, node examples,
    # functions, throttle subjects, bottleneck rows and cold-start functions most failing,
    # throttled, traced or cold first (with the columns ranked by); the service map's node
    # keys busiest first; the failing edges; the traced inits drawn per cold-start function.
    severity_counts: dict[str, int]
    nodes_by_failures: pl.DataFrame
    node_examples_by_failures: pl.DataFrame
    busiest_nodes: list[str]
    failing_edges: pl.DataFrame
    functions_by_failures: pl.DataFrame
    throttle_subjects: pl.DataFrame
    bottlenecks_by_entry: pl.DataFrame
    bottlenecks_by_slow_share: pl.DataFrame
    cold_start_functions: pl.DataFrame
    init_points: pl.DataFrame
    # Each trace's region and the regions by traces (analyses.trace_regions).
    trace_regions: TraceRegions
    # The traffic's first start and last end (analyses.completeness.traffic_window).
    trace_window: tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class AnalysisResult:
    """Every analysis output, as frames with declared schemas (see each analysis module)."""

    inputs: Inputs
    invocations: pl.DataFrame
    functions: pl.DataFrame
    cold_starts: pl.DataFrame
    invocation_throttles: pl.DataFrame
    downstream_throttles: pl.DataFrame
    throttle_timeline: pl.DataFrame
    dns: pl.DataFrame
    connection_setup: pl.DataFrame
    # The critical paths of the bottlenecks' example traces (what the report draws); every
    # trace's path is analyses.bottlenecks.critical_path(spans).
    critical_path: pl.DataFrame
    bottlenecks: pl.DataFrame
    service_nodes: pl.DataFrame
    service_edges: pl.DataFrame
    service_graph: nx.DiGraph
    # Loops through the same resources (analyses.loops.LOOP_SCHEMA), not the map's cycles.
    loops: pl.DataFrame
    cycles: list[list[str]]  # each loop's node keys, from its closing resource
    findings: pl.DataFrame
    # What the traces lack (analyses.completeness.COMPLETENESS_SCHEMA), one row per issue.
    completeness: pl.DataFrame
    # What users see, per entry point (analyses.entry_points), and per minute
    # (analyses.timeline); example traces per service-map node (analyses.node_examples).
    entry_points: pl.DataFrame
    entry_timeline: pl.DataFrame
    function_timeline: pl.DataFrame
    node_examples: pl.DataFrame
    # Asynchronous invocations per function (``analyses.async_events.ASYNC_SCHEMA``).
    async_events: pl.DataFrame
    # CloudWatch totals per function and the traces' sampling ratio
    # (``analyses.metric_totals.METRIC_TOTALS_SCHEMA``; empty without metrics).
    metric_totals: pl.DataFrame
    # Which path the traces came from, and whether they are only X-Ray's indexed sample.
    trace_origin: TraceOrigin
    # The thresholds and silenced keys the findings were made with.
    finding_settings: FindingSettings = field(default_factory=FindingSettings)
    # The timelines' bucket: a minute, or more over long windows (at most MAX_TIME_BUCKETS).
    timeline_bucket_s: int = 60
    # Which data answered which section (tracelens.rollup.plan_windows; None: files were read)
    # and, over a window longer than the span window, what the rollups hold for all of it.
    window_plan: WindowPlan | None = None
    long_window: LongWindow | None = None

    @functools.cached_property
    def ranked(self) -> Rankings:
        """What to show first (:class:`Rankings`), computed on first use from these frames
        (a copy made by ``dataclasses.replace`` computes its own)."""
        return _rankings(self)

    @functools.cached_property
    def unrepresentable_spans(self) -> int:
        """How many spans hold a time outside years 1-9999 (analyses.completeness: shown as
        unknown), without computing :attr:`ranked` (the report ranks the copy it draws, whose
        such times are nulls)."""
        return unrepresentable_rows(self.inputs.traces.spans)


def run_analysis(
    inputs: Inputs, settings: FindingSettings | None = None, *, lanes: Literal[1, 2] = 1
) -> AnalysisResult:
    """Every analysis over ``inputs``; side inputs that were not given are passed as None.

    With ``lanes=2`` the walks over the span tree's paths (downstream throttles, critical path
    and bottlenecks, loops) run in a second thread beside the other analyses; the result is the
    same. Measured at a million segments on two cores: spans read from a store (their text
    columns categorical) take ~0.8 s less wall time for ~100 MB more at the peak (1.35 GB);
    spans parsed from raw JSON gain nothing and peak 170 MB higher (2.2 GB), so it is for the
    store's readers to ask.
    """
    # NOTE: the analyses share intermediate frames (span tree, invocations, throttled attempts,
    # cold starts); inside this block each is computed once, and released at its end.
    with shared_intermediates():
        return _analyze(inputs, settings or FindingSettings(), lanes)


MAX_TIME_BUCKETS = 720


def timeline_bucket_s(spans: pl.DataFrame) -> int:
    """One minute, or whole minutes enough to cover the traces in ``MAX_TIME_BUCKETS``."""
    if spans.is_empty():
        return 60
    first, last = spans.select(
        pl.col("start_time").min().dt.epoch("s").alias("first"),
        pl.col("start_time").max().dt.epoch("s").alias("last"),
    ).row(0)
    if first is None or last is None:
        return 60
    minutes = (int(last) - int(first)) // 60 + 1
    return 60 * max(1, -(-minutes // MAX_TIME_BUCKETS))


def _rankings(result: AnalysisResult) -> Rankings:
    """What to show first (``analyses.rankings``), the traces' regions and window, from
    ``result``'s frames."""
    spans = result.inputs.traces.spans
    ranked_nodes = nodes_by_failures(result.service_nodes)
    cold = cold_start_functions(result.cold_starts, result.functions)
    drawn = cold.head(MAX_COLD_START_FUNCTIONS).get_column("function_name").to_list()
    return Rankings(
        severity_counts=severity_counts(result.findings),
        nodes_by_failures=ranked_nodes,
        node_examples_by_failures=node_examples_by_failures(result.node_examples, ranked_nodes),
        busiest_nodes=busiest_nodes(result.service_graph),
        failing_edges=failing_edges(result.service_edges),
        functions_by_failures=functions_by_failures(result.functions),
        throttle_subjects=throttle_subjects(result.throttle_timeline),
        bottlenecks_by_entry=bottlenecks_by_entry(result.bottlenecks),
        bottlenecks_by_slow_share=bottlenecks_by_slow_share(result.bottlenecks),
        cold_start_functions=cold,
        init_points=init_points(result.invocations, drawn),
        trace_regions=trace_regions(spans),
        trace_window=traffic_window(spans),
    )


@dataclass(frozen=True)
class _PathLane:
    """What the second lane of :func:`_analyze` gives: the walks over the span tree's paths."""

    downstream: pl.DataFrame
    path: pl.DataFrame
    slow: pl.DataFrame
    loops: pl.DataFrame


class _InThisThread:
    """One lane: what is submitted runs at once, in the caller's thread."""

    def __enter__(self) -> _InThisThread:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def submit(self, function: Callable[[], R]) -> Future[R]:
        done: Future[R] = Future()
        done.set_result(function())
        return done


def _path_lane(spans: pl.DataFrame) -> _PathLane:
    downstream = downstream_throttles(spans)  # builds the span tree (memoised)
    path, slow = critical_path_and_bottlenecks(spans, example_paths_only=True)
    loops = resource_loops(spans)
    return _PathLane(downstream=downstream, path=path, slow=slow, loops=loops)


def _analyze(inputs: Inputs, settings: FindingSettings, lanes: Literal[1, 2]) -> AnalysisResult:
    spans = inputs.traces.spans
    reports = inputs.logs.reports if inputs.logs is not None else None
    metrics = inputs.metrics
    config = inputs.functions.functions if inputs.functions is not None else None
    account_limit = inputs.functions.account_concurrency_limit if inputs.functions else None

    # NOTE: with two lanes, they share the memoised intermediates (a result one lane needs
    # while the other computes it is waited for: analyses.memo). The critical-path walk has
    # long single-threaded steps that the other lane fills. The walks over the tree's paths run
    # in the second thread, in the order that keeps the larger frames apart.
    second_lane = (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracelens-analyses")
        if lanes == 2
        else _InThisThread()
    )
    with second_lane as lane:
        paths = lane.submit(in_this_block(functools.partial(_path_lane, spans)))
        invocation_rows = invocations(spans)
        cold = cold_starts(spans, reports=reports)
        throttled = invocation_throttles(
            spans, metrics=metrics, functions=config, account_concurrency_limit=account_limit
        )
        table = function_table(spans, reports=reports, functions=config)
        timeline = throttle_timeline(spans, metrics=metrics)
        queued = async_events(spans)
        attempts = throttled_attempts(spans)
        bucket_s = timeline_bucket_s(spans)
        per_trace = entry_traces(spans, invocation_rows=invocation_rows, throttled=attempts)
        dns, connections = dns_and_connection_setup(spans, functions=config)
        nodes, edges = service_map_nodes_and_edges(spans)
        incomplete = completeness(spans)
        examples = node_examples(spans)
        walked = paths.result()
    downstream, path, slow, loops = walked.downstream, walked.path, walked.slow, walked.loops
    graph = build_service_map(nodes, edges)
    found = findings(
        functions=table,
        cold_starts=cold,
        invocation_throttles=throttled,
        downstream_throttles=downstream,
        dns=dns,
        connection_setup=connections,
        bottlenecks=slow,
        loops=loops,
        async_events=queued,
        entry_traces=per_trace,
        thresholds=settings.thresholds,
        silence=settings.silence,
    )
    return AnalysisResult(
        inputs=inputs,
        invocations=invocation_rows,
        functions=table,
        cold_starts=cold,
        invocation_throttles=throttled,
        downstream_throttles=downstream,
        throttle_timeline=timeline,
        dns=dns,
        connection_setup=connections,
        critical_path=path,
        bottlenecks=slow,
        service_nodes=nodes,
        service_edges=edges,
        service_graph=graph,
        loops=loops,
        cycles=loop_node_lists(loops),
        findings=found,
        completeness=incomplete,
        async_events=queued,
        metric_totals=metric_totals(metrics, invocation_rows),
        trace_origin=trace_origin(
            inputs.traces.read_stats.paths,
            inputs.trace_destinations,
            counted=inputs.traces.documents_known,
        ),
        finding_settings=settings,
        entry_points=entry_points(per_trace),
        entry_timeline=entry_timeline(per_trace, bucket_s=bucket_s),
        function_timeline=function_timeline(
            invocation_rows, attempts, metrics=metrics, bucket_s=bucket_s
        ),
        timeline_bucket_s=bucket_s,
        node_examples=examples,
    )
