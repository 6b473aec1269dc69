"""Big inputs: the page stays small and quick because renderers cap and never plot per span."""

from __future__ import annotations

import dataclasses

import networkx as nx
import polars as pl

from analyses.bottlenecks import BOTTLENECK_SCHEMA
from analyses.dns import CONNECTION_SETUP_SCHEMA, DNS_SCHEMA
from analyses.entry_points import ENTRY_POINT_SCHEMA
from analyses.finding_format import FINDING_SCHEMA
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.invocations import INVOCATION_SCHEMA
from analyses.node_examples import NODE_EXAMPLE_SCHEMA
from analyses.throttles import THROTTLE_TIMELINE_SCHEMA
from analyses.timeline import ENTRY_TIMELINE_SCHEMA, FUNCTION_TIMELINE_SCHEMA
from tests.builders.spans import T0
from tracelens.analysis import AnalysisResult
from tracelens.report import render_report

MAX_PAGE_BYTES = 10_000_000


def _frame(schema: dict[str, pl.DataType], rows: int, **columns: pl.Expr) -> pl.DataFrame:
    """``rows`` rows of ``schema``; ``columns`` are expressions of the row number ``k``."""
    base = pl.select(pl.int_range(rows, dtype=pl.Int64).alias("k"))
    return base.select(
        (columns[name] if name in columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    )


def _k() -> pl.Expr:
    return pl.col("k")


def _name(prefix: str, modulo: int) -> pl.Expr:
    return pl.format(prefix + "-{}", _k() % modulo)


def _graph(nodes: int) -> nx.DiGraph:
    graph = nx.DiGraph()
    for i in range(nodes):
        graph.add_node(f"n{i}", name=f"node-{i}", type="AWS::Lambda::Function", requests=i)
        if i:
            graph.add_edge(f"n{(i - 1) // 3}", f"n{i}", calls=10, errors=0, faults=i % 2,
                           throttles=0, p50_ms=1.0, p95_ms=2.0, p99_ms=3.0)  # fmt: skip
    return graph


def huge_result(base: AnalysisResult) -> AnalysisResult:
    """Frames as a million-segment input gives them: 300k executions, 2,000 functions..."""
    minute = pl.lit(T0) + pl.duration(minutes=_k() // 50)
    day_minute = pl.lit(T0) + pl.duration(minutes=(_k() // 2_000) % 1_440)
    varied = dataclasses.replace(
        base,
        invocations=_frame(
            INVOCATION_SCHEMA, 300_000, trace_id=pl.format("1-66322f00-{}", _k()),
            function_name=_name("fn", 40),
            cold_kind=pl.when(_k() % 5 == 0).then(pl.lit("on_demand")),
            init_ms=pl.when(_k() % 5 == 0).then(_k() % 997 + 100),
        ),
        cold_starts=base.cold_starts,
        functions=_frame(FUNCTION_TABLE_SCHEMA, 2_000, function_name=_name("fn", 2_000),
                         invocations=_k(), duration_p50_ms=_k() * 1.5),
        throttle_timeline=_frame(THROTTLE_TIMELINE_SCHEMA, 72_000, minute=minute,
                                 kind=pl.lit("invocation"), subject=_name("fn", 50),
                                 throttled=_k() % 7 + 1),
        dns=_frame(DNS_SCHEMA, 5_000, function_name=_name("fn", 100), host=_name("h", 5_000),
                   lookups=_k() + 1, p50_ms=_k() % 50 + 1.0, max_ms=_k() % 50 + 9.0),
        connection_setup=_frame(CONNECTION_SETUP_SCHEMA, 5_000, function_name=_name("fn", 100),
                                host=_name("h", 5_000), calls=_k()),
        bottlenecks=_frame(BOTTLENECK_SCHEMA, 5_000, entry=_name("entry", 500),
                           node=_name("node", 10), traces=_k(), critical_path_share=pl.lit(0.1),
                           slow_share=pl.lit(0.1)),
        service_graph=_graph(1_000),
        findings=_frame(FINDING_SCHEMA, 5_000, severity=pl.lit("warning"), kind=pl.lit("dns"),
                        subject=_name("s", 5_000), message=pl.lit("m"), impact=_k(),
                        trace_id=pl.format("1-66322f00-{}", _k())),
        entry_points=_frame(ENTRY_POINT_SCHEMA, 2_000, entry=_name("entry", 2_000),
                            entry_type=pl.lit("API route"), requests=_k() + 1, failed=_k(),
                            slowest_trace_id=pl.format("1-66322f00-{}", _k()),
                            failed_trace_id=pl.format("1-66322f01-{}", _k())),
        # a day of minutes for 2,000 entry points and 2,000 functions, every minute busy
        entry_timeline=_frame(ENTRY_TIMELINE_SCHEMA, 300_000, minute=day_minute,
                              entry=_name("entry", 2_000), requests=_k() % 90,
                              error_rate=pl.lit(0.01), p50_ms=pl.lit(5.0), p95_ms=_k() % 700,
                              p99_ms=pl.lit(900.0)),
        function_timeline=_frame(FUNCTION_TIMELINE_SCHEMA, 300_000, minute=day_minute,
                                 function_name=_name("fn", 2_000), invocations=_k() % 90,
                                 cw_invocations=(_k() % 360).cast(pl.Float64),
                                 p95_ms=_k() % 700),
        node_examples=_frame(NODE_EXAMPLE_SCHEMA, 4_000, name=_name("node", 1_000),
                             type=pl.lit("AWS::Lambda::Function"), why=pl.lit("slowest"),
                             rank=_k() // 1_000 + 1, trace_id=pl.format("1-66322f02-{}", _k()),
                             duration_ms=_k() * 1.0, status=pl.lit("ok")),
    )  # fmt: skip
    return varied  # a copy: it ranks these frames itself


def test_a_huge_analysis_renders_a_small_page(result: AnalysisResult) -> None:
    # How fast a page renders is held by benchmarks/bench_components.py (report).
    page = render_report(huge_result(result))
    assert len(page.encode("utf-8")) < MAX_PAGE_BYTES
    assert "Showing the first 500 of 2,000 functions" in page
    assert "Showing the first 250 of 1,000 nodes" in page
    assert "Showing the first 40 of 5,000 critical and warning findings." in page
    assert "Showing the first 30 of 2,000 entry points" in page
    assert "The first 8 of 2,000 entry points" in page
