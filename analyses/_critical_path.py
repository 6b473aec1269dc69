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

from dataclasses import dataclass
from typing import Literal

import polars as pl

from analyses._calls import FUNCTION_ORIGIN, INIT_NAMES, OUTERMOST_CALL
from analyses._frames import text
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
    return labelled(tree, path_rows(tree), init_rows(tree))


def path_rows(tree: pl.DataFrame) -> pl.DataFrame:
    """``walk``'s rows before they are labelled and ordered: ``row``, ``root_row``,
    ``path_start_us``, ``path_end_us`` and ``self_us``, in no particular order.

    NOTE: at a million segments the path holds most spans: aggregations group these rows by
    ``node_codes`` and label only what they keep (``labelled``).
    """
    return _timed(tree)


def labelled(tree: pl.DataFrame, path: pl.DataFrame, init_row: pl.Series) -> pl.DataFrame:
    """Rows of ``path_rows`` (all or some) as ``walk`` gives them: labelled and ordered.

    ``init_row`` is ``init_rows(tree)``.
    """
    ordered = path.sort(
        ["root_row", "path_start_us", "path_end_us", "row"], descending=[False, False, True, False]
    )
    return _labelled(tree, ordered, init_row)


def _timed(tree: pl.DataFrame) -> pl.DataFrame:
    """Path rows with ``row``, ``root_row``, ``path_start_us``, ``path_end_us``, ``self_us``."""
    windows = _clipped(tree)
    roots = _roots(windows)
    siblings = _siblings(windows)
    latest_child, predecessor = _links(windows.height, siblings)
    on_path = _reachable(roots, latest_child, predecessor, windows["parent_row"])
    eff_us = windows.select(_EFF_US).to_series()
    # NOTE: a parent's children on the path are summed where its children sit side by side,
    # in the siblings' order, rather than grouped by parent (a hash of every path row).
    member = pl.repeat(False, windows.height, dtype=pl.Boolean, eager=True).scatter(
        on_path["row"], True
    )
    at = siblings["row"]
    counted = siblings.select(
        "parent_row",
        pl.when(member.gather(at)).then(eff_us.gather(at)).otherwise(0).cum_sum().alias("through"),
        "first",
        "last",
    )
    before = counted.select(pl.col("through").shift(1, fill_value=0)).to_series()
    starts = before.filter(counted["first"])
    ends = counted.filter(pl.col("last"))
    children_us = pl.repeat(0, windows.height, dtype=pl.Int64, eager=True).scatter(
        ends["parent_row"], ends["through"] - starts
    )
    rows = on_path["row"]
    return windows.select(
        pl.col("row").gather(rows),
        on_path["root_row"],
        pl.col("eff_start_us").gather(rows).alias("path_start_us"),
        pl.col("eff_end_us").gather(rows).alias("path_end_us"),
        (eff_us - children_us).gather(rows).alias("self_us"),
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
        _settled_fold(start_us.alias("eff_start_us"), stamped["parent_row"], kind="max"),
        _settled_fold(stamped["end_us"].alias("eff_end_us"), stamped["parent_row"], kind="min"),
    )


# Rounds of _settled_fold before it jumps, and the folds it makes.
_SETTLING_ROUNDS = 3
_SettlingKind = Literal["min", "max", "nearest"]


def _settled_fold(values: pl.Series, parent_row: pl.Series, *, kind: _SettlingKind) -> pl.Series:
    """``ancestor_fold(values, parent_row, kind=kind)`` for folds that settle in a few rounds.

    Each round folds every row with its parent's value of the round before; when a round
    changes nothing the values are the fold (each row's value already covers its parent's
    whole chain). Children mostly lie within their parents' windows and cold starts have no
    nested subsegments, so these folds settle in one or two rounds (one pass over the rows
    each) where pointer jumping takes about three passes per doubling of the depth. When the
    values have not settled after ``_SETTLING_ROUNDS``, the fold goes on by pointer jumping
    from them (a fold of partly folded values is the same fold).
    """
    folded = values
    for _ in range(_SETTLING_ROUNDS):
        pair = pl.DataFrame({"own": folded, "upper": folded.gather(parent_row)})
        settled = pair.select(_COMBINE[kind]).to_series()
        if settled.eq_missing(folded).all():
            return folded.alias(values.name)
        folded = settled
    return ancestor_fold(folded.alias(values.name), parent_row, kind=kind)


_COMBINE: dict[_SettlingKind, pl.Expr] = {
    "min": pl.min_horizontal("own", "upper"),
    "max": pl.max_horizontal("own", "upper"),
    "nearest": pl.coalesce("own", "upper"),
}


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


