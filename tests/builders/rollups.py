"""Spans split into partitions of whole traces, and their rollups merged."""

from __future__ import annotations

import polars as pl

from analyses import rollups


def split_traces(spans: pl.DataFrame, parts: int, seed: int) -> list[pl.DataFrame]:
    """``spans`` in ``parts`` partitions of whole traces (by a hash of the trace id)."""
    ids = spans.select("trace_id").unique().sort("trace_id")
    ids = ids.with_columns(
        (pl.col("trace_id").hash(seed) % parts).cast(pl.Int64).alias("_partition")
    )
    tagged = spans.join(ids, on="trace_id")
    return [tagged.filter(pl.col("_partition") == n).drop("_partition") for n in range(parts)]


def merged_parts(spans: pl.DataFrame, parts: int, seed: int = 1) -> pl.DataFrame:
    """The rollups of ``spans`` split ``parts`` ways, merged."""
    return rollups.merge([rollups.rollup(part) for part in split_traces(spans, parts, seed)])
