"""``--export DIR``: the analysis' main tables as CSV and the service map as GraphML and JSON.

Files written (each replaced atomically, by the rule of :mod:`tracelens.atomic`):

``entry_points.csv``
    ``analyses.entry_points.ENTRY_POINT_SCHEMA``, worst first.
``functions.csv``
    ``analyses.functions.FUNCTION_TABLE_SCHEMA``.
``edges.csv`` / ``nodes.csv``
    The service map's ``EDGE_SCHEMA`` / ``NODE_SCHEMA`` rows.
``service_map.graphml`` / ``service_map.json``
    The service map graph (nodes keyed ``"<type>:<name>"``); the JSON is networkx's node-link
    form (``{"nodes": [...], "edges": [...]}``). A value that is unknown is left out of GraphML
    (which has no null) and null in JSON.

Text from traces is untrusted: a CSV cell that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading ``'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import orjson
import polars as pl

from tracelens.atomic import replace_atomically

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult

_FORMULA_START = r"^[=+\-@\t\r]"


def _csv(frame: pl.DataFrame) -> bytes:
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    safe = frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )
    return safe.write_csv().encode("utf-8")


def _graph_without_nulls(graph: nx.DiGraph) -> nx.DiGraph:
    copy: nx.DiGraph = nx.DiGraph()
    for node, attrs in graph.nodes(data=True):
        copy.add_node(node, **{k: v for k, v in attrs.items() if v is not None})
    for source, target, attrs in graph.edges(data=True):
        copy.add_edge(source, target, **{k: v for k, v in attrs.items() if v is not None})
    return copy


def _graphml(graph: nx.DiGraph) -> bytes:
    lines = nx.generate_graphml(_graph_without_nulls(graph))
    return ("<?xml version='1.0' encoding='utf-8'?>\n" + "\n".join(lines) + "\n").encode()


def _graph_json(graph: nx.DiGraph) -> bytes:
    document: dict[str, Any] = nx.node_link_data(graph, edges="edges")
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def export_tables(result: AnalysisResult, directory: Path) -> list[Path]:
    """Write the export files into ``directory`` (made when missing); the paths written.

    Raises
    ------
    OSError
        When the directory cannot be made or a file cannot be written
        (``tracelens.atomic.NotRegularFileError`` when a path holds something else).
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "entry_points.csv": _csv(result.entry_points),
        "functions.csv": _csv(result.functions),
        "edges.csv": _csv(result.service_edges),
        "nodes.csv": _csv(result.service_nodes),
        "service_map.graphml": _graphml(result.service_graph),
        "service_map.json": _graph_json(result.service_graph),
    }
    written = []
    for name, data in files.items():
        path = directory / name
        replace_atomically(path, data)
        written.append(path)
    return written
