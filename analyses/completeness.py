"""How complete the traces are: facts about missing and inconsistent parts, counted and shown.

Real trace exports are often partial: a trace's root segment was not sampled or not fetched, a
segment names a parent the trace does not hold, a subsegment was still in progress when its
segment was sent, or a child starts before its parent (an SDK artifact, clock skew between
services, or an ``Initialization`` recorded before a pre-initialized environment's first
invocation). Each is counted here so reports can say what the figures rest on.

Issues (``issue`` column)
-------------------------
``missing_root``
    Traces with no segment lacking a ``parent_id``: whatever started them is not in the data.
``orphan_segment``
    Segments whose ``parent_id`` names no span of their trace (inferred ones included).
``in_progress_subsegment``
    Subsegments still in progress (no ``end_time``) inside a segment that ended.
``child_before_parent``
    Spans starting more than ``tolerance_ms`` before their parent. Calls among them draw no
    edge in loop detection (``analyses.loops``).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from analyses._calls import span_tree
from analyses._output import check_inputs, shaped

DEFAULT_TOLERANCE_MS = 1.0  # AWS::Lambda timestamps have millisecond precision

ISSUES = ("missing_root", "orphan_segment", "in_progress_subsegment", "child_before_parent")

COMPLETENESS_SCHEMA: dict[str, pl.DataType] = {
    "issue": pl.String(),  # one of ISSUES
    "count": pl.Int64(),  # traces (missing_root) or spans (the others)
    "traces": pl.Int64(),  # traces affected
    "example_trace_id": pl.String(),
    "example": pl.String(),  # the first affected span, described
}


def completeness(
    spans: pl.DataFrame, *, tolerance_ms: float = DEFAULT_TOLERANCE_MS
) -> pl.DataFrame:
    """One row per issue in ``ISSUES`` (count 0 when absent), in that order.

    Parameters
    ----------
    tolerance_ms
        A child starting less than this before its parent is not counted.
    """
    check_inputs(spans=spans)
    tree = span_tree(spans)
    parent = tree["parent_row"]
    start_us = tree["start_time"].dt.epoch("us")
    early_ms = (start_us.gather(parent) - start_us).cast(pl.Float64) / 1000.0
    segment = pl.col("kind") == "segment"
    # NOTE: each issue's rows are found from full-height masks, and only those rows get the
    # columns that describe them (a full-height frame of every fact cost ~150 MB at 1M).
    hits = tree.select(
        (segment & pl.col("parent_id").is_not_null() & pl.col("parent_row").is_null())
        .fill_null(False)
        .alias("orphan_segment"),
        ((pl.col("kind") == "subsegment") & pl.col("end_time").is_null())
        .fill_null(False)
        .alias("in_progress_subsegment"),
        (early_ms > tolerance_ms).fill_null(False).alias("child_before_parent"),
    )
    # A subsegment in progress counts inside a segment that ended.
    open_rows = hits["in_progress_subsegment"].arg_true()
    owner_ended = tree["end_time"].gather(tree["owner_row"].gather(open_rows)).is_not_null()
    texts = {
        "orphan_segment": pl.format(
            "segment {} names parent {}, not in the trace", "name", "parent_id"
        ),
        "in_progress_subsegment": pl.format(
            "subsegment {} in progress in a completed segment", "name"
        ),
        "child_before_parent": pl.format(
            "{} starts {} ms before its parent {}",
            "name",
            pl.col("early_ms").round(1),
            "parent_name",
        ),
    }
    rows = [_missing_roots(tree.select("trace_id", "kind", "start_time", "parent_id"))]
    for issue, text in texts.items():
        at = hits[issue].arg_true()
        if issue == "in_progress_subsegment":
            at = open_rows.filter(owner_ended.fill_null(False))
        hit = tree.select(
            pl.col("trace_id", "name", "start_time", "parent_id").gather(at),
            early_ms=early_ms.gather(at),
            parent_name=tree["name"].gather(parent.gather(at)),
        ).sort("start_time", "trace_id")
        rows.append(
            hit.select(
                pl.lit(issue).alias("issue"),
                pl.len().cast(pl.Int64).alias("count"),
                pl.col("trace_id").n_unique().cast(pl.Int64).alias("traces"),
                pl.col("trace_id").first().alias("example_trace_id"),
                text.first().alias("example"),
            )
        )
    return shaped(pl.concat(rows), COMPLETENESS_SCHEMA)


def _missing_roots(facts: pl.DataFrame) -> pl.DataFrame:
    rooted = facts.filter((pl.col("kind") == "segment") & pl.col("parent_id").is_null())
    missing = (
        facts.select("trace_id", "start_time")
        .join(rooted.select("trace_id").unique(), on="trace_id", how="anti")
        .group_by("trace_id")
        .agg(pl.col("start_time").min())
        .sort("start_time", "trace_id")
    )
    return missing.select(
        pl.lit("missing_root").alias("issue"),
        pl.len().cast(pl.Int64).alias("count"),
        pl.len().cast(pl.Int64).alias("traces"),
        pl.col("trace_id").first().alias("example_trace_id"),
        pl.format("trace {} has no root segment", "trace_id").first().alias("example"),
    )


def issue_counts(table: pl.DataFrame) -> dict[str, int]:
    """``{issue: count}`` of a ``completeness`` frame."""
    return {row["issue"]: int(row["count"]) for row in table.iter_rows(named=True)}


# Microseconds since 1970 of datetime(1, 1, 1) and of datetime(9999, 12, 31, 23, 59, 59, 999999):
# the times a Python datetime can hold (polars holds later ones, from float seconds).
FIRST_US = -62_135_596_800_000_000
LAST_US = 253_402_300_799_999_999


def representable(column: str) -> pl.Expr:
    """Whether the datetime ``column`` is null or between years 1 and 9999."""
    epoch = pl.col(column).dt.epoch("us")
    return epoch.is_between(FIRST_US, LAST_US) | epoch.is_null()


def unrepresentable_rows(frame: pl.DataFrame) -> int:
    """How many rows of ``frame`` hold a time outside years 1 to 9999 in any datetime column
    (such a time cannot be shown, and is shown as unknown)."""
    columns = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]
    if not columns or frame.is_empty():
        return 0
    return int(frame.select((~pl.all_horizontal(representable(c) for c in columns)).sum()).item())


def traffic_window(spans: pl.DataFrame) -> tuple[datetime | None, datetime | None]:
    """The traces' window: from the first segment's start to the last end (times outside
    years 1 to 9999 left out). Subsegments may start earlier (a provisioned environment's
    Initialization, minutes or hours before its first request): they are inside a segment's
    trace, not the start of the traffic."""
    if spans.is_empty():
        return None, None

    def shown(column: str) -> pl.Expr:
        return pl.col(column).filter(representable(column))

    segments = spans.filter(pl.col("kind") == "segment")
    source = segments if segments.height else spans
    start, end = source.select(shown("start_time").min(), shown("end_time").max()).row(0)
    if end is None:
        end = spans.select(shown("end_time").max()).item()
    return start, end