def _siblings(windows: pl.DataFrame) -> pl.DataFrame:
    """The rows that may be on their parent's path, side by side per parent in the order the
    walk searches them: ``row``, ``parent_row``, ``end_key``, ``start_key``, and ``first``
    and ``last`` (of its parent's run)."""
    offset_bits = 62 - max(1, windows.height.bit_length())
    parent_start = pl.col("eff_start_us").gather(pl.col("parent_row"))
    # NOTE: (parent, time) is packed into one integer so one sorted column serves every
    # parent; times are offsets from the parent's start, capped at 2**offset_bits us.
    # Among children ending at the same instant the longest must win: the search takes the
    # last match, so equal ends are ordered by descending start.
    parent = pl.col("parent_row")
    return (
        windows.select(
            "row",
            "parent_row",
            "eff_start_us",
            _packed(pl.col("eff_end_us") - parent_start, offset_bits).alias("end_key"),
            _packed(pl.col("eff_start_us") - parent_start, offset_bits).alias("start_key"),
            (
                pl.col("candidate")
                & parent.is_not_null()
                & (pl.col("eff_end_us") > pl.col("eff_start_us"))
            ).alias("keep"),
        )
        .filter(pl.col("keep"))
        .sort(["end_key", "eff_start_us"], descending=[False, True])
        .select(
            "row",
            "parent_row",
            "end_key",
            "start_key",
            (parent != parent.shift(1)).fill_null(True).alias("first"),
            (parent != parent.shift(-1)).fill_null(True).alias("last"),
        )
    )


