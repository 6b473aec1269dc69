"""The critical-path walk over every trace at once.

The standard backward walk through a span's window: from the window's end, take the child that
ends last (at or before the cursor), recurse into it, move the cursor to its start, repeat;
time between chosen children is the span's own. Two facts make it vectorizable:

- after clipping every span to its ancestors' windows, the first child taken from a span is
  simply its latest-ending child, and the child taken after child ``c`` is the sibling ending
  latest at or before ``c`` starts ("predecessor"), whatever the trace. Both are found for
  all spans at once from the children sorted by (parent, end): the latest child is the last of
  its parent's run, the predecessor a binary search (the vectorized form of a backward
  ``join_asof`` by parent on end time);
- the path is then what is reachable from each trace's root through "latest child" and
  "predecessor" links, found by pointer jumping (see ``_reachable``): the loop count is the
  logarithm of the longest chain of sequential children and of the deepest nesting, not the
  number of traces or spans.

A span on the path covers its whole clipped window; its own time is that window minus the
windows of its children on the path (which never overlap).
"""

from __future__ import annotations

import polars as pl

from analyses._calls import FUNCTION_ORIGIN, INIT_NAMES, OUTERMOST_CALL
from analyses._tree import MAX_ROUNDS as _MAX_ROUNDS
from analyses._tree import ancestor_fold, gather_views

# What a path node's time is (``node_kind``): Lambda's service before the function runs (the
# AWS::Lambda segment's own time: queueing, dwell, attempts), the function's Initialization (or
# Restore), the function's own code, a downstream call, or another service's own time.
SERVICE_TYPE_LAMBDA = "AWS::Lambda"
LAMBDA_SERVICE_KIND = "lambda_service"
INIT_KIND = "initialization"
CODE_KIND = "function_code"
DOWNSTREAM_KIND = "downstream"
SERVICE_KIND = "service"
NODE_KINDS = (LAMBDA_SERVICE_KIND, INIT_KIND, CODE_KIND, DOWNSTREAM_KIND, SERVICE_KIND)

# Marks a row that stops every chain of ancestors through it (see _reachable); rows are below.
_BLOCKED = (1 << 32) - 1
_EFF_US = (pl.col("eff_end_us") - pl.col("eff_start_us")).alias("eff_us")


def walk(tree: pl.DataFrame) -> pl.DataFrame:
    """Critical-path rows of every trace in ``tree`` (a ``span_tree`` frame).

    Returns
    -------
    pl.DataFrame
        One row per span on a path: ``row``, ``root_row`` (the row of its trace's root),
        ``node``, ``node_type``, ``node_kind`` (``NODE_KINDS``), ``path_start_us``,
        ``path_end_us`` and ``self_us``; ordered
        by ``root_row``, then start, then the longest first (a parent before its children).
    """
    timed = _timed(tree).sort(
        ["root_row", "path_start_us", "path_end_us"], descending=[False, False, True]
    )
    return _labelled(tree, timed)


def _timed(tree: pl.DataFrame) -> pl.DataFrame:
    """Path rows with ``row``, ``root_row``, ``path_start_us``, ``path_end_us``, ``self_us``."""
    windows = _clipped(tree)
    roots = _roots(windows)
    latest_child, predecessor = _links(windows)
    on_path = _reachable(roots, latest_child, predecessor, windows["parent_row"])
    # NOTE: only the columns still needed are gathered: the path holds most spans.
    path = (
        windows.select("row", "parent_row", "eff_start_us", "eff_end_us")
        .select(pl.all().gather(on_path["row"]))
        .with_columns(on_path["root_row"], _EFF_US)
    )
    children = (
        path.filter(pl.col("parent_row").is_not_null())
        .group_by("parent_row")
        .agg(pl.col("eff_us").sum())
    )
    children_us = pl.repeat(0, windows.height, dtype=pl.Int64, eager=True).scatter(
        children["parent_row"], children["eff_us"]
    )
    return path.select(
        "row",
        "root_row",
        pl.col("eff_start_us").alias("path_start_us"),
        pl.col("eff_end_us").alias("path_end_us"),
        (pl.col("eff_us") - children_us.gather(path["row"])).alias("self_us"),
    )


