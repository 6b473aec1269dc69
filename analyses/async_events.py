"""Asynchronous invocations per function: how long events waited, and how often they were retried.

For an asynchronous invoke (S3, SNS, EventBridge, ``Invoke`` with ``InvocationType=Event``)
Lambda queues the event; the ``AWS::Lambda`` segment of the trace then holds a ``Dwell Time``
subsegment (the time the event waited in the queue before its first attempt) and one
``Attempt #N`` subsegment per attempt to run the function. Lambda retries a failed event twice
by default, so ``Attempt #2`` and ``Attempt #3`` are retries.

One event is one such ``AWS::Lambda`` segment. Its attempt count is the highest ``N`` recorded;
an event with a ``Dwell Time`` and no ``Attempt`` subsegment has an unknown attempt count (it
counts in ``events`` but not in ``events_with_attempts``), never "one attempt".

Outcomes of retried events
--------------------------
An attempt failed when its ``Attempt #N`` subsegment or the function segment under it is flagged
fault or error. An event *eventually succeeded* when its highest-numbered attempt ran (a function
segment under it, completed) and neither is flagged: the earlier failed attempts were absorbed
by Lambda's retries and nobody lost the event. An event whose last recorded attempt failed
exhausted its retries (or its later attempts were not traced): it failed for good. An event
whose last attempt has no completed function segment has an unknown outcome and counts as
neither. ``recovered_faults`` and ``recovered_errors`` count the executions of eventually
successful events as :func:`analyses.invocations.invocations` flags them (the function table's
``faults`` and ``errors``), so that failure findings can tell those failures apart.
"""

from __future__ import annotations

import polars as pl

from analyses._frames import quantile_ms, text, text_contains
from analyses._output import check_inputs, shaped
from analyses.invocations import (
    ATTEMPT_PATTERN,
    DWELL_NAME,
    FUNCTION_ORIGIN,
    SERVICE_ORIGIN,
    invocations,
    is_segment_of,
)
from analyses.memo import memoized
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
    # Events with a failed attempt whose last attempt succeeded (module docstring).
    "recovered_events": pl.Int64(),
    "failed_events": pl.Int64(),  # events whose last recorded attempt failed
    # Executions of eventually successful events flagged fault / error (as the function table
    # counts them): failures Lambda's retries absorbed.
    "recovered_faults": pl.Int64(),
    "recovered_errors": pl.Int64(),
}

_OUTCOME_COUNTS = ("recovered_events", "failed_events", "recovered_faults", "recovered_errors")


def async_events(spans: pl.DataFrame) -> pl.DataFrame:
    """Event age (Dwell Time) percentiles and retry attempts per function.

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
    ).join(event_outcomes(spans), on="function_name", how="left")
    table = table.with_columns(pl.col(_OUTCOME_COUNTS).fill_null(0))
    return shaped(table, ASYNC_SCHEMA).sort("function_name")


def _attempt_rows(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per ``Attempt #N`` subsegment: its event (``trace_id``, ``event_id``), ``n``,
    the execution under it (``execution_id``, null when none was recorded), ``failed`` and
    ``ran`` (a completed execution)."""
    source = spans.lazy()
    flagged = pl.col("fault").fill_null(value=False) | pl.col("error").fill_null(value=False)
    attempts = source.filter(
        (pl.col("kind") == "subsegment") & text_contains(spans, "name", ATTEMPT_PATTERN)
    ).select(
        "trace_id",
        pl.col("id").alias("attempt_id"),
        pl.col("segment_id").alias("event_id"),
        text("name").str.extract(ATTEMPT_PATTERN, 1).cast(pl.Int64, strict=False).alias("n"),
        flagged.alias("attempt_failed"),
    )
    executions = source.filter(is_segment_of(FUNCTION_ORIGIN)).select(
        "trace_id",
        pl.col("parent_id").alias("attempt_id"),
        pl.col("id").alias("execution_id"),
        flagged.alias("execution_failed"),
        (~pl.col("in_progress").fill_null(value=False)).alias("completed"),
    )
    failed = pl.col("attempt_failed") | pl.col("execution_failed").fill_null(value=False)
    joined = attempts.join(executions, on=["trace_id", "attempt_id"], how="left")
    return joined.with_columns(
        failed.alias("failed"), pl.col("completed").fill_null(value=False).alias("ran")
    ).collect()


