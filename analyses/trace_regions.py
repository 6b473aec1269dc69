"""Which AWS region each trace lives in, as its spans name it (for console links)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class TraceRegions:
    """Per trace, the region its spans name most often (ties: alphabetical), and the regions
    named, the most traces first (ties: alphabetical). Empty when no span names a region."""

    per_trace: dict[str, str] = field(default_factory=dict)
    by_traces: list[str] = field(default_factory=list)


def trace_regions(spans: pl.DataFrame) -> TraceRegions:
    """The regions the spans' ``region`` column names (``aws.region``, function ARNs,
    ``resource_arn``, ``cloud.region``), per trace and over all traces."""
    if "region" not in spans.columns:
        return TraceRegions()
    named = (
        spans.lazy()
        .select("trace_id", "region")
        .filter(pl.col("region").is_not_null())
        .group_by("trace_id", "region")
        .len()
        .sort(["trace_id", "len", "region"], descending=[False, True, False])
        .group_by("trace_id", maintain_order=True)
        .agg(pl.col("region").first())
        .collect()
    )
    ranked = (
        named.group_by("region")
        .len()
        .sort(["len", "region"], descending=[True, False])
        .get_column("region")
    )
    return TraceRegions(
        dict(zip(named["trace_id"].to_list(), named["region"].to_list(), strict=True)),
        ranked.to_list(),
    )
