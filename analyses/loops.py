"""Recursive loops, followed through resource identities rather than service-map nodes.

The service map draws every S3 bucket as one ``S3`` node and names Lambda's service node after
whatever the segment says, so "upload to bucket A triggers a function that writes a thumbnail
to bucket B" draws a cycle that does not exist. Loops are therefore searched on a graph whose
nodes are resources named by the fields that identify them (``resource_type`` and
``resource_id`` of the span table: bucket, queue, topic, table, function) and whose edges need
that evidence:

- a write: an outermost ``aws`` call naming a resource, from the function (or service) making
  it to the resource, unless its operation only reads (``Get*``, ``List*``, ``Query``,
  ``ReceiveMessage``, ...: reading a bucket does not trigger its notifications);
- a trigger: a segment whose parent lies inside a call (through X-Ray's inferred segment of the
  call, if any): the call's resource -> the segment's function or service; when the call names
  no resource, its caller -> that segment;
- a segment whose parent is another segment outside any call (``AWS::Lambda`` -> its function,
  an API Gateway stage -> the function it invokes).

A function is one node, ``AWS::Lambda::Function:<name>``, whichever segment shows it (the
``AWS::Lambda`` service segment, even one named ``Lambda``, counts by its function name).
A call that starts before its own segment (an SDK artifact, or work recorded during a
pre-initialized environment's ``Initialization``) draws no edge: ``analyses.completeness``
counts such calls for the data-quality notes.
"""

from __future__ import annotations

from itertools import islice

import networkx as nx
import polars as pl

from analyses._calls import FUNCTION_ORIGIN, outermost_calls, span_tree
from analyses._frames import text
from analyses._output import check_inputs, shaped

SERVICE_ORIGIN = "AWS::Lambda"
# Operations that only read: they cannot start the next turn of a loop.
READ_PREFIXES = ("Get", "List", "Head", "Describe", "Select", "Query", "Scan", "BatchGet")
READ_OPERATIONS = (
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "TransactGetItems",
)
# Clock tolerance when comparing a call's start with its segment's (AWS::Lambda timestamps have
# millisecond precision).
EARLY_TOLERANCE_US = 1000
MAX_LOOP_NODES = 8
MAX_LOOPS = 100

LOOP_EDGE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),  # "<type>:<name>" of a function, service or resource
    "target": pl.String(),
    # "write" (a call naming the resource), "trigger" (the resource started a segment), "call"
    # (a call naming no resource started a segment) or "parent" (a segment under a segment)
    "evidence": pl.String(),
    "calls": pl.Int64(),
    # every call on the edge names its operation (or the edge was seen to trigger a segment)
    "confirmed": pl.Boolean(),
    "example_trace_id": pl.String(),
}

LOOP_SCHEMA: dict[str, pl.DataType] = {
    # node keys from the closing resource round to it: "AWS::S3::Bucket:a -> ... -> ...:a"
    "path": pl.String(),
    "closing_resource": pl.String(),  # the resource written again: "<type>:<name>"
    "functions": pl.Int64(),  # functions on the loop
    "calls": pl.Int64(),  # calls (or segments) on the loop's thinnest edge
    "confirmed": pl.Boolean(),  # every edge of the loop has a known triggering operation
    "example_trace_id": pl.String(),  # a trace with the thinnest edge
}


def _key(kind: pl.Expr, name: pl.Expr) -> pl.Expr:
    return pl.concat_str(kind, pl.lit(":"), name)


# NOTE: rows carry a node as a UInt64 code of its (kind, name) pair, not as its key text: the
# key is built once per distinct pair (a full-height column of keys cost 16 bytes a row plus
# the text, and building it was the analysis's largest step).
_HIGH = pl.lit(2**32, dtype=pl.UInt64)


def _actor_parts() -> tuple[pl.Expr, pl.Expr]:
    """The kind and name of a segment row's node: its function, else ``<origin>:<name>``."""
    lambda_segment = pl.col("origin").is_in([SERVICE_ORIGIN, FUNCTION_ORIGIN]).fill_null(False)
    kind = pl.when(lambda_segment).then(pl.lit(FUNCTION_ORIGIN)).otherwise(pl.col("node_type"))
    name = (
        pl.when(lambda_segment)
        .then(pl.coalesce(text("function_name"), text("name")))
        .otherwise(text("name"))
    )
    return kind, name


