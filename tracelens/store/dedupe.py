"""Rows read more than once (overlapping windows, re-runs after a crash) kept once.

Spans follow the trace ingest's rule, whole segment documents at a time: a completed copy of a
segment wins over an in-progress one, then the copy stored last. Other tables keep, per
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
    """
    own_root = (pl.col("depth") == 0) & (pl.col("id") == pl.col("segment_id"))
    copies = spans.group_by([*_SEGMENT, PART]).agg(
        (own_root & pl.col("in_progress")).any().alias("root_in_progress"),
        pl.col(STORED_AT).max(),
        (pl.col("depth") == 0).sum().alias("documents"),
    )
    winners = copies.sort(
        ["root_in_progress", STORED_AT, PART], descending=[False, True, True], maintain_order=True
    ).unique(_SEGMENT, keep="first", maintain_order=True)
    if winners.height == copies.height:
        return spans, 0
    documents = copies.get_column("documents")
    kept_documents = winners.get_column("documents")
    dropped = int(documents.sum()) - int(kept_documents.sum())
    kept = spans.join(
        winners.select([*_SEGMENT, PART]), on=[*_SEGMENT, PART], how="semi", maintain_order="left"
    )
    return kept, dropped
