"""The service map: nodes and edges as X-Ray's GetServiceGraph draws them, from spans.

Nodes are ``(name, type)`` pairs named as in ``analyses._calls``. Edges ("hops") come from:

- every outermost ``aws``/``remote`` call subsegment: its segment's node -> the node it reaches
  (nested ``connect``/``dns``/``tls`` steps are part of the call; an inferred segment beside it
  names the target and is not a second call);
- a segment whose parent is inside a call that relays (an inferred node, an SQS queue, an SNS
  topic): the call's target -> the segment's node, so producer -> queue -> consumer;
- a segment whose parent is a segment or a subsegment outside any call: the parent's segment
  node -> the segment's node, except a function's segment under the Lambda service's
  ``AWS::Lambda`` segment: both are the function's one node (see ``analyses._calls``), and the
  request is counted once, on the edge into the service segment;
- a segment without a parent in its trace: the ``client`` node (named like the root, as
  GetServiceGraph does) -> the segment's node.

In the graph a node's key is ``node_key(name, type)`` = ``"<type>:<name>"``.

A function's node counts requests to the function: one per ``AWS::Lambda`` segment (with the
flags of the function segments under it: a request errs when either records it), plus one per
function segment recorded without one. Throttles happen in the Lambda service before the
function runs: they count on the function's node and on the edge into it (the caller's view),
and the service's own time per request (its segment minus the function's segments under it:
queueing, dwell, attempts) is the node's ``service_p50_ms``/``service_p95_ms``, with
``service_requests`` and ``service_throttles`` (null when no ``AWS::Lambda`` segment was
recorded for the function, and on every other node).
"""

from __future__ import annotations

from itertools import islice

import networkx as nx
import polars as pl

from analyses._calls import (
    CLIENT_TYPE,
    FUNCTION_ORIGIN,
    LAMBDA_SERVICE_ORIGIN,
    outermost_calls,
    span_tree,
)
from analyses._frames import flag_count, quantile_ms, require_columns
from tracelens.schema import SPAN_SCHEMA

EDGE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_type": pl.String(),
    "target": pl.String(),
    "target_type": pl.String(),
    "calls": pl.Int64(),
    "errors": pl.Int64(),
    "faults": pl.Int64(),
    "throttles": pl.Int64(),
    "p50_ms": pl.Float64(),
    "p95_ms": pl.Float64(),
    "p99_ms": pl.Float64(),
}

NODE_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "type": pl.String(),
    "requests": pl.Int64(),
    "errors": pl.Int64(),
    "faults": pl.Int64(),
    "throttles": pl.Int64(),
    # The Lambda service in front of a function (its AWS::Lambda segments); null when none
    # was recorded and on every node that is not a function.
    "service_requests": pl.Int64(),
    "service_throttles": pl.Int64(),
    "service_p50_ms": pl.Float64(),  # the service's own time per request
    "service_p95_ms": pl.Float64(),
    # Requests with an error, fault or throttle: each once (X-Ray flags a 429 error and throttle).
    "failed": pl.Int64(),
}

_HOP_COLUMNS = ["source", "source_type", "target", "target_type", "target_is_segment"]
_FLAGS = ["error", "fault", "throttle"]
_MEASURES = ["duration_ms", *_FLAGS]
# NOTE: trace_id rides along with the measures only for hops grouped per partition (rollups).
_TRACED = [*_MEASURES, "trace_id"]


_SERVICE = pl.col("service").fill_null(False)
NODE_COUNT_EXPRS: dict[str, pl.Expr] = {
    "requests": pl.len().cast(pl.Int64),
    "errors": flag_count("error"),
    "faults": flag_count("fault"),
    "throttles": flag_count("throttle"),
    "service_requests": _SERVICE.cast(pl.Int64).sum(),
    "service_throttles": (_SERVICE & pl.col("throttle").fill_null(False)).cast(pl.Int64).sum(),
    "failed": pl.any_horizontal(_FLAGS).fill_null(False).cast(pl.Int64).sum(),
}
"""The counts of a node over its requests (``service_map_hops_and_node_requests``; rollups
count the same per hour). ``service_map_nodes`` makes the Lambda service's counts null
where no ``AWS::Lambda`` segment of the node was recorded."""