def _clipped(tree: pl.DataFrame) -> pl.DataFrame:
    """Narrow frame of ``row``, ``parent_row``, ``trace_id``, ``candidate`` (may be on a
    path), ``root`` (may start one), ``eff_start_us`` and ``eff_end_us``.

    The effective window is clipped to all the ancestors' windows: it absorbs clock skew between
    documents (``AWS::Lambda`` times have millisecond precision) and drops work that outlives
    its caller. A function segment's window first reaches back to its ``Initialization`` or
    ``Restore`` subsegment: X-Ray records the init before the function segment starts.
    """
    stamped = tree.select(
        "row",
        "parent_row",
        "trace_id",
        (~pl.col("inferred")).alias("candidate"),
        (
            (pl.col("kind") == "segment") & ~pl.col("inferred") & pl.col("parent_row").is_null()
        ).alias("root"),
        pl.col("start_time").cast(pl.Int64).alias("start_us"),
        pl.col("end_time").cast(pl.Int64).alias("end_us"),
        (
            pl.col("name").is_in(INIT_NAMES)
            & (pl.col("kind") == "subsegment")
            & (pl.col("origin") == FUNCTION_ORIGIN).gather(pl.col("parent_row"))
        ).alias("is_init"),
    )
    init_starts = (
        stamped.filter(pl.col("is_init")).group_by("parent_row").agg(pl.col("start_us").min())
    )
    own_starts = stamped["start_us"].gather(init_starts["parent_row"])
    start_us = (
        stamped["start_us"]
        .clone()
        .scatter(
            init_starts["parent_row"],
            init_starts.select(pl.min_horizontal("start_us", own_starts)).to_series(),
        )
    )
    # NOTE: the window's length is computed where needed rather than stored: the frame holds
    # every span. A root's effective start is its own start (it has no ancestors).
    return stamped.select("row", "parent_row", "trace_id", "candidate", "root").with_columns(
        ancestor_fold(start_us.alias("eff_start_us"), stamped["parent_row"], kind="max"),
        ancestor_fold(stamped["end_us"].alias("eff_end_us"), stamped["parent_row"], kind="min"),
    )


def _roots(windows: pl.DataFrame) -> pl.Series:
    """Per trace, the earliest parentless segment with a complete window (ties: longest)."""
    return (
        windows.select("trace_id", "row", "eff_start_us", _EFF_US, "root")
        .filter(pl.col("root") & (pl.col("eff_us") > 0))
        .sort(["eff_start_us", "eff_us"], descending=[False, True])
        .group_by("trace_id")
        .agg(pl.first("row"))
        .get_column("row")
        .sort()
    )


