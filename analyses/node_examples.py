"""Example traces per service-map node: its slowest and its failing requests.

A node's requests are as in :func:`analyses.service_map.service_map_nodes`: the segments of a
node backed by segments, the calls received by a node known only from calls (a table, a queue,
a host), the root segments a ``client`` node sent. For each node the ``per_node`` slowest
requests (``why = "slowest"``) and the ``per_node`` slowest of those flagged fault, throttle or
error (``why = "failed"``) are named by trace, each trace at most once per node and reason.
"""

from __future__ import annotations

import polars as pl

from analyses._calls import CLIENT_TYPE, OUTERMOST_CALL, span_tree
from analyses._output import check_inputs, shaped

NODE_EXAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "name": pl.String(),
    "type": pl.String(),
    "why": pl.String(),  # "slowest" | "failed"
    "rank": pl.Int64(),  # 1 = the slowest of its kind for the node
    "trace_id": pl.String(),
    "duration_ms": pl.Float64(),  # the request's own duration at the node
    "status": pl.String(),  # "fault" | "throttle" | "error" | "ok"
}

_MEASURES = ["trace_id", "duration_ms", "error", "fault", "throttle"]


def node_examples(spans: pl.DataFrame, *, per_node: int = 2) -> pl.DataFrame:
    """``per_node`` slowest and ``per_node`` failing example traces per node.

    Returns
    -------
    pl.DataFrame
        ``NODE_EXAMPLE_SCHEMA``, ordered by type, name, why, rank.
    """
    check_inputs(spans=spans)
    if per_node < 1:
        raise ValueError(f"per_node must be at least 1, got {per_node}")
    tree = span_tree(spans)
    segment = (pl.col("kind") == "segment") & ~pl.col("inferred")
    segments = tree.filter(segment).select("name", pl.col("node_type").alias("type"), *_MEASURES)
    called = tree.filter(OUTERMOST_CALL & ~pl.col("target_is_segment")).select(
        pl.col("target").alias("name"), pl.col("target_type").alias("type"), *_MEASURES
    )
    clients = tree.filter(segment & pl.col("parent_row").is_null()).select(
        "name", pl.lit(CLIENT_TYPE).alias("type"), *_MEASURES
    )
    requests = (
        pl.concat([segments, called, clients])
        .filter(pl.col("name").is_not_null() & pl.col("trace_id").is_not_null())
        .with_columns(
            pl.when(pl.col("fault").fill_null(value=False))
            .then(pl.lit("fault"))
            .when(pl.col("throttle").fill_null(value=False))
            .then(pl.lit("throttle"))
            .when(pl.col("error").fill_null(value=False))
            .then(pl.lit("error"))
            .otherwise(pl.lit("ok"))
            .alias("status")
        )
        # the longest request of each trace at each node stands for the trace there
        .sort(["duration_ms", "trace_id"], descending=[True, False], nulls_last=True)
        .unique(["name", "type", "trace_id", "status"], keep="first", maintain_order=True)
    )
    slowest = (
        requests.unique(["name", "type", "trace_id"], keep="first", maintain_order=True)
        .filter(pl.col("duration_ms").is_not_null())
        .with_columns(pl.lit("slowest").alias("why"))
    )
    failed = (
        requests.filter(pl.col("status") != "ok")
        .unique(["name", "type", "trace_id"], keep="first", maintain_order=True)
        .with_columns(pl.lit("failed").alias("why"))
    )
    picked = (
        pl.concat([slowest, failed])
        .with_columns(pl.int_range(1, pl.len() + 1).over("name", "type", "why").alias("rank"))
        .filter(pl.col("rank") <= per_node)
    )
    return shaped(picked, NODE_EXAMPLE_SCHEMA).sort("type", "name", "why", "rank")
