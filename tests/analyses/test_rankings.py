"""What the report draws first: orderings, totals and top choices (analyses.rankings), and the
long window's edge fault rates (analyses.rollups.edge_fault_rates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import polars as pl

from analyses import rollups
from analyses.bottlenecks import BOTTLENECK_SCHEMA
from analyses.cold_starts import COLD_START_SCHEMA
from analyses.completeness import unrepresentable_rows
from analyses.finding_format import FINDING_SCHEMA
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.invocations import INVOCATION_SCHEMA
from analyses.node_examples import NODE_EXAMPLE_SCHEMA
from analyses.rankings import (
    MAX_INIT_POINTS,
    bottlenecks_by_entry,
    bottlenecks_by_slow_share,
    busiest_nodes,
    cold_start_functions,
    failing_edges,
    findings_by_severity,
    functions_by_failures,
    init_points,
    node_examples_by_failures,
    nodes_by_failures,
    severity_counts,
    throttle_subjects,
)
from analyses.service_map import EDGE_SCHEMA, NODE_SCHEMA, service_map_edges
from analyses.throttles import THROTTLE_TIMELINE_SCHEMA
from analyses.trace_regions import trace_regions
from tests.builders.spans import frame_of
from tracelens.ingest.loader import load_traces

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


def _finding(severity: str, subject: str) -> dict[str, Any]:
    return {"severity": severity, "kind": "failures", "subject": subject, "key": subject}


def test_severity_counts_are_worst_first_with_zeros() -> None:
    frame = frame_of([_finding("info", "a"), _finding("critical", "b")], FINDING_SCHEMA)
    assert list(severity_counts(frame).items()) == [("critical", 1), ("warning", 0), ("info", 1)]
    empty = frame_of([], FINDING_SCHEMA)
    assert severity_counts(empty) == {"critical": 0, "warning": 0, "info": 0}


def test_findings_of_several_targets_worst_first_in_their_order() -> None:
    one = frame_of([_finding("warning", "w1"), _finding("info", "i1")], FINDING_SCHEMA)
    two = frame_of([_finding("critical", "c2"), _finding("warning", "w2")], FINDING_SCHEMA)
    merged = findings_by_severity(
        [one.with_columns(account=pl.lit("1")), two.with_columns(account=pl.lit("2"))]
    )
    assert merged.select("subject", "account").rows() == [
        ("c2", "2"),
        ("w1", "1"),
        ("w2", "2"),
        ("i1", "1"),
    ]
    assert findings_by_severity([]).is_empty()


def _node(name: str, requests: int, failed: int, **counts: int) -> dict[str, Any]:
    return {"name": name, "type": "remote", "requests": requests, "failed": failed, **counts}


def test_nodes_most_failed_first_then_busiest_and_their_examples_in_that_order() -> None:
    nodes = frame_of(
        [_node("quiet", 5, 0), _node("busy", 50, 0), _node("bad", 10, 3, errors=3, throttles=3)],
        NODE_SCHEMA,
    )
    ranked = nodes_by_failures(nodes)
    assert ranked.select("name", "failed").rows() == [("bad", 3), ("busy", 0), ("quiet", 0)]
    examples = frame_of(
        [
            {"name": "busy", "type": "remote", "why": "slowest", "rank": 1, "trace_id": "b-s1"},
            {"name": "bad", "type": "remote", "why": "slowest", "rank": 1, "trace_id": "x-s1"},
            {"name": "bad", "type": "remote", "why": "failed", "rank": 2, "trace_id": "x-f2"},
            {"name": "bad", "type": "remote", "why": "failed", "rank": 1, "trace_id": "x-f1"},
            {"name": "gone", "type": "remote", "why": "failed", "rank": 1, "trace_id": "g-f1"},
        ],
        NODE_EXAMPLE_SCHEMA,
    )
    ordered = node_examples_by_failures(examples, ranked)
    assert ordered["trace_id"].to_list() == ["x-f1", "x-f2", "x-s1", "b-s1"]
    assert ordered.columns == list(NODE_EXAMPLE_SCHEMA)


def test_busiest_nodes_and_failing_edges() -> None:
    graph = nx.DiGraph()
    for key, requests in (("b", 3), ("a", 3), ("c", 9), ("d", None)):
        graph.add_node(key, requests=requests)
    assert busiest_nodes(graph) == ["c", "a", "b", "d"]
    edges = frame_of(
        [
            {"source": "s", "target": "ok", "calls": 9, "errors": 0, "faults": 0, "throttles": 0},
            {"source": "s", "target": "err", "calls": 9, "errors": 4, "faults": 0, "throttles": 0},
            {"source": "s", "target": "flt", "calls": 2, "errors": 0, "faults": 1, "throttles": 0},
            {"source": "s", "target": "thr", "calls": 5, "errors": 1, "faults": 0, "throttles": 1},
        ],
        EDGE_SCHEMA,
    )
    assert failing_edges(edges)["target"].to_list() == ["flt", "thr", "err"]


def test_functions_most_failures_first() -> None:
    functions = frame_of(
        [
            {"function_name": "busy", "invocations": 90, "errors": 0, "faults": 0, "throttled": 0},
            {"function_name": "thr", "invocations": 5, "errors": 0, "faults": 0, "throttled": 4},
            {"function_name": "err", "invocations": 9, "errors": 2, "faults": 2, "throttled": 0},
        ],
        FUNCTION_TABLE_SCHEMA,
    )
    ranked = functions_by_failures(functions)
    assert ranked.select("function_name", "failed").rows() == [
        ("err", 4),
        ("thr", 4),
        ("busy", 0),
    ]


def test_throttle_subjects_per_chart_most_first() -> None:
    rows = [
        {"kind": "invocation", "subject": "fn-a", "throttled": 2},
        {"kind": "metric", "subject": "fn-a", "throttled": 5},
        {"kind": "invocation", "subject": "fn-b", "throttled": 6},
        {"kind": "downstream", "subject": "DynamoDB orders", "throttled": 1},
        {"kind": "downstream", "subject": "SQS jobs", "throttled": 1},
    ]
    subjects = throttle_subjects(frame_of(rows, THROTTLE_TIMELINE_SCHEMA))
    assert subjects.rows() == [
        ("downstream", "DynamoDB orders", 1),
        ("downstream", "SQS jobs", 1),
        ("invocation", "fn-a", 7),  # traced and CloudWatch counts together, to choose
        ("invocation", "fn-b", 6),
    ]


def _path(entry: str, node: str, traces: int, share: float, slow: float | None) -> dict[str, Any]:
    return {
        "entry": entry,
        "node": node,
        "traces": traces,
        "critical_path_share": share,
        "slow_share": slow,
        "example_trace_id": f"{entry}-{node}",
    }


def test_bottlenecks_by_entry_mark_each_entrys_slowest_node() -> None:
    frame = frame_of(
        [
            _path("GET /a", "db", 4, 0.2, 0.7),
            _path("GET /a", "fn", 4, 0.8, 0.3),
            _path("GET /b", "fn", 9, 0.5, None),
            _path("GET /b", "db", 2, 0.5, 0.1),
            _path("GET /c", "fn", 1, 1.0, None),
        ],
        BOTTLENECK_SCHEMA,
    )
    ranked = bottlenecks_by_entry(frame)
    assert ranked.select("entry", "node", "slowest").rows() == [
        ("GET /b", "fn", False),  # the most traced entry first; ties in share keep their order
        ("GET /b", "db", True),  # a known slow share before an unknown one
        ("GET /a", "fn", False),  # the largest share of all path time first
        ("GET /a", "db", True),
        ("GET /c", "fn", True),  # no slow share at all: the entry's first row
    ]
    assert ranked.columns == [*BOTTLENECK_SCHEMA, "slowest"]
    table = bottlenecks_by_slow_share(frame)
    assert table.select("entry", "node").rows()[:3] == [
        ("GET /a", "db"),
        ("GET /a", "fn"),
        ("GET /b", "db"),
    ]


def test_cold_start_functions_and_their_drawn_init_points() -> None:
    cold = frame_of(
        [
            {"function_name": "none", "cold_starts": 0, "cold_starts_from_logs": 0},
            {"function_name": "logs", "cold_starts": 0, "cold_starts_from_logs": 7},
            {"function_name": "big", "cold_starts": 3, "cold_starts_from_logs": 0},
        ],
        COLD_START_SCHEMA,
    )
    functions = frame_of(
        [{"function_name": "big", "memory_size_mb": 512, "vpc_attached": True}],
        FUNCTION_TABLE_SCHEMA,
    )
    ranked = cold_start_functions(cold, functions)
    assert ranked.select("function_name", "memory_size_mb", "vpc_attached").rows() == [
        ("big", 512, True),
        ("logs", None, None),
    ]


def test_init_points_are_capped_evenly_and_keep_the_extremes() -> None:
    rows = [
        {
            "function_name": "big",
            "cold_kind": "on_demand",
            "init_ms": float(ms),
            "trace_id": f"t{ms}",
        }
        for ms in range(1000)
    ] + [{"function_name": "big", "cold_kind": "provisioned", "init_ms": 5.0, "trace_id": "p"}]
    rows += [{"function_name": "other", "cold_kind": "on_demand", "init_ms": 1.0, "trace_id": "o"}]
    rows += [{"function_name": "big", "cold_kind": None, "init_ms": None, "trace_id": "warm"}]
    points = init_points(frame_of(rows, INVOCATION_SCHEMA), ["big"])
    on_demand = points.filter(pl.col("cold_kind") == "on_demand")["init_ms"]
    assert on_demand.len() == MAX_INIT_POINTS + 1  # one per bucket, plus the maximum
    assert on_demand.min() == 0.0 and on_demand.max() == 999.0
    gaps = on_demand.sort().diff().drop_nulls()
    assert gaps.max() <= 7.0  # evenly spread: 1000 values in 150 buckets
    assert points.filter(pl.col("cold_kind") == "provisioned")["init_ms"].to_list() == [5.0]
    assert "other" not in points["function_name"].to_list()


def test_regions_by_traces_most_first_ties_alphabetical() -> None:
    spans = pl.DataFrame(
        {
            "trace_id": ["t1", "t1", "t1", "t2", "t3", "t4"],
            "region": ["eu-west-1", "us-east-1", "us-east-1", "eu-west-1", "ap-south-1", None],
        }
    )
    regions = trace_regions(spans)
    assert regions.per_trace == {"t1": "us-east-1", "t2": "eu-west-1", "t3": "ap-south-1"}
    assert regions.by_traces == ["ap-south-1", "eu-west-1", "us-east-1"]
    assert trace_regions(spans.drop("region")).per_trace == {}


def test_unrepresentable_times_are_counted_per_row() -> None:
    frame = pl.DataFrame(
        {
            "start": pl.Series([0, 1, None], dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "end": pl.Series([1, 300_000_000_000_000_000, 2], dtype=pl.Int64).cast(
                pl.Datetime("us", "UTC")
            ),
        }
    )
    assert unrepresentable_rows(frame) == 1
    assert unrepresentable_rows(frame.head(1)) == 0


def test_long_window_edge_fault_rate_is_faults_over_calls() -> None:
    spans = load_traces([SAMPLES / "xray"]).spans
    rates = rollups.edge_fault_rates(rollups.merge([rollups.rollup(spans)]))
    edges = service_map_edges(spans)
    assert len(rates) == edges.height
    faulty = edges.filter(pl.col("faults") > 0)
    assert faulty.height > 0
    for e in edges.iter_rows(named=True):
        key = (e["source"], e["source_type"], e["target"], e["target_type"])
        assert rates[key] == (e["faults"] / e["calls"] if e["calls"] else None)