def _links(length: int, siblings: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Per row: its latest-ending child, and the sibling taken before it (its predecessor)."""
    latest = siblings.filter(pl.col("last"))
    # NOTE: the predecessor is the last sibling ending at or before the row starts. It is
    # mostly the sibling just before the row (children run one after another): only the
    # others are searched for.
    end_key, start_key = siblings["end_key"], siblings["start_key"]
    # (A row's key ends after it starts unless both offsets are capped: then it is searched.)
    before = siblings.select(
        (
            (pl.col("end_key").shift(1) <= pl.col("start_key"))
            & (pl.col("end_key") > pl.col("start_key"))
        ).fill_null(False)
    ).to_series()
    position = pl.arange(-1, siblings.height - 1, dtype=pl.Int64, eager=True)
    searched = (~before).arg_true()
    position = position.scatter(
        searched,
        end_key.search_sorted(start_key.gather(searched), side="right").cast(pl.Int64) - 1,
    )
    found = (
        siblings.select("row", "parent_row", position.alias("position"))
        .with_columns(
            found_row=pl.col("row").gather(pl.col("position").clip(0)),
            found_parent=pl.col("parent_row").gather(pl.col("position").clip(0)),
        )
        .filter((pl.col("position") >= 0) & (pl.col("found_parent") == pl.col("parent_row")))
    )
    return (
        _nulls(length).scatter(latest["parent_row"], latest["row"]),
        _nulls(length).scatter(found["row"], found["found_row"]),
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


def init_rows(tree: pl.DataFrame) -> pl.Series:
    """Per row of ``tree``, the ``Initialization`` (or ``Restore``) subsegment it is in
    (itself included), else null."""
    seed = tree.select(
        pl.when((pl.col("kind") == "subsegment") & pl.col("name").is_in(INIT_NAMES)).then(
            pl.col("row")
        )
    ).to_series()
    return _settled_fold(seed, tree["local_parent"], kind="nearest")


def _labelled(tree: pl.DataFrame, path: pl.DataFrame, init_row: pl.Series) -> pl.DataFrame:
    """Add ``node``, ``node_type`` and ``node_kind`` to path rows.

    The node is the call's target inside a call, ``"<function> Initialization"`` (or
    ``Restore``) inside a cold start, else the owning segment; ``node_type`` is the service
    map's type of that node (an initialization has its function segment's type).
    ``node_codes`` codes the same labels: the two follow the same steps.
    """
    sources = _Sources.of(tree, path, init_row)
    # NOTE: the labels start as the owning segment's and only the rows inside a cold start or
    # a call are overwritten: no full-length column per source.
    node = text(tree["name"].gather(sources.owner_row))
    node = _overlay(node, sources.at_init, _init_names(tree, sources))
    node = _overlay(node, sources.at_call, text(tree["target"].gather(sources.calls)))
    owner_type = text(tree["node_type"].gather(sources.owner_row))
    node_type = _overlay(
        owner_type, sources.at_call, text(tree["target_type"].gather(sources.calls))
    )
    kind = pl.Series(NODE_KINDS).gather(_kind_codes(tree, sources))
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


def node_codes(
    tree: pl.DataFrame, path: pl.DataFrame, init_row: pl.Series
) -> tuple[pl.Series, pl.DataFrame]:
    """An integer per row of ``path`` telling its ``(node, node_type, node_kind)`` apart, and
    each code's labels: ``node_code``, ``node``, ``node_type``, ``node_kind``.

    The labels are built as ``_labelled`` builds them, on the codes of the strings rather
    than on the strings (which are gathered for one row per distinct code only): at a million
    segments the path holds most spans, and gathering, overwriting and grouping their strings
    cost several times as much.
    """
    sources = _Sources.of(tree, path, init_row)
    coded = _code_type(tree["name"])
    names = tree["name"].cast(coded).to_physical()
    node = names.gather(sources.owner_row)
    node = _overlay(node, sources.at_init, _init_names(tree, sources).cast(coded).to_physical())
    node = _overlay(node, sources.at_call, _codes(tree["target"].gather(sources.calls), coded))
    owner_type = _codes(tree["node_type"], coded).gather(sources.owner_row)
    node_type = _overlay(
        owner_type, sources.at_call, _codes(tree["target_type"].gather(sources.calls), coded)
    )
    # NOTE: a code is below 2**32 - 1: that value stands for a null.
    pair = node.fill_null(_NO_CODE).cast(pl.UInt64) * (1 << 32) + node_type.fill_null(
        _NO_CODE
    ).cast(pl.UInt64)
    pairs = pair.unique().sort()
    code = pairs.search_sorted(pair).cast(pl.UInt64) * len(NODE_KINDS) + _kind_codes(
        tree, sources
    ).cast(pl.UInt64)
    code = code.alias("node_code")
    firsts = code.to_frame().with_row_index("at").unique("node_code", keep="any")
    examples = path.select(pl.all().gather(firsts["at"]))
    nodes = _labelled(tree, examples, init_row).select(
        firsts["node_code"], "node", "node_type", "node_kind"
    )
    return code, nodes


_NO_CODE = (1 << 32) - 1


def _code_type(text: pl.Series) -> pl.DataType:
    """A categorical type to code strings in: the column's own when it is categorical (its
    codes are there already), else one of its own categories."""
    if isinstance(text.dtype, pl.Categorical):
        return text.dtype
    return pl.Categorical(pl.Categories.random())


def _codes(values: pl.Series, coded: pl.DataType) -> pl.Series:
    return values.cast(coded).to_physical()


@dataclass(frozen=True)
class _Sources:
    """Where a path row's labels come from: its segment (``owner_row``), the cold start it is
    in (``init_row``, positions ``at_init``), the call it is in (``calls``, at ``at_call``)."""

    owner_row: pl.Series
    init_row: pl.Series
    at_init: pl.Series
    calls: pl.Series
    at_call: pl.Series

    @classmethod
    def of(cls, tree: pl.DataFrame, path: pl.DataFrame, init_row: pl.Series) -> _Sources:
        rows = path["row"]
        owner_row = tree["owner_row"].gather(rows)
        inits = init_row.gather(rows)
        # NOTE: a segment without a name keeps its (null) label inside a cold start too.
        maybe = inits.is_not_null().arg_true()
        named = tree["name"].gather(owner_row.gather(maybe)).is_not_null()
        at_init = maybe.filter(named)
        call_row = tree["call_row"].gather(rows)
        at_call = call_row.is_not_null().arg_true()
        return cls(owner_row, inits.gather(at_init), at_init, call_row.gather(at_call), at_call)


def _init_names(tree: pl.DataFrame, sources: _Sources) -> pl.Series:
    """``"<segment name> <Initialization or Restore>"`` at ``sources.at_init``."""
    name = tree["name"]
    owners = sources.owner_row.gather(sources.at_init)
    return text(name.gather(owners)) + " " + text(name.gather(sources.init_row))


def _kind_codes(tree: pl.DataFrame, sources: _Sources) -> pl.Series:
    """Per path row, the position of its ``node_kind`` in ``NODE_KINDS``."""
    origin = pl.col("origin")
    own = tree.select(
        pl.when(origin == SERVICE_TYPE_LAMBDA)
        .then(pl.lit(NODE_KINDS.index(LAMBDA_SERVICE_KIND), dtype=pl.UInt8))
        .when(origin == FUNCTION_ORIGIN)
        .then(pl.lit(NODE_KINDS.index(CODE_KIND), dtype=pl.UInt8))
        .otherwise(pl.lit(NODE_KINDS.index(SERVICE_KIND), dtype=pl.UInt8))
    ).to_series()
    kind = own.gather(sources.owner_row)
    kind = kind.scatter(sources.at_init, NODE_KINDS.index(INIT_KIND))
    return kind.scatter(sources.at_call, NODE_KINDS.index(DOWNSTREAM_KIND))


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
        pl.all().gather(rows.gather(at_call)).cast(pl.String)
    )
    call_operation = calls.select(
        pl.when(pl.col("namespace") == "aws")
        .then(pl.coalesce("aws_operation", "name"))
        .otherwise(pl.coalesce(pl.concat_str("http_method", "name", separator=" "), "name"))
    ).to_series()
    # NOTE: a call's operation replaces the span name only at the call rows (see _labelled).
    operation = text(tree["name"].gather(rows)).scatter(at_call, call_operation)
    return path.with_columns(
        gather_views(tree["trace_id"], rows).alias("trace_id"),
        gather_views(tree["id"], rows).alias("id"),
        operation.alias("operation"),
    )