def node_key(name: str, node_type: str) -> str:
    """The graph key of a node: ``"<type>:<name>"`` (e.g. ``"AWS::Lambda::Function:orders"``)."""
    return f"{node_type}:{name}"


def service_map_edges(spans: pl.DataFrame) -> pl.DataFrame:
    """Calls between nodes, aggregated per edge.

    Returns
    -------
    pl.DataFrame
        ``EDGE_SCHEMA``: per (source, target) the number of calls, of calls flagged error,
        fault and throttle, and latency percentiles (linear interpolation) in ms.
    """
    require_columns(spans, SPAN_SCHEMA, what="spans")
    return _edges(_hops_from_tree(span_tree(spans)))


def service_map_nodes(spans: pl.DataFrame) -> pl.DataFrame:
    """Every node of the map with its request and status counts.

    A node backed by segments counts its segments (an inferred segment only when it has no
    parent in its trace, e.g. ``AWS::Events`` upstream of a function; a function counts its
    requests, as the module's docstring says); a node known only from
    calls (a table, a queue, a remote host, an untraced function) counts the calls it
    received, as the callers saw them; a ``client`` node counts the root segments it sent.

    Returns
    -------
    pl.DataFrame
        ``NODE_SCHEMA``, one row per (name, type).
    """
    require_columns(spans, SPAN_SCHEMA, what="spans")
    tree = span_tree(spans)
    return _nodes(tree, _hops_from_tree(tree))


