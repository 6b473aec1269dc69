"""Parent links between span rows as integer positions, and folds over ancestor chains.

Every row gets ``row`` (its position) and ``parent_row`` (the position of the row whose ``id``
is its ``parent_id`` in the same trace). With positions, walking up a chain is a ``gather``
instead of a join, so whole-frame folds over ancestors stay vectorized.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from analyses.memo import memoized

FoldKind = Literal["min", "max", "nearest", "outermost"]

# NOTE: pointer jumping doubles the covered chain length each round: 48 rounds cover any real
# nesting; the bound only matters for corrupt input with cyclic parent links.
MAX_ROUNDS = 48


@memoized
def parent_rows(spans: pl.DataFrame) -> pl.Series:
    """Per row of ``spans``, the position (UInt32) of its parent: the row whose ``id`` is its
    ``parent_id`` in the same trace; the span tree, the invocations and the throttled attempts
    follow the same links.

    A ``parent_id`` that names no row of the same trace gives null: the row is then treated as
    a root. Duplicate ``(trace_id, id)`` pairs link to the first of them.
    """
    return _linked(spans)


def _linked(spans: pl.DataFrame) -> pl.Series:
    # NOTE: joining on one 64-bit hash of (trace_id, id) is several times faster than on the
    # two strings. A collision is caught by comparing the ids and the trace ids' hashes after;
    # only two trace ids with equal 64-bit hashes could still be confused.
    keys = spans.select(
        pl.col("trace_id").hash(1).alias("trace_hash"), "id", "parent_id"
    ).with_row_index("parent_row")
    lookup = keys.select(_key("id"), "parent_row")
    wanted = keys.select(_key("parent_id")).with_row_index("child").drop_nulls("_key")
    found, pairs = _joined_parents(wanted, lookup, keys.height)
    if pairs != found.len() - found.null_count():
        # Duplicate ids (a child matched two rows): deduplicating up front costs as much as
        # the join, so only now.
        lookup = lookup.unique(subset="_key", keep="first", maintain_order=True)
        found, _ = _joined_parents(wanted, lookup, keys.height)
    same = (pl.col("trace_hash").gather(pl.col("found")) == pl.col("trace_hash")) & (
        pl.col("found_id") == pl.col("parent_id")
    )
    checked = keys.with_columns(found=found, found_id=gather_views(keys["id"], found)).select(
        pl.when(same).then(pl.col("found")).alias("parent_row")
    )
    return checked["parent_row"]


def _joined_parents(
    wanted: pl.DataFrame, lookup: pl.DataFrame, height: int
) -> tuple[pl.Series, int]:
    """The ``parent_row`` of each ``child`` row (null where none matched), and the number
    of (child, parent) pairs matched: more pairs than children means a key occurs twice."""
    # NOTE: the streaming engine joins these millions of keys in about half the eager join's
    # CPU time, without its ~100 MB of temporaries; the pairs are put back in row order by
    # position, which costs a fraction of joining in order (0.50 -> 0.30 s at a million
    # segments).
    pairs = (
        wanted.lazy()
        .join(lookup.lazy(), on="_key", how="inner")
        .select("child", "parent_row")
        .collect(engine="streaming")
    )
    found = pl.repeat(None, height, dtype=pl.UInt32, eager=True).scatter(
        pairs["child"], pairs["parent_row"]
    )
    return found, pairs.height


def _key(id_column: str) -> pl.Expr:
    return (
        pl.when(pl.col(id_column).is_not_null())
        .then(pl.col("trace_hash") ^ pl.col(id_column).hash(2))
        .alias("_key")
    )


def gather_views(values: pl.Series, rows: pl.Series) -> pl.Series:
    """``values.gather(rows)`` that shares the strings' bytes with ``values``.

    Gathering from a column of many chunks (a frame concatenated from many files, say) copies
    the bytes of every string longer than 12; from one chunk only the 16-byte views are copied.
    Rechunking first costs one such view per row, for the duration of the call (nothing when
    the column is one chunk already, as ingest leaves it).
    """
    return values.rechunk().gather(rows)


@memoized
def ids_repeat(spans: pl.DataFrame) -> bool:
    """Whether some ``(trace_id, id)`` pair occurs on more than one span.

    Pairs are compared by a 64-bit hash: a collision answers True, which only sends callers
    to their exact (slower) path.
    """
    keys = spans.select(_pair_hash().alias("key")).get_column("key")
    return keys.n_unique() != spans.height


def links_are_joins(spans: pl.DataFrame) -> bool:
    """Whether following ``parent_rows`` finds what joins on ``(trace_id, id)`` find: no pair
    repeats (a join meets every copy) and no trace id is null (a join matches no null)."""
    return spans.get_column("trace_id").null_count() == 0 and not ids_repeat(spans)


def first_rows(spans: pl.DataFrame, rows: pl.Series) -> pl.Series:
    """For each position in ``rows``, the position of the first span with the same
    ``(trace_id, id)``; null where either is null."""
    pairs = spans.select("trace_id", "id")
    firsts = pairs.with_row_index("row").unique(["trace_id", "id"], keep="first")
    picked = pairs.select(pl.all().gather(rows))
    return picked.join(firsts, on=["trace_id", "id"], how="left", maintain_order="left")["row"]


def _pair_hash() -> pl.Expr:
    return pl.col("trace_id").hash(1) ^ pl.col("id").hash(2)


def ancestor_fold(values: pl.Series, parent_row: pl.Series, *, kind: FoldKind) -> pl.Series:
    """Fold ``values`` over each row's chain of ancestors (the row itself included).

    Parameters
    ----------
    values
        One value per row (nulls mean "nothing here").
    parent_row
        Position of each row's parent, null where the chain stops.
    kind
        ``"min"``/``"max"`` of the chain's non-null values; ``"nearest"``: the first non-null
        value going up from the row; ``"outermost"``: the last non-null value going up.

    Returns
    -------
    pl.Series
        The folded value per row, named like ``values``.
    """
    folded = values
    pointer = parent_row.cast(pl.UInt32)
    for _ in range(MAX_ROUNDS):
        if pointer.null_count() == pointer.len():
            break
        # Invariant: folded[i] covers the chain from i up to (excluding) pointer[i].
        folded = _combine(folded, folded.gather(pointer), kind)
        pointer = pointer.gather(pointer)
    return folded.alias(values.name)


def _combine(own: pl.Series, upper: pl.Series, kind: FoldKind) -> pl.Series:
    pair = pl.DataFrame({"own": own, "upper": upper})
    if kind == "min":
        expr = pl.min_horizontal("own", "upper")
    elif kind == "max":
        expr = pl.max_horizontal("own", "upper")
    elif kind == "nearest":
        expr = pl.coalesce("own", "upper")
    else:
        expr = pl.coalesce("upper", "own")
    return pair.select(expr.alias("folded")).to_series()