def _resource_parts() -> tuple[pl.Expr, pl.Expr]:
    """The kind and name of a call's resource (no name: no resource)."""
    return text("resource_type").fill_null("AWS::resource"), text("resource_id")


def _coded(
    *parts: tuple[pl.DataFrame, tuple[pl.Expr, pl.Expr]],
) -> tuple[list[pl.Series], pl.DataFrame]:
    """Per frame, each row's node code from its ``(kind, name)`` expressions (UInt64, null when
    either is, as ``_key``), and the key of every code met (``code``, ``key``)."""
    both = pl.concat(
        [
            frame.select(kind.cast(pl.String).alias("kind"), name.cast(pl.String).alias("name"))
            for frame, (kind, name) in parts
        ]
    )
    # NOTE: one cast per column: the codes of one Categorical column are consistent.
    codes = both.select(
        (
            pl.col("kind").cast(pl.Categorical).to_physical().cast(pl.UInt64) * _HIGH
            + pl.col("name").cast(pl.Categorical).to_physical().cast(pl.UInt64)
        ).alias("code")
    ).to_series()
    first = (
        codes.to_frame().with_row_index("at").drop_nulls("code").unique("code", keep="any")["at"]
    )
    keys = both[first].select(
        codes.gather(first).alias("code"), _key(pl.col("kind"), pl.col("name")).alias("key")
    )
    split, offset = [], 0
    for frame, _ in parts:
        split.append(codes.slice(offset, frame.height))
        offset += frame.height
    return split, keys


def _scatter(length: int, rows: pl.Series, values: pl.Series) -> pl.Series:
    full = pl.repeat(None, length, dtype=values.dtype, eager=True)
    return full.scatter(rows, values)


def _is_read() -> pl.Expr:
    operation = text("aws_operation")
    prefix = pl.any_horizontal([operation.str.starts_with(p) for p in READ_PREFIXES])
    return (prefix | operation.is_in(READ_OPERATIONS)).fill_null(False)


def _first_sorted(column: str) -> pl.Expr:
    """``pl.col(column).sort().first()`` without sorting: null when any is (nulls sort first)."""
    values = pl.col(column)
    return pl.when(values.null_count() == 0).then(values.min())


def loop_edges(spans: pl.DataFrame) -> pl.DataFrame:
    """The evidence-backed edges loops are searched on (``LOOP_EDGE_SCHEMA``)."""
    check_inputs(spans=spans)
    coded = _coded_hops(spans)
    if coded is None:
        return pl.DataFrame(schema=LOOP_EDGE_SCHEMA)
    hops, keys = coded
    edges = hops.group_by("source", "target").agg(
        pl.len().cast(pl.Int64).alias("calls"),
        pl.col("confirmed").any().alias("confirmed"),
        pl.col("evidence").min().alias("evidence"),  # never null
        _first_sorted("trace_id").alias("example_trace_id"),
    )
    return shaped(_named_ends(edges, keys), LOOP_EDGE_SCHEMA).sort("source", "target")


