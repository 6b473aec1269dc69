"""A layered left-to-right layout for the service map, readable with many nodes.

Nodes are placed in columns by their depth from the graph's sources (clients): the longest
path to them in the graph with each cycle collapsed to one node, so callers sit left of what
they call and a recursive loop shares one column. Within a column, nodes are ordered by the
barycentre of their neighbours (a few sweeps each way) to reduce edge crossings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Layout:
    """Node positions; ``x`` is the column, ``y`` the row (0 is the middle, up is positive)."""

    positions: dict[str, tuple[float, float]]
    columns: int
    tallest_column: int


def layered_layout(graph: nx.DiGraph, *, sweeps: int = 4) -> Layout:
    """Positions for every node of ``graph``.

    Parameters
    ----------
    graph
        Directed graph; nodes may carry ``type`` and ``name`` attributes (used for a stable
        initial order).
    sweeps
        Barycentre passes in each direction.
    """
    if graph.number_of_nodes() == 0:
        return Layout({}, 0, 0)
    columns = _columns(graph)
    for _ in range(sweeps):
        _reorder(graph, columns, downstream=True)
        _reorder(graph, columns, downstream=False)
    positions = {
        node: (float(x), _row(i, len(column)))
        for x, column in enumerate(columns)
        for i, node in enumerate(column)
    }
    return Layout(positions, len(columns), max(len(c) for c in columns))


def _row(index: int, size: int) -> float:
    return (size - 1) / 2.0 - index


def _depths(graph: nx.DiGraph) -> dict[str, int]:
    """Longest-path depth of each node, cycles collapsed (``nx.condensation``)."""
    condensed = nx.condensation(graph)
    depth: dict[int, int] = {}
    for component in nx.topological_sort(condensed):
        parents = [depth[p] + 1 for p in condensed.predecessors(component)]
        depth[component] = max(parents, default=0)
    mapping: dict[str, int] = condensed.graph["mapping"]
    return {node: depth[component] for node, component in mapping.items()}


def _columns(graph: nx.DiGraph) -> list[list[str]]:
    depths = _depths(graph)
    columns: list[list[str]] = [[] for _ in range(max(depths.values()) + 1)]

    def initial(node: str) -> tuple[str, str]:
        attrs = graph.nodes[node]
        return (str(attrs.get("type", "")), str(attrs.get("name", node)))

    for node in sorted(graph.nodes, key=initial):
        columns[depths[node]].append(node)
    return columns


def _reorder(graph: nx.DiGraph, columns: list[list[str]], *, downstream: bool) -> None:
    """Sort each column by the mean row of its neighbours on the side already placed."""
    order = range(1, len(columns)) if downstream else range(len(columns) - 2, -1, -1)
    for x in order:
        rows = {node: _row(i, len(column)) for column in columns for i, node in enumerate(column)}
        column = columns[x]
        neighbours = graph.predecessors if downstream else graph.successors

        def barycentre(
            node: str,
            rows: dict[str, float] = rows,
            neighbours: Callable[[str], Iterable[str]] = neighbours,
        ) -> float:
            ys = [rows[n] for n in neighbours(node) if n != node]
            # NOTE: a node with no neighbour on that side keeps its current row.
            return -sum(ys) / len(ys) if ys else -rows[node]

        column.sort(key=barycentre)
