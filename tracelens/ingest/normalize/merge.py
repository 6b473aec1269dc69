"""Passes over the whole input's chunk frames: deduplication and independent subsegments.

They rewrite the chunk frames one at a time, in place in the list, so at most one chunk is held
twice: rewriting the concatenated frame would hold all of it twice.
"""

from __future__ import annotations

import polars as pl


def deduplicate(frames: list[pl.DataFrame]) -> int:
    """Keep one copy of each document: a completed one over an in-progress one, else the first.

    A document that is a subsegment nested in another document kept (the same span as an
    OpenTelemetry record and inside an X-Ray segment, or an independent subsegment and the
    segment X-Ray returns it in) is a copy too: the nested one is kept.

    Returns the number of unique documents.
    """
    roots = pl.concat(
        [
            frame.filter(pl.col("depth") == 0).select(
                "trace_id", "id", "in_progress", "doc_index", "kind"
            )
            for frame in frames
        ]
    )
    winners = roots.sort("in_progress", "doc_index").unique(["trace_id", "id"], keep="first")
    keep = winners.select("doc_index")
    # NOTE: only an independent subsegment can be nested elsewhere too: without one (most
    # X-Ray exports) there is nothing more to look for.
    independent = winners.filter(pl.col("kind") == "subsegment").select(
        "trace_id", "id", "doc_index"
    )
    if independent.height:
        nested = pl.concat(
            [
                frame.filter(pl.col("depth") > 0)
                .select("trace_id", "id", pl.col("doc_index").alias("in_doc"))
                .join(independent, on=["trace_id", "id"], how="semi")
                .join(keep.select(in_doc="doc_index"), on="in_doc", how="semi")
                for frame in frames
            ]
        )
        embedded = (
            independent.join(nested, on=["trace_id", "id"], how="inner")
            .filter(pl.col("in_doc") != pl.col("doc_index"))
            .select("doc_index")
            .unique()
        )
        keep = keep.join(embedded, on="doc_index", how="anti")
    if keep.height < roots.height:
        for index, frame in enumerate(frames):
            frames[index] = frame.join(keep, on="doc_index", how="semi")
    return keep.height


def attach_independent_subsegments(frames: list[pl.DataFrame]) -> None:
    """Give rows of independent subsegment documents the segment that owns their parent.

    A parent may itself be an independent subsegment (every span of an OpenTelemetry trace is
    a document of its own): such chains are followed up to the segment at their top.
    """
    independent = pl.concat(
        [
            frame.filter((pl.col("depth") == 0) & (pl.col("kind") == "subsegment")).select(
                "trace_id", "id", "parent_id"
            )
            for frame in frames
        ]
    )
    if independent.is_empty():
        return
    parents = independent.select("trace_id", "parent_id").unique()
    candidates = pl.concat(
        [
            frame.select(
                "trace_id",
                pl.col("id").alias("parent_id"),
                pl.col("segment_id").alias("owner_id"),
                (pl.col("depth") + 1).alias("depth_offset"),
            ).join(parents, on=["trace_id", "parent_id"], how="semi")
            for frame in frames
        ]
    ).unique(["trace_id", "parent_id"])
    mapping = independent.join(candidates, on=["trace_id", "parent_id"], how="inner").select(
        "trace_id", pl.col("id").alias("segment_id"), "owner_id", "depth_offset"
    )
    mapping = _follow_chains(mapping)
    for index, frame in enumerate(frames):
        frames[index] = (
            frame.join(mapping, on=["trace_id", "segment_id"], how="left")
            .with_columns(
                segment_id=pl.coalesce("owner_id", "segment_id"),
                depth=(pl.col("depth") + pl.col("depth_offset").fill_null(0)).cast(pl.Int16),
            )
            .drop("owner_id", "depth_offset")
        )


# NOTE: each pass halves the longest chain left (an owner takes its owner's owner), so 16
# passes follow chains of 65,536 documents; a cycle of parent ids simply stops there.
_CHAIN_PASSES = 16


def _follow_chains(mapping: pl.DataFrame) -> pl.DataFrame:
    """``mapping`` (document -> owner, depth offset) with owners that are themselves mapped
    replaced by their own owners, until every owner is a segment (or a chain breaks)."""
    for _ in range(_CHAIN_PASSES):
        step = mapping.join(
            mapping.select(
                "trace_id",
                pl.col("segment_id").alias("owner_id"),
                pl.col("owner_id").alias("next_owner"),
                pl.col("depth_offset").alias("next_offset"),
            ),
            on=["trace_id", "owner_id"],
            how="left",
        )
        chained = step.get_column("next_owner").is_not_null()
        # A document that owns itself through a cycle stays as it is.
        chained = chained & (step.get_column("next_owner") != step.get_column("segment_id"))
        if not chained.any():
            break
        mapping = step.select(
            "trace_id",
            "segment_id",
            owner_id=pl.when(chained).then("next_owner").otherwise("owner_id"),
            depth_offset=pl.when(chained)
            .then(pl.col("depth_offset") + pl.col("next_offset"))
            .otherwise("depth_offset"),
        )
    # A cycle of parent ids grows its offsets each pass: keep depths within Int16.
    return mapping.with_columns(pl.col("depth_offset").clip(upper_bound=_MAX_OFFSET))


_MAX_OFFSET = 16_000
