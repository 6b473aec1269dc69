"""Over time: per minute, per entry point and per function.

Entry points (from :func:`analyses.entry_points.entry_traces`): requests, errors, faults,
throttled requests, requests that waited for a cold start, and latency percentiles of the
completed ones, by the minute the request started.

Functions (from :func:`analyses.invocations.invocations` and
:func:`analyses.throttles.throttled_attempts`): traced executions, errors, faults, user-facing
cold starts, duration percentiles, and throttled invocation attempts; with CloudWatch metrics,
the ``Invocations``, ``Errors`` and ``Throttles`` sums of the same minute beside them (a
datapoint counts in the minute of its timestamp, so a 5-minute period lands in its first
minute). Without metrics those columns are null: unknown, not zero.
"""

from __future__ import annotations

import polars as pl

from analyses._output import check_inputs, shaped
from analyses.entry_points import USER_FACING_COLD

ENTRY_TIMELINE_SCHEMA: dict[str, pl.DataType] = {
    "minute": pl.Datetime("us", "UTC"),
    "entry": pl.String(),
    "entry_type": pl.String(),  # entry points are keyed by name and type (entry_points)
    "requests": pl.Int64(),
    "errors": pl.Int64(),
    "faults": pl.Int64(),
    "throttled": pl.Int64(),
    "cold_starts": pl.Int64(),  # requests that may have waited for a cold start
    "error_rate": pl.Float64(),  # (errors + faults) / requests
    "p50_ms": pl.Float64(),
    "p95_ms": pl.Float64(),
    "p99_ms": pl.Float64(),
}

FUNCTION_TIMELINE_SCHEMA: dict[str, pl.DataType] = {
    "minute": pl.Datetime("us", "UTC"),
    "function_name": pl.String(),
    "invocations": pl.Int64(),  # traced executions
    "errors": pl.Int64(),
    "faults": pl.Int64(),
    "throttled": pl.Int64(),  # traced throttled invocation attempts
    "cold_starts": pl.Int64(),  # traced user-facing cold starts (on demand, SnapStart)
    "error_rate": pl.Float64(),  # (errors + faults) / invocations
    "p50_ms": pl.Float64(),
    "p95_ms": pl.Float64(),
    "p99_ms": pl.Float64(),
    "cw_invocations": pl.Float64(),  # CloudWatch sums; null without metrics
    "cw_errors": pl.Float64(),
    "cw_throttles": pl.Float64(),
}

_CLOUDWATCH = {"Invocations": "cw_invocations", "Errors": "cw_errors", "Throttles": "cw_throttles"}


def _percentiles(column: str) -> list[pl.Expr]:
    return [
        pl.col(column).quantile(q, interpolation="linear").alias(f"p{int(q * 100)}_ms")
        for q in (0.50, 0.95, 0.99)
    ]


def entry_timeline(traces: pl.DataFrame, *, bucket_s: int = 60) -> pl.DataFrame:
    """Per minute and entry point (``ENTRY_TIMELINE_SCHEMA``), ordered by minute, entry and
    type."""
    every = f"{bucket_s}s"
    grouped = (
        traces.filter(pl.col("start_time").is_not_null())
        .group_by(pl.col("start_time").dt.truncate(every).alias("minute"), "entry", "entry_type")
        .agg(
            pl.len().cast(pl.Int64).alias("requests"),
            pl.col("error").sum().cast(pl.Int64).alias("errors"),
            pl.col("fault").sum().cast(pl.Int64).alias("faults"),
            pl.col("met_throttle").sum().cast(pl.Int64).alias("throttled"),
            pl.col("cold_start").sum().cast(pl.Int64).alias("cold_starts"),
            *_percentiles("duration_ms"),
        )
        .with_columns(
            ((pl.col("errors") + pl.col("faults")) / pl.col("requests")).alias("error_rate")
        )
    )
    return shaped(grouped, ENTRY_TIMELINE_SCHEMA).sort("minute", "entry", "entry_type")


def function_timeline(
    invocation_rows: pl.DataFrame,
    throttled: pl.DataFrame,
    *,
    metrics: pl.DataFrame | None = None,
    bucket_s: int = 60,
) -> pl.DataFrame:
    """Per minute and function (``FUNCTION_TIMELINE_SCHEMA``), ordered by minute and function.

    Parameters
    ----------
    invocation_rows
        ``analyses.invocations.invocations(spans)``.
    throttled
        ``analyses.throttles.throttled_attempts(spans)`` (``time``, ``target``, ``attempts``).
    metrics
        CloudWatch metrics (``METRIC_SCHEMA``), or None when not given.
    """
    check_inputs(metrics=metrics)
    every = f"{bucket_s}s"
    keys = ["minute", "function_name"]
    traced = (
        invocation_rows.filter(pl.col("start_time").is_not_null())
        .group_by(pl.col("start_time").dt.truncate(every).alias("minute"), "function_name")
        .agg(
            pl.len().cast(pl.Int64).alias("invocations"),
            pl.col("error").fill_null(value=False).sum().cast(pl.Int64).alias("errors"),
            pl.col("fault").fill_null(value=False).sum().cast(pl.Int64).alias("faults"),
            pl.col("cold_kind").is_in(USER_FACING_COLD).sum().cast(pl.Int64).alias("cold_starts"),
            *_percentiles("duration_ms"),
        )
    )
    refused = (
        throttled.filter(pl.col("time").is_not_null() & pl.col("target").is_not_null())
        .group_by(
            pl.col("time").dt.truncate(every).alias("minute"),
            pl.col("target").alias("function_name"),
        )
        .agg(pl.col("attempts").sum().cast(pl.Int64).alias("throttled"))
    )
    joined = traced.join(refused, on=keys, how="full", coalesce=True)
    if metrics is not None:
        sums = (
            metrics.filter(
                pl.col("metric").is_in(list(_CLOUDWATCH))
                & (pl.col("stat") == "Sum")
                & pl.col("function_name").is_not_null()
            )
            .group_by(pl.col("timestamp").dt.truncate(every).alias("minute"), "function_name")
            .agg(
                pl.col("value").filter(pl.col("metric") == metric).sum().alias(column)
                for metric, column in _CLOUDWATCH.items()
            )
        )
        # NOTE: CloudWatch leaves out a minute without data, so a missing minute is 0 for a
        # function the metrics cover, and unknown (null) for one they do not.
        covered = {
            column: metrics.filter(pl.col("metric") == metric)
            .get_column("function_name")
            .drop_nulls()
            .unique()
            .implode()
            for metric, column in _CLOUDWATCH.items()
        }
        joined = joined.join(sums, on=keys, how="full", coalesce=True).with_columns(
            pl.when(pl.col("function_name").is_in(names))
            .then(pl.col(column).fill_null(0.0))
            .alias(column)
            for column, names in covered.items()
        )
    else:
        joined = joined.with_columns(
            pl.lit(None, pl.Float64).alias(column) for column in _CLOUDWATCH.values()
        )
    counts = ["invocations", "errors", "faults", "throttled", "cold_starts"]
    filled = joined.with_columns(pl.col(c).fill_null(0) for c in counts).with_columns(
        pl.when(pl.col("invocations") > 0)
        .then((pl.col("errors") + pl.col("faults")) / pl.col("invocations"))
        .alias("error_rate")
    )
    return shaped(filled, FUNCTION_TIMELINE_SCHEMA).sort(keys)
