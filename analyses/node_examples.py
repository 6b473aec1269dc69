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
_NODE = ["name", "type"]
# Requests kept per node before ranking (see _candidates), per example asked for.
_KEPT_PER_EXAMPLE = 32


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
    # NOTE: lazy, so that each filter copies only the columns selected, not the whole tree.
    tree = span_tree(spans).lazy()
    segment = (pl.col("kind") == "segment") & ~pl.col("inferred")
    segments = tree.filter(segment).select(
        _coded("name").alias("name"), _coded("node_type").alias("type"), *_MEASURES
    )
    called = tree.filter(OUTERMOST_CALL & ~pl.col("target_is_segment")).select(
        _coded("target").alias("name"), _coded("target_type").alias("type"), *_MEASURES
    )
    clients = tree.filter(segment & pl.col("parent_row").is_null()).select(
        _coded("name").alias("name"),
        pl.lit(CLIENT_TYPE, dtype=pl.Categorical).alias("type"),
        *_MEASURES,
    )
    requests = (
        _candidates(
            pl.concat([segments, called, clients], how="vertical_relaxed")
            .filter(pl.col("name").is_not_null() & pl.col("trace_id").is_not_null())
            .collect(),
            per_node,
        )
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


def _coded(column: str) -> pl.Expr:
    """A node's name or type as Categorical: the requests are grouped and joined by node, and
    a few distinct names are compared as 4-byte codes (a String column is 16 bytes a row);
    the result is cast back to ``NODE_EXAMPLE_SCHEMA``'s String."""
    return pl.col(column).cast(pl.Categorical)


def _candidates(requests: pl.DataFrame, per_node: int) -> pl.DataFrame:
    """The requests that can be examples: of each node, those at least as slow as its
    ``_KEPT_PER_EXAMPLE * per_node``-th slowest request, and likewise among its failed ones.

    NOTE: exact, not a sample. When the requests so kept span ``per_node`` traces or more,
    every other trace's slowest request at the node is faster than theirs, so it ranks below
    them; a node where they do not (a few traces holding its slowest requests, or requests
    without a duration among too few failed ones) keeps all its requests. Sorting and
    de-duplicating by trace id then runs over a few rows per node instead of every request.
    """
    failed = pl.any_horizontal(pl.col("fault", "throttle", "error").fill_null(value=False))
    kept = _KEPT_PER_EXAMPLE * per_node
    limits = requests.group_by(_NODE).agg(
        _floor(pl.lit(value=True), kept, per_node).alias("_slow"),
        _floor(failed, kept, per_node).alias("_failed"),
    )
    return (
        requests.join(limits, on=_NODE, how="left", maintain_order="left", nulls_equal=True)
        .filter(
            (pl.col("duration_ms") >= pl.col("_slow")).fill_null(pl.col("_slow").is_null())
            | (
                failed
                & (pl.col("duration_ms") >= pl.col("_failed")).fill_null(
                    pl.col("_failed").is_null()
                )
            )
        )
        .drop("_slow", "_failed")
    )


def _floor(among: pl.Expr, kept: int, per_node: int) -> pl.Expr:
    """Per node, the ``kept``-th longest duration of the requests ``among`` (the shortest one
    when there are fewer), or null when the requests at least that long span fewer than
    ``per_node`` traces."""
    floor = pl.col("duration_ms").filter(among & pl.col("duration_ms").is_not_null()).top_k(kept)
    at_least = among & (pl.col("duration_ms") >= floor.min())
    traces = pl.col("trace_id").filter(at_least).n_unique()
    return pl.when(traces >= per_node).then(floor.min())