def loop_hop_rows(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per hop of :func:`loop_edges` (``trace_id``, ``source``, ``target``,
    ``evidence``, ``confirmed``), for partial aggregates: ``LOOP_HOP_COUNT_EXPRS`` per source,
    target and evidence merge into the same edges (:func:`edges_of_hop_counts`)."""
    check_inputs(spans=spans)
    coded = _coded_hops(spans)
    if coded is None:
        schema = {k: LOOP_EDGE_SCHEMA[k] for k in ("source", "target", "evidence", "confirmed")}
        return pl.DataFrame(schema={"trace_id": pl.String(), **schema})
    hops, keys = coded
    return _named_ends(hops, keys).select("trace_id", "source", "target", "evidence", "confirmed")


LOOP_HOP_COUNT_EXPRS: dict[str, pl.Expr] = {
    "calls": pl.len().cast(pl.Int64),
    "confirmed_calls": pl.col("confirmed").sum().cast(pl.Int64),
}
"""Counts of :func:`loop_hop_rows` per ``source``, ``target`` and ``evidence``."""


def edges_of_hop_counts(counts: pl.DataFrame) -> pl.DataFrame:
    """``LOOP_EDGE_SCHEMA`` (without example traces) from ``LOOP_HOP_COUNT_EXPRS`` counts per
    source, target and evidence: the edges :func:`loop_edges` gives over the same hops."""
    edges = counts.group_by("source", "target").agg(
        pl.col("calls").sum().cast(pl.Int64),
        (pl.col("confirmed_calls").sum() > 0).alias("confirmed"),
        pl.col("evidence").min(),
        pl.lit(None, pl.String()).alias("example_trace_id"),
    )
    return shaped(edges, LOOP_EDGE_SCHEMA).sort("source", "target")


def _named_ends(frame: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its coded ``source`` and ``target`` replaced by their node keys."""
    named = frame.join(
        keys.select(pl.col("code").alias("source"), pl.col("key").alias("source_key")),
        on="source",
    ).join(
        keys.select(pl.col("code").alias("target"), pl.col("key").alias("target_key")), on="target"
    )
    return named.drop("source", "target").rename({"source_key": "source", "target_key": "target"})


def _coded_hops(spans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The hops (``source``/``target`` as codes, ``evidence``, ``confirmed``, ``trace_id``)
    and the codes' node keys; None without spans."""
    tree = span_tree(spans)
    if tree.is_empty():
        return None
    # NOTE: every frame below is narrowed before it is filtered (a filter copies each column
    # it carries).
    segment = pl.col("kind") == "segment"
    segments = tree.select(
        "row", "kind", "origin", "function_name", "name", "node_type", "inferred", "parent_row"
    ).filter(segment)
    calls = outermost_calls(
        tree, "row", "trace_id", "owner_row", "resource_type", "resource_id", "aws_operation"
    )
    # NOTE: the actors stay one per segment; other rows reach theirs through a UInt32 position.
    (segment_actor, resource), keys = _coded((segments, _actor_parts()), (calls, _resource_parts()))
    segments = segments.select("row", "inferred", "parent_row")
    at = _scatter(
        tree.height, segments["row"], pl.int_range(segments.height, dtype=pl.UInt32, eager=True)
    )

    def actor(rows: pl.Series) -> pl.Series:
        return segment_actor.gather(at.gather(rows))

    start_us = tree["start_time"].dt.epoch("us")
    calls = calls.select(
        "row",
        "trace_id",
        "aws_operation",
        owner_actor=actor(calls["owner_row"]),
        early=(
            start_us.gather(calls["row"]) < start_us.gather(calls["owner_row"]) - EARLY_TOLERANCE_US
        ).fill_null(False),
        resource=resource,
    )
    writes = calls.filter(pl.col("resource").is_not_null() & ~pl.col("early") & ~_is_read()).select(
        pl.col("owner_actor").alias("source"),
        pl.col("resource").alias("target"),
        pl.lit("write").alias("evidence"),
        pl.col("aws_operation").is_not_null().alias("confirmed"),
        "trace_id",
    )
    # Segments and what started them: the call above them (through an inferred segment).
    started = segments.filter(~pl.col("inferred"))
    parent = started["parent_row"]
    parent_inferred = (
        (tree["kind"].gather(parent) == "segment") & tree["inferred"].gather(parent)
    ).fill_null(False)
    anchor = pl.select(
        pl.when(parent_inferred).then(tree["parent_row"].gather(parent)).otherwise(parent)
    ).to_series()
    anchor_is_sub = (tree["kind"].gather(anchor) == "subsegment").fill_null(False)
    started = started.select(
        "row",
        tree["trace_id"].gather(started["row"]).alias("trace_id"),
        actor(started["row"]).alias("actor"),
        actor(parent).alias("parent_actor"),
        pl.select(pl.when(anchor_is_sub).then(tree["call_row"].gather(anchor)))
        .to_series()
        .alias("trigger"),
    )
    call_facts = (
        started.filter(pl.col("trigger").is_not_null())
        .join(
            calls.select(
                pl.col("row").alias("trigger"),
                "resource",
                pl.col("owner_actor").alias("caller"),
                "early",
            ),
            on="trigger",
            how="inner",
        )
        .filter(~pl.col("early"))
    )
    with_resource = call_facts.filter(pl.col("resource").is_not_null())
    triggered = pl.concat(
        [
            # the caller reached the resource (whatever the operation: it started a segment)
            with_resource.select(
                pl.col("caller").alias("source"),
                pl.col("resource").alias("target"),
                pl.lit("write").alias("evidence"),
                "trace_id",
            ),
            with_resource.select(
                pl.col("resource").alias("source"),
                pl.col("actor").alias("target"),
                pl.lit("trigger").alias("evidence"),
                "trace_id",
            ),
            # no resource named: the call itself started the segment
            call_facts.filter(pl.col("resource").is_null()).select(
                pl.col("caller").alias("source"),
                pl.col("actor").alias("target"),
                pl.lit("call").alias("evidence"),
                "trace_id",
            ),
        ]
    ).select("source", "target", "evidence", pl.lit(True).alias("confirmed"), "trace_id")
    from_parent = started.filter(
        pl.col("trigger").is_null() & pl.col("parent_actor").is_not_null()
    ).select(
        pl.col("parent_actor").alias("source"),
        pl.col("actor").alias("target"),
        pl.lit("parent").alias("evidence"),
        pl.lit(True).alias("confirmed"),
        "trace_id",
    )
    hops = pl.concat([writes, triggered, from_parent]).filter(
        pl.col("source").is_not_null() & pl.col("target").is_not_null()
    )
    if keys["key"].n_unique() < keys.height:
        # Two pairs with one key ("a:b" + "c", "a" + "b:c"): one node, under its least code.
        canonical = keys.select("code", pl.col("code").min().over("key").alias("canonical"))
        hops = hops.with_columns(
            pl.col("source", "target").replace(canonical["code"], canonical["canonical"])
        )
        keys = keys.filter(pl.col("code").is_in(canonical["canonical"].implode()))
    # NOTE: a segment triggered by its own resource (an Invoke of f starting f's segments) or
    # a service segment over its function is one node, not a loop; a function's call that
    # names it (f invoking f) or that started its segments again is.
    hops = hops.filter(
        (pl.col("source") != pl.col("target")) | pl.col("evidence").is_in(["write", "call"])
    )
    return hops, keys


def resource_loops(spans: pl.DataFrame) -> pl.DataFrame:
    """Loops through the same resources (``LOOP_SCHEMA``), thinnest first; empty when no loop
    is backed by the identity of every resource on it.

    """
    return loops_of(loop_edges(spans))


def loops_of(edges: pl.DataFrame) -> pl.DataFrame:
    """The loops of a ``loop_edges`` frame (``LOOP_SCHEMA``)."""
    graph: nx.DiGraph = nx.DiGraph()
    for edge in edges.to_dicts():  # NOTE: one row per distinct edge, not per span
        graph.add_edge(edge["source"], edge["target"], **edge)
    found = islice(nx.simple_cycles(graph, length_bound=MAX_LOOP_NODES), MAX_LOOPS)
    rows = []
    for cycle in found:
        nodes = _from_closing(list(cycle))
        pairs = list(zip(nodes, [*nodes[1:], nodes[0]], strict=True))
        thinnest = min((graph.edges[u, v] for u, v in pairs), key=lambda e: e["calls"])
        rows.append(
            {
                "path": " -> ".join([*nodes, nodes[0]]),
                "closing_resource": nodes[0],
                "functions": sum(n.startswith(FUNCTION_ORIGIN + ":") for n in nodes),
                "calls": thinnest["calls"],
                "confirmed": all(graph.edges[u, v]["confirmed"] for u, v in pairs),
                "example_trace_id": thinnest["example_trace_id"],
            }
        )
    frame = pl.DataFrame(rows, schema=LOOP_SCHEMA)
    return shaped(frame, LOOP_SCHEMA).sort("calls", "path")


def _from_closing(cycle: list[str]) -> list[str]:
    """The cycle starting at its closing resource: the first bucket, queue, topic or table
    (the smallest key among them), else the smallest function key."""
    data = [node for node in cycle if not node.startswith(FUNCTION_ORIGIN + ":")]
    start = cycle.index(min(data or cycle))
    return cycle[start:] + cycle[:start]


def loop_node_lists(loops: pl.DataFrame) -> list[list[str]]:
    """Each loop as its node keys, from the closing resource (the JSON ``cycles``)."""
    return [path.split(" -> ")[:-1] for path in loops.get_column("path").to_list()]