def event_outcome_rows(spans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The outcomes of asynchronous events (see the module docstring), as two row frames:
    one row per event recording its attempts (``trace_id``, ``function_name``, ``recovered``:
    a failed attempt and a successful last one, ``failed``: its last attempt failed), and one
    row per execution of an eventually successful event (``trace_id``, ``function_name``, and
    its ``fault``/``error`` flags as :func:`analyses.invocations.invocations` gives them).
    :data:`OUTCOME_COUNT_EXPRS` counts them."""
    check_inputs(spans=spans)
    attempts = _attempt_rows(spans)
    event_schema = {
        "trace_id": pl.String(),
        "function_name": pl.String(),
        "recovered": pl.Boolean(),
        "failed": pl.Boolean(),
    }
    execution_schema = {
        "trace_id": pl.String(),
        "function_name": pl.String(),
        "fault": pl.Boolean(),
        "error": pl.Boolean(),
    }
    if attempts.is_empty():
        return pl.DataFrame(schema=event_schema), pl.DataFrame(schema=execution_schema)
    last = pl.col("n") == pl.col("n").max().over("trace_id", "event_id")
    events = attempts.group_by("trace_id", "event_id").agg(
        pl.col("failed").any().alias("any_failed"),
        pl.col("failed").filter(last).any().alias("last_failed"),
        (pl.col("ran") & ~pl.col("failed")).filter(last).all().alias("last_succeeded"),
        pl.col("execution_id").drop_nulls(),
    )
    names = async_event_rows(spans).select(
        "trace_id", pl.col("segment_id").alias("event_id"), "function_name"
    )
    per_event = events.join(names, on=["trace_id", "event_id"], how="inner")
    recovered = (
        per_event.filter(pl.col("last_succeeded"))
        .select("trace_id", pl.col("execution_id").alias("segment_id"))
        .explode("segment_id")
    )
    executions = invocations(spans).join(recovered, on=["trace_id", "segment_id"], how="semi")
    return (
        per_event.select(
            "trace_id",
            "function_name",
            (pl.col("last_succeeded") & pl.col("any_failed")).alias("recovered"),
            pl.col("last_failed").alias("failed"),
        ).cast(pl.Schema(event_schema)),
        executions.select(list(execution_schema)).cast(pl.Schema(execution_schema)),
    )


OUTCOME_COUNT_EXPRS: tuple[dict[str, pl.Expr], dict[str, pl.Expr]] = (
    {
        "recovered_events": pl.col("recovered").sum().cast(pl.Int64),
        "failed_events": pl.col("failed").sum().cast(pl.Int64),
    },
    {
        "recovered_faults": pl.col("fault").sum().cast(pl.Int64),
        "recovered_errors": pl.col("error").sum().cast(pl.Int64),
    },
)
"""The outcome counts of a function over each frame of :func:`event_outcome_rows` (an
aggregation per function; rollups count the same per hour)."""


def event_outcomes(spans: pl.DataFrame) -> pl.DataFrame:
    """Per function: ``recovered_events``, ``failed_events``, ``recovered_faults`` and
    ``recovered_errors`` (see the module docstring); functions without attempts are absent."""
    schema: dict[str, pl.DataType] = {"function_name": pl.String()}
    schema |= {c: pl.Int64() for c in _OUTCOME_COUNTS}
    events, executions = event_outcome_rows(spans)
    if events.is_empty():
        return pl.DataFrame(schema=schema)
    counts, flags = (
        rows.group_by("function_name").agg(*(expr.alias(name) for name, expr in exprs.items()))
        for rows, exprs in zip((events, executions), OUTCOME_COUNT_EXPRS, strict=True)
    )
    table = counts.join(flags, on="function_name", how="full", coalesce=True)
    return shaped(table.with_columns(pl.col(_OUTCOME_COUNTS).fill_null(0)), schema)


@memoized
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
    # NOTE: only the rows named like a part are read (the pattern is matched once per name).
    parts = source.filter(
        (pl.col("kind") == "subsegment")
        & ((pl.col("name") == DWELL_NAME) | text_contains(spans, "name", ATTEMPT_PATTERN))
    ).select(
        "trace_id",
        "segment_id",
        pl.when(pl.col("name") == DWELL_NAME).then("duration_ms").alias("dwell_ms"),
        text("name").str.extract(ATTEMPT_PATTERN, 1).cast(pl.Int64, strict=False).alias("n"),
    )
    parts = parts.filter(pl.col("dwell_ms").is_not_null() | pl.col("n").is_not_null())
    return (
        parts.group_by("trace_id", "segment_id")
        .agg(pl.col("dwell_ms").max(), pl.col("n").max().alias("attempts"))
        .join(service, on=["trace_id", "segment_id"], how="inner")
        .with_columns(pl.col("function_name").cast(pl.String))
        .collect()
    )