def _links(windows: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Per row: its latest-ending child, and the sibling taken before it (its predecessor)."""
    offset_bits = 62 - max(1, windows.height.bit_length())
    parent_start = pl.col("eff_start_us").gather(pl.col("parent_row"))
    # NOTE: (parent, time) is packed into one integer so one sorted column serves every
    # parent; times are offsets from the parent's start, capped at 2**offset_bits us.
    # Among children ending at the same instant the longest must win: the search takes the
    # last match, so equal ends are ordered by descending start.
    children = (
        windows.select(
            "row",
            "parent_row",
            "eff_start_us",
            _packed(pl.col("eff_end_us") - parent_start, offset_bits).alias("end_key"),
            _packed(pl.col("eff_start_us") - parent_start, offset_bits).alias("start_key"),
            (
                pl.col("candidate")
                & pl.col("parent_row").is_not_null()
                & (pl.col("eff_end_us") > pl.col("eff_start_us"))
            ).alias("keep"),
        )
        .filter(pl.col("keep"))
        .sort(["end_key", "eff_start_us"], descending=[False, True])
        .drop("keep", "eff_start_us")
    )
    last_of_parent = children["parent_row"] != children["parent_row"].shift(-1)
    latest = children.filter(last_of_parent.fill_null(True))
    position = (
        children["end_key"].search_sorted(children["start_key"], side="right").cast(pl.Int64) - 1
    )
    found = (
        children.select(
            "row",
            "parent_row",
            pl.Series(position).alias("position"),
        )
        .with_columns(
            found_row=pl.col("row").gather(pl.col("position").clip(0)),
            found_parent=pl.col("parent_row").gather(pl.col("position").clip(0)),
        )
        .filter((pl.col("position") >= 0) & (pl.col("found_parent") == pl.col("parent_row")))
    )
    return (
        _nulls(windows.height).scatter(latest["parent_row"], latest["row"]),
        _nulls(windows.height).scatter(found["row"], found["found_row"]),
    )


def _packed(offset_us: pl.Expr, offset_bits: int) -> pl.Expr:
    capped = offset_us.clip(0, (1 << offset_bits) - 1)
    return pl.col("parent_row").cast(pl.Int64) * (1 << offset_bits) + capped


def _nulls(length: int) -> pl.Series:
    return pl.repeat(None, length, dtype=pl.UInt32, eager=True).alias("row")


def _reachable(
    roots: pl.Series, latest_child: pl.Series, predecessor: pl.Series, parent_row: pl.Series
) -> pl.DataFrame:
    """Rows reachable from ``roots``: ``row`` and the ``root_row`` it was reached from.

    A span is on its parent's path when it is in the chain of predecessors from the parent's
    latest child ("on a chain"), and on its trace's path when it and every ancestor up to a root
    are on a chain. Both are found by pointer jumping: the number of rounds grows with the
    logarithm of the longest chain and of the deepest nesting, and each round is one pass over
    the rows (a loop per link made a trace of 100,000 sequential spans take 100,000 passes).
    """
    length = parent_row.len()
    on_chain = _chain_members(latest_child.drop_nulls(), predecessor)
    # NOTE: going up from a row, the first ancestor (itself included) that is not on a chain is
    # its root when a root of ``roots``; anything else stops the row off every path.
    blocked = pl.repeat(_BLOCKED, length, dtype=pl.UInt32, eager=True)
    stops = blocked.scatter(on_chain.arg_true(), None).scatter(roots, roots).alias("root_row")
    root_row = ancestor_fold(stops, parent_row, kind="nearest")
    return (
        pl.DataFrame({"root_row": root_row})
        .with_row_index("row")
        .filter(pl.col("root_row").is_not_null() & (pl.col("root_row") != _BLOCKED))
        .select(pl.col("row").cast(pl.UInt32), "root_row")
    )


def _chain_members(seeds: pl.Series, predecessor: pl.Series) -> pl.Series:
    """Per row, whether it is reached from one of ``seeds`` through ``predecessor`` links."""
    member = pl.repeat(False, predecessor.len(), dtype=pl.Boolean, eager=True).scatter(seeds, True)
    jump = predecessor
    for _ in range(_MAX_ROUNDS):
        # Invariant: ``member`` holds every row fewer than 2**k links from a seed, and ``jump``
        # is the row 2**k links on (k is the round).
        reached = jump.filter(member).drop_nulls()
        if reached.is_empty():
            break
        member = member.scatter(reached, True)
        jump = jump.gather(jump)
    return member


def _labelled(tree: pl.DataFrame, path: pl.DataFrame) -> pl.DataFrame:
    """Add ``node``, ``node_type`` and ``node_kind`` to path rows.

    The node is the call's target inside a call, ``"<function> Initialization"`` (or
    ``Restore``) inside a cold start, else the owning segment; ``node_type`` is the service
    map's type of that node (an initialization has its function segment's type).
    """
    init_seed = tree.select(
        pl.when((pl.col("kind") == "subsegment") & pl.col("name").is_in(INIT_NAMES)).then(
            pl.col("row")
        )
    ).to_series()
    init_row = ancestor_fold(init_seed, tree["local_parent"], kind="nearest").gather(path["row"])
    call_row = tree["call_row"].gather(path["row"])
    owner_row = tree["owner_row"].gather(path["row"])
    # NOTE: the path holds most spans, so labels start as the owning segment's and only the
    # rows inside a cold start or a call are overwritten: no full-length column per source.
    node = tree["name"].gather(owner_row)
    at_init = (init_row.is_not_null() & node.is_not_null()).arg_true()
    init_names = tree["name"].gather(init_row.gather(at_init))
    node = _overlay(node, at_init, node.gather(at_init) + " " + init_names)
    at_call = call_row.is_not_null().arg_true()
    calls = call_row.gather(at_call)
    node = _overlay(node, at_call, tree["target"].gather(calls))
    owner_type = tree["node_type"].gather(owner_row)
    node_type = _overlay(owner_type, at_call, tree["target_type"].gather(calls))
    owner_origin = tree["origin"].gather(owner_row)
    kind = _overlay(
        _overlay(_own_kind(owner_origin), at_init, pl.repeat(INIT_KIND, at_init.len(), eager=True)),
        at_call,
        pl.repeat(DOWNSTREAM_KIND, at_call.len(), eager=True),
    )
    return path.select(
        "row",
        "root_row",
        node.alias("node"),
        node_type.alias("node_type"),
        kind.alias("node_kind"),
        "path_start_us",
        "path_end_us",
        "self_us",
    )


def _own_kind(owner_origin: pl.Series) -> pl.Series:
    """The kind of a segment's own time, by the segment's origin (the Lambda service's
    segment and its function's share one node: the origin tells them apart)."""
    return (
        owner_origin.replace_strict(
            {SERVICE_TYPE_LAMBDA: LAMBDA_SERVICE_KIND, FUNCTION_ORIGIN: CODE_KIND},
            default=SERVICE_KIND,
            return_dtype=pl.String(),
        )
        .fill_null(SERVICE_KIND)
        .alias("node_kind")
    )


def _overlay(base: pl.Series, at: pl.Series, values: pl.Series) -> pl.Series:
    """``base`` with ``values`` written at positions ``at``, where they are not null."""
    given = values.is_not_null()
    return base.scatter(at.filter(given), values.filter(given))


def describe(tree: pl.DataFrame, path: pl.DataFrame) -> pl.DataFrame:
    """Add ``trace_id``, ``id`` and ``operation`` (the API operation or HTTP method and host
    of a call, else the span name) to rows of ``walk``'s result."""
    rows = path["row"]
    outermost_call = tree.select(OUTERMOST_CALL)
    at_call = outermost_call.to_series().gather(rows).arg_true()
    calls = tree.select("name", "namespace", "aws_operation", "http_method").select(
        pl.all().gather(rows.gather(at_call))
    )
    call_operation = calls.select(
        pl.when(pl.col("namespace") == "aws")
        .then(pl.coalesce("aws_operation", "name"))
        .otherwise(pl.coalesce(pl.concat_str("http_method", "name", separator=" "), "name"))
    ).to_series()
    # NOTE: a call's operation replaces the span name only at the call rows (see _labelled).
    operation = tree["name"].gather(rows).scatter(at_call, call_operation)
    return path.with_columns(
        gather_views(tree["trace_id"], rows).alias("trace_id"),
        gather_views(tree["id"], rows).alias("id"),
        operation.alias("operation"),
    )
