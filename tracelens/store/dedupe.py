"""Rows read more than once (overlapping windows, re-runs after a crash) kept once.

Spans follow the trace ingest's rule, whole segment documents at a time: a completed copy of a
segment wins over an in-progress one, then a copy that names the segment's parent over one that
does not, then the copy stored last. (Under Transaction Search one segment can arrive as an
X-Ray document and as ``aws/spans`` records, in runs of two collectors; a form that lost the
parent link, such as an OpenTelemetry function span whose ``AWS::Lambda`` parent was not
exported, must not cut the trace in two because it was stored last: a segment's parent never
changes.) Other tables keep, per
identity, the row stored last (the latest read of a metric datapoint, for instance).
"""

from __future__ import annotations

import polars as pl

from tracelens.store.tables import ACCOUNT, PART, REGION, STORED_AT, Table

_SEGMENT = ["trace_id", "segment_id"]


def latest_rows(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    """One row per ``table.identity`` (and account and region): the one stored last."""
    identity = [ACCOUNT, REGION, *(table.identity or table.schema)]
    newest_first = frame.sort([STORED_AT, PART], descending=True, maintain_order=True)
    return newest_first.unique(identity, keep="first", maintain_order=True)


def unique_segments(spans: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Spans with one copy of each segment, and how many segment documents were dropped.

    A segment's rows (the document's root and its nested subsegments, plus independent
    subsegments attached to it) share ``trace_id`` and ``segment_id``; the copy of one part is
    kept whole, so rows of two copies never mix.

    NOTE: most stores hold each segment once. A 64-bit hash of the segment finds the segments
    that may repeat (in more than one part) from the document rows alone; only those are
    grouped exactly, so a hash collision costs time, never a row.
    """
    segment = pl.struct(_SEGMENT).hash(seed=0)
    documents = spans.lazy().filter(pl.col("depth") == 0).select(segment.alias("_key"), PART)
    keys = documents.select("_key").collect().get_column("_key")
    if keys.n_unique() == keys.len():
        # NOTE: no segment is stored twice (the common case): one count of distinct hashes
        # answers without grouping by part (1M segments: 0.36 -> 0.07 s).
        return spans, 0
    suspects = (
        documents.unique()
        .filter(pl.col("_key").is_duplicated())
        .select(pl.col("_key").unique())
        .collect()
        .get_column("_key")
    )
    if suspects.is_empty():
        return spans, 0
    numbered = spans.with_row_index("_row")
    suspect = numbered.filter(segment.is_in(suspects.implode()))
    kept_rows, dropped = _winning_rows(suspect)
    keep = ~segment.is_in(suspects.implode()) | pl.col("_row").is_in(kept_rows.implode())
    return numbered.filter(keep).drop("_row"), dropped


def _winning_rows(spans: pl.DataFrame) -> tuple[pl.Series, int]:
    """Of ``spans`` (with ``_row``), the rows of each segment's winning copy, and the
    segment documents of the other copies."""
    own_root = (pl.col("depth") == 0) & (pl.col("id") == pl.col("segment_id"))
    named_parent = (
        (own_root & pl.col("parent_id").is_not_null()).any()
        if "parent_id" in spans.columns
        else pl.lit(value=False)
    )
    copies = spans.group_by([*_SEGMENT, PART]).agg(
        (own_root & pl.col("in_progress")).any().alias("root_in_progress"),
        named_parent.alias("names_parent"),
        pl.col(STORED_AT).max(),
        (pl.col("depth") == 0).sum().alias("documents"),
    )
    winners = copies.sort(
        ["root_in_progress", "names_parent", STORED_AT, PART],
        descending=[False, True, True, True],
        maintain_order=True,
    ).unique(_SEGMENT, keep="first", maintain_order=True)
    dropped = int(copies.get_column("documents").sum()) - int(winners.get_column("documents").sum())
    kept = spans.join(winners.select([*_SEGMENT, PART]), on=[*_SEGMENT, PART], how="semi")
    return kept.get_column("_row"), dropped
