"""The service map layout and figure, on a synthetic 60-node application."""

from __future__ import annotations

import itertools
from typing import Any

import networkx as nx
import plotly.graph_objects as go
import polars as pl
import pytest

from analyses.service_map import EDGE_SCHEMA, NODE_SCHEMA, build_service_map
from tests.builders.spans import frame_of
from tracelens.report.graph_layout import Layout, layered_layout
from tracelens.report.sections.service_map import MAX_NODES, _figure, edge_status

FN = "AWS::Lambda::Function"


def _edge(
    src: tuple[str, str], dst: tuple[str, str], calls: int = 10, **flags: int
) -> dict[str, Any]:
    return {
        "source": src[0], "source_type": src[1], "target": dst[0], "target_type": dst[1],
        "calls": calls, "errors": flags.get("errors", 0), "faults": flags.get("faults", 0),
        "throttles": flags.get("throttles", 0), "p50_ms": 5.0, "p95_ms": 20.0, "p99_ms": 40.0,
    }  # fmt: skip


def synthetic_map() -> nx.DiGraph:
    """client -> stage -> 12 Lambda services -> 12 functions -> 16 tables, 6 queues (each
    consumed by a function) and 12 hosts; fn-11 and queue-5 call each other (a loop)."""
    client, stage = ("web", "client"), ("shop/prod", "AWS::ApiGateway::Stage")
    edges = [
        _edge(client, stage),
    ]
    tables = [(f"table-{i}", "AWS::DynamoDB::Table") for i in range(16)]
    queues = [(f"queue-{i}", "AWS::SQS::Queue") for i in range(6)]
    hosts = [(f"api-{i}.example.com", "remote") for i in range(12)]
    for i in range(12):
        service, function = (f"fn-{i}", "AWS::Lambda"), (f"fn-{i}", FN)
        edges += [_edge(stage, service, faults=int(i == 3)), _edge(service, function)]
        edges += [
            _edge(function, tables[(3 * i + k) % 16], throttles=int(k == 0 and i == 5))
            for k in range(3)
        ]
        edges.append(_edge(function, hosts[i], errors=int(i == 7)))
        if i < 6:
            edges += [_edge(function, queues[i]), _edge(queues[i], (f"fn-{i + 6}", FN))]
    edges.append(_edge(("fn-11", FN), queues[5]))  # fn-5 -> queue-5 -> fn-11 -> queue-5
    frame = frame_of(edges, EDGE_SCHEMA)
    nodes = (
        pl.concat(
            [
                frame.select(pl.col("source").alias("name"), pl.col("source_type").alias("type")),
                frame.select(pl.col("target").alias("name"), pl.col("target_type").alias("type")),
            ]
        )
        .unique()
        .with_columns(requests=pl.lit(100), errors=0, faults=0, throttles=0, failed=0)
        .with_columns(pl.lit(None).alias(c) for c in NODE_SCHEMA if c.startswith("service_"))
    )
    return build_service_map(nodes.select(NODE_SCHEMA.keys()).cast(NODE_SCHEMA), frame)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    g = synthetic_map()
    assert g.number_of_nodes() == 60
    return g


def _crossings(graph: nx.DiGraph, layout: Layout) -> int:
    pos = layout.positions
    spans = [(pos[a], pos[b]) for a, b in graph.edges if pos[b][0] - pos[a][0] == 1]
    return sum(
        1
        for (a0, a1), (b0, b1) in itertools.combinations(spans, 2)
        if a0[0] == b0[0] and (a0[1] - b0[1]) * (a1[1] - b1[1]) < 0
    )


def test_layout_places_callers_left_of_callees(graph: nx.DiGraph) -> None:
    layout = layered_layout(graph)
    pos = layout.positions
    assert set(pos) == set(graph.nodes)
    assert len(set(pos.values())) == graph.number_of_nodes()  # no two nodes on one spot
    assert pos["client:web"][0] == 0.0
    loop = {"AWS::SQS::Queue:queue-5", f"{FN}:fn-11"}
    assert pos["AWS::SQS::Queue:queue-5"][0] == pos[f"{FN}:fn-11"][0]  # a cycle shares a column
    for a, b in graph.edges:
        if not {a, b} <= loop:
            assert pos[a][0] < pos[b][0], (a, b)
    assert layout.tallest_column < 30


def test_barycentre_sweeps_reduce_crossings(graph: nx.DiGraph) -> None:
    assert _crossings(graph, layered_layout(graph)) < _crossings(
        graph, layered_layout(graph, sweeps=0)
    )


def test_figure_draws_every_node_once_with_a_legend_per_type(graph: nx.DiGraph) -> None:
    figure = _figure(graph)
    nodes = [t for t in figure.data if isinstance(t, go.Scatter) and t.mode == "markers+text"]
    assert sum(len(t.x) for t in nodes) == 60
    assert {t.name for t in nodes} == {
        "client", "API Gateway stage", "Lambda service", "Lambda function", "DynamoDB table",
        "SQS queue", "remote endpoint",
    }  # fmt: skip
    assert 420 <= figure.layout.height <= 2400
    edge_lines = {t.name: t for t in figure.data if t.mode == "lines"}
    assert len(edge_lines["calls with faults (5xx)"].x) == 3  # one edge: x0, x1, None
    assert len(edge_lines["calls throttled"].x) == 3
    assert len(edge_lines["calls with errors (4xx)"].x) == 3


def test_edge_status_takes_the_worst() -> None:
    assert edge_status({"errors": 3, "faults": 1, "throttles": 2}) == "fault"
    assert edge_status({"errors": 3, "faults": 0, "throttles": 2}) == "throttle"
    assert edge_status({"errors": 3}) == "error"
    assert edge_status({"errors": 0, "faults": None}) == "ok"


def test_huge_maps_are_cut_to_the_busiest_nodes() -> None:
    from analyses.rankings import busiest_nodes
    from tracelens.report.sections.service_map import _largest

    g = nx.DiGraph()
    for i in range(MAX_NODES + 50):
        g.add_node(f"n{i}", name=f"n{i}", type="remote", requests=i)
    kept = _largest(g, busiest_nodes(g))
    assert kept.number_of_nodes() == MAX_NODES
    assert "n0" not in kept and f"n{MAX_NODES + 49}" in kept