def service_map_nodes_and_edges(spans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(service_map_nodes(spans), service_map_edges(spans))``, finding the hops once."""
    require_columns(spans, SPAN_SCHEMA, what="spans")
    tree = span_tree(spans)
    hops = _hops_from_tree(tree)
    return _nodes(tree, hops), _edges(hops)


def service_map_hops(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per hop (a call or a segment under its caller) with its trace id, duration and
    status flags: what :func:`service_map_edges` aggregates, for partial aggregates."""
    require_columns(spans, SPAN_SCHEMA, what="spans")
    return _hops_from_tree(span_tree(spans), measures=_TRACED, coded=False)


def _edges(hops: pl.DataFrame) -> pl.DataFrame:
    edges = hops.group_by(["source", "source_type", "target", "target_type"]).agg(
        pl.len().cast(pl.Int64).alias("calls"),
        flag_count("error").alias("errors"),
        flag_count("fault").alias("faults"),
        flag_count("throttle").alias("throttles"),
        quantile_ms("duration_ms", 0.50).alias("p50_ms"),
        quantile_ms("duration_ms", 0.95).alias("p95_ms"),
        quantile_ms("duration_ms", 0.99).alias("p99_ms"),
    )
    return (
        edges.select(EDGE_SCHEMA.keys())
        .cast(pl.Schema(EDGE_SCHEMA))
        .sort(["source_type", "source", "target_type", "target"])
    )


def service_map_hops_and_node_requests(
    spans: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`service_map_hops`, and one row per request a node received (``trace_id``,
    ``name``, ``type``, the flags, ``service`` and ``service_ms``): what
    :func:`service_map_nodes` aggregates, for partial aggregates (the tree is built once)."""
    require_columns(spans, SPAN_SCHEMA, what="spans")
    tree = span_tree(spans)
    hops = _hops_from_tree(tree, measures=_TRACED, coded=False)
    return hops, _node_requests(tree, hops, traced=True)


def _node_requests(tree: pl.DataFrame, hops: pl.DataFrame, *, traced: bool = False) -> pl.DataFrame:
    """One row per request a node received (with its ``trace_id`` when ``traced``)."""
    measures = [*_MEASURES, "trace_id"] if traced else _MEASURES
    segments = _segment_requests(tree, measures)
    called = hops.filter(~pl.col("target_is_segment")).select(
        pl.col("target").alias("name"), pl.col("target_type").alias("type"), *measures
    )
    clients = hops.filter(pl.col("source_type") == CLIENT_TYPE).select(
        pl.col("source").alias("name"), pl.col("source_type").alias("type"), *measures
    )
    return pl.concat([segments, called, clients], how="diagonal_relaxed")


def _nodes(tree: pl.DataFrame, hops: pl.DataFrame) -> pl.DataFrame:
    nodes = (
        _node_requests(tree, hops)
        .group_by(["name", "type"])
        .agg(
            *(
                (pl.when(_SERVICE.any()).then(expr) if name.startswith("service_") else expr).alias(
                    name
                )
                for name, expr in NODE_COUNT_EXPRS.items()
            ),
            quantile_ms("service_ms", 0.50).alias("service_p50_ms"),
            quantile_ms("service_ms", 0.95).alias("service_p95_ms"),
        )
    )
    return nodes.select(NODE_SCHEMA.keys()).cast(pl.Schema(NODE_SCHEMA)).sort(["type", "name"])


def _segment_requests(tree: pl.DataFrame, measures: list[str] = _MEASURES) -> pl.DataFrame:
    """One row per request a segment-backed node received: ``name``, ``type``, ``measures``,
    ``service`` (an ``AWS::Lambda`` segment) and ``service_ms`` (its own time)."""
    segments = tree.select(
        "row",
        "parent_row",
        pl.col("name").cast(pl.Categorical),
        pl.col("node_type").cast(pl.Categorical).alias("type"),
        *measures,
        (pl.col("origin") == LAMBDA_SERVICE_ORIGIN).fill_null(False).alias("service"),
        (pl.col("origin") == FUNCTION_ORIGIN).fill_null(False).alias("function"),
        # NOTE: an inferred segment without a parent in its trace (AWS::Events upstream of
        # a function, say) is the only record of that node: it stays on the map.
        (
            (pl.col("kind") == "segment") & (~pl.col("inferred") | pl.col("parent_row").is_null())
        ).alias("keep"),
    ).filter(pl.col("keep"))
    service_rows = segments.filter(pl.col("service"))["row"]
    # A function segment under a service segment kept here is the same request.
    folded = segments.filter(
        pl.col("function") & pl.col("parent_row").is_in(service_rows.implode())
    )
    under = folded.group_by("parent_row").agg(
        pl.col("duration_ms").sum().alias("function_ms"),
        *[pl.col(flag).fill_null(False).any().alias(f"function_{flag}") for flag in _FLAGS],
    )
    return (
        segments.join(folded.select("row"), on="row", how="anti")
        .join(under, left_on="row", right_on="parent_row", how="left")
        .select(
            "name",
            "type",
            *[m for m in measures if m not in _FLAGS],
            *[
                pl.when(pl.col(f"function_{flag}")).then(True).otherwise(pl.col(flag)).alias(flag)
                for flag in _FLAGS
            ],
            "service",
            pl.when(pl.col("service"))
            .then((pl.col("duration_ms") - pl.col("function_ms").fill_null(0.0)).clip(0.0))
            .alias("service_ms"),
        )
    )


def build_service_map(nodes: pl.DataFrame, edges: pl.DataFrame) -> nx.DiGraph:
    """A directed graph of the map, keyed by ``node_key(name, type)``.

    Node attributes are the ``NODE_SCHEMA`` columns; edge attributes the ``EDGE_SCHEMA``
    measures (calls, errors, faults, throttles, p50/p95/p99 ms). Edge endpoints missing from
    ``nodes`` are added with only ``name`` and ``type``.
    """
    require_columns(nodes, NODE_SCHEMA, what="nodes")
    require_columns(edges, EDGE_SCHEMA, what="edges")
    graph: nx.DiGraph = nx.DiGraph()
    # NOTE: these loops run over aggregated rows (one per distinct node or edge), not spans.
    for node in nodes.to_dicts():
        graph.add_node(node_key(node["name"], node["type"]), **node)
    for edge in edges.to_dicts():
        source = node_key(edge["source"], edge["source_type"])
        target = node_key(edge["target"], edge["target_type"])
        for key, name, node_type in (
            (source, edge["source"], edge["source_type"]),
            (target, edge["target"], edge["target_type"]),
        ):
            if key not in graph:
                graph.add_node(key, name=name, type=node_type)
        measures = {k: v for k, v in edge.items() if k not in _HOP_COLUMNS}
        graph.add_edge(source, target, **measures)
    return graph


def find_cycles(graph: nx.DiGraph, *, max_length: int = 8, limit: int = 100) -> list[list[str]]:
    """Recursive loops in the map, e.g. a function that invokes itself through SQS or Lambda.

    Parameters
    ----------
    graph
        A graph from ``build_service_map``.
    max_length
        Longest cycle (in nodes) searched for: bounds the search on dense maps.
    limit
        At most this many cycles are returned.

    Returns
    -------
    list[list[str]]
        Each cycle as node keys, starting at its smallest key; sorted.
    """
    found = islice(nx.simple_cycles(graph, length_bound=max_length), limit)
    cycles = [_rotate(list(cycle)) for cycle in found]
    return sorted(cycles)


def _rotate(cycle: list[str]) -> list[str]:
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def _hops_from_tree(
    tree: pl.DataFrame, *, measures: list[str] = _MEASURES, coded: bool = True
) -> pl.DataFrame:
    """One row per hop: ``_HOP_COLUMNS`` plus ``measures``; names and types are Categorical
    when ``coded`` (hops are grouped by node: a few distinct names compare as 4-byte codes,
    where a String column is 16 bytes a row; the results are cast back), else String."""

    def _node(column: str | pl.Series) -> pl.Expr:
        expr = pl.col(column) if isinstance(column, str) else pl.lit(column)
        return expr.cast(pl.Categorical if coded else pl.String)

    # NOTE: rows are picked from narrow frames and node names fetched by position from the
    # whole tree: filtering the wide tree would copy every column.
    calls = outermost_calls(tree, "owner_row", *_HOP_COLUMNS[2:], *measures)
    call_hops = calls.select(
        _node(tree["name"].gather(calls["owner_row"])).alias("source"),
        _node(tree["node_type"].gather(calls["owner_row"])).alias("source_type"),
        _node("target"),
        _node("target_type"),
        "target_is_segment",
        *measures,
    )
    segments = tree.select(
        "parent_row",
        "via_call",
        _node("name"),
        _node("node_type"),
        *measures,
        ((pl.col("kind") == "segment") & ~pl.col("inferred")).alias("keep"),
    ).filter(pl.col("keep"))
    parent_owner = tree["owner_row"].gather(segments["parent_row"])
    segments = segments.with_columns(
        via_relay=tree["relays"].gather(segments["via_call"]).fill_null(False),
        via_target=_node(tree["target"].gather(segments["via_call"])),
        via_target_type=_node(tree["target_type"].gather(segments["via_call"])),
        parent_name=_node(tree["name"].gather(parent_owner)),
        parent_type=_node(tree["node_type"].gather(parent_owner)),
        under_service=(tree["origin"].gather(parent_owner) == LAMBDA_SERVICE_ORIGIN)
        & (pl.col("node_type") == FUNCTION_ORIGIN),
    )
    # NOTE: an inferred node named like the segment under it (both "AWS::Lambda:f") is the
    # same node: no hop from it to itself.
    from_relay = (
        segments.filter(pl.col("via_relay"))
        .select(
            pl.col("via_target").alias("source"),
            pl.col("via_target_type").alias("source_type"),
            *_segment_target(measures),
        )
        .filter(
            (pl.col("source") != pl.col("target"))
            | (pl.col("source_type") != pl.col("target_type"))
        )
    )
    from_parent = segments.filter(
        pl.col("parent_row").is_not_null()
        & pl.col("via_call").is_null()
        & ~pl.col("under_service").fill_null(False)
    ).select(
        pl.col("parent_name").alias("source"),
        pl.col("parent_type").alias("source_type"),
        *_segment_target(measures),
    )
    from_client = segments.filter(pl.col("parent_row").is_null()).select(
        pl.col("name").alias("source"),
        pl.lit(CLIENT_TYPE).cast(pl.Categorical if coded else pl.String).alias("source_type"),
        *_segment_target(measures),
    )
    # NOTE: relaxed: span names may be Categorical (a store's load), derived targets are text.
    hops = pl.concat([call_hops, from_relay, from_parent, from_client], how="vertical_relaxed")
    return hops.filter(pl.col("source").is_not_null() & pl.col("target").is_not_null())


def _segment_target(measures: list[str]) -> list[pl.Expr]:
    return [
        pl.col("name").alias("target"),
        pl.col("node_type").alias("target_type"),
        pl.lit(True).alias("target_is_segment"),
        *[pl.col(m) for m in measures],
    ]
