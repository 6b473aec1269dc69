"""Spans split into partitions of whole traces (Lambda REPORT records with them), and their
rollups merged."""

from __future__ import annotations

import polars as pl

from analyses import rollups
from analyses.invocations import invocations


def split_traces(spans: pl.DataFrame, parts: int, seed: int) -> list[pl.DataFrame]:
    """``spans`` in ``parts`` partitions of whole traces (by a hash of the trace id)."""
    ids = spans.select("trace_id").unique().sort("trace_id")
    ids = ids.with_columns(
        (pl.col("trace_id").hash(seed) % parts).cast(pl.Int64).alias("_partition")
    )
    tagged = spans.join(ids, on="trace_id")
    return [tagged.filter(pl.col("_partition") == n).drop("_partition") for n in range(parts)]


def split_reports(
    spans: pl.DataFrame, reports: pl.DataFrame, parts: int, seed: int
) -> list[pl.DataFrame]:
    """``reports`` (``REPORT_SCHEMA``) split as :func:`split_traces` splits ``spans``: a traced
    request's REPORT with its trace (it may name no function: its trace names it), the others
    by a hash of their request id."""
    traced = invocations(spans).select("request_id", pl.col("trace_id").alias("_trace"))
    tagged = reports.join(
        traced.drop_nulls("request_id").unique("request_id"), on="request_id", how="left"
    )
    key = pl.coalesce("_trace", "request_id", pl.lit("")).hash(seed) % parts
    tagged = tagged.with_columns(key.cast(pl.Int64).alias("_partition")).drop("_trace")
    return [tagged.filter(pl.col("_partition") == n).drop("_partition") for n in range(parts)]


def merged_parts(
    spans: pl.DataFrame, parts: int, seed: int = 1, reports: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The rollups of ``spans`` (and their ``reports``) split ``parts`` ways, merged."""
    split = split_traces(spans, parts, seed)
    logged: list[pl.DataFrame | None] = (
        [None] * parts if reports is None else list(split_reports(spans, reports, parts, seed))
    )
    return rollups.merge(
        [rollups.rollup(part, own) for part, own in zip(split, logged, strict=True)]
    )
