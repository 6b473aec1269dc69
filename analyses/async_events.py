"""Asynchronous invocations per function: how long events waited, and how often they were retried.

For an asynchronous invoke (S3, SNS, EventBridge, ``Invoke`` with ``InvocationType=Event``)
Lambda queues the event; the ``AWS::Lambda`` segment of the trace then holds a ``Dwell Time``
subsegment (the time the event waited in the queue before its first attempt) and one
``Attempt #N`` subsegment per attempt to run the function. Lambda retries a failed event twice
by default, so ``Attempt #2`` and ``Attempt #3`` are retries.

One event is one such ``AWS::Lambda`` segment. Its attempt count is the highest ``N`` recorded;
an event with a ``Dwell Time`` and no ``Attempt`` subsegment has an unknown attempt count (it
counts in ``events`` but not in ``events_with_attempts``), never "one attempt".
"""

from __future__ import annotations

import polars as pl

from analyses._frames import quantile_ms
from analyses._output import check_inputs, shaped
from analyses.invocations import ATTEMPT_PATTERN, DWELL_NAME, SERVICE_ORIGIN, is_segment_of
from tracelens.schema import empty_frame

ASYNC_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),
    "events": pl.Int64(),  # AWS::Lambda segments holding Dwell Time or Attempt #N
    "events_with_attempts": pl.Int64(),  # of those, events recording their attempts
    "attempts": pl.Int64(),  # sum over events of the highest attempt number
    "retried_events": pl.Int64(),  # events with an Attempt #2 or later
    "max_attempt": pl.Int64(),  # null when no event records its attempts
    "retried_share": pl.Float64(),  # retried_events / events_with_attempts
    "event_age_p50_ms": pl.Float64(),  # Dwell Time durations (null without any)
    "event_age_p95_ms": pl.Float64(),
    "event_age_p99_ms": pl.Float64(),
    "event_age_max_ms": pl.Float64(),
    "example_trace_id": pl.String(),  # the event with the most attempts, else the longest wait
}


def async_events(spans: pl.DataFrame) -> pl.DataFrame:
    """Event age (Dwell Time) percentiles and retry attempts per function.

    Parameters
    ----------
    spans
        Normalized spans (``SPAN_SCHEMA``).

    Returns
    -------
    pl.DataFrame
        ``ASYNC_SCHEMA``, one row per function with at least one asynchronous event, by name.
    """
    check_inputs(spans=spans)
    per_event = async_event_rows(spans)
    if per_event.is_empty():
        return empty_frame(ASYNC_SCHEMA)
    ranked = per_event.sort(
        ["attempts", "dwell_ms", "trace_id"], descending=[True, True, False], nulls_last=True
    )
    table = ranked.group_by("function_name", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("events"),
        pl.col("attempts").is_not_null().sum().cast(pl.Int64).alias("events_with_attempts"),
        pl.col("attempts").sum().cast(pl.Int64).alias("attempts"),
        (pl.col("attempts") >= 2).sum().cast(pl.Int64).alias("retried_events"),
        pl.col("attempts").max().alias("max_attempt"),
        quantile_ms("dwell_ms", 0.50).alias("event_age_p50_ms"),
        quantile_ms("dwell_ms", 0.95).alias("event_age_p95_ms"),
        quantile_ms("dwell_ms", 0.99).alias("event_age_p99_ms"),
        pl.col("dwell_ms").max().alias("event_age_max_ms"),
        pl.col("trace_id").first().alias("example_trace_id"),
    )
    table = table.with_columns(
        pl.when(pl.col("events_with_attempts") > 0)
        .then(pl.col("retried_events") / pl.col("events_with_attempts"))
        .alias("retried_share")
    )
    return shaped(table, ASYNC_SCHEMA).sort("function_name")


def async_event_rows(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per asynchronous event (an ``AWS::Lambda`` segment with ``Dwell Time`` or
    ``Attempt #N``): ``trace_id``, ``segment_id``, ``dwell_ms`` (its age in Lambda's queue),
    ``attempts`` (null when unknown) and ``function_name``."""
    check_inputs(spans=spans)
    source = spans.lazy()
    service = source.filter(is_segment_of(SERVICE_ORIGIN)).select(
        "trace_id",
        pl.col("id").alias("segment_id"),
        # NOTE: the service segment is named after the function; some writers name it "Lambda"
        # and give the function under ``aws``.
        pl.coalesce("function_name", "name").alias("function_name"),
    )
    parts = source.filter(pl.col("kind") == "subsegment").select(
        "trace_id",
        "segment_id",
        pl.when(pl.col("name") == DWELL_NAME).then("duration_ms").alias("dwell_ms"),
        pl.col("name").str.extract(ATTEMPT_PATTERN, 1).cast(pl.Int64, strict=False).alias("n"),
    )
    parts = parts.filter(pl.col("dwell_ms").is_not_null() | pl.col("n").is_not_null())
    per_event = (
        parts.group_by("trace_id", "segment_id")
        .agg(pl.col("dwell_ms").max(), pl.col("n").max().alias("attempts"))
        .join(service, on=["trace_id", "segment_id"], how="inner")
        .collect()
    )
    return per_event
