"""True totals per function from CloudWatch metrics, next to the sampled trace view.

Traces are sampled (Lambda keeps 1 request a second and 5% of the rest by default), so counts
from traces are a sample; the AWS/Lambda metrics count every invocation. Per function:

* ``metric_invocations``, ``metric_errors``, ``metric_throttles``: the sums of the
  ``Invocations``, ``Errors`` and ``Throttles`` datapoints with statistic ``Sum`` (null when
  the metric was not given: unknown, not zero);
* ``metric_duration_p50_ms`` / ``_p95_ms`` / ``_p99_ms``: the highest value of the
  ``Duration`` ``p50``/``p95``/``p99`` datapoints over the periods given. Percentiles of
  separate periods cannot be merged into one; the worst period is what a user met;
* ``traced_invocations`` and ``sampling_ratio`` = traced / ``metric_invocations`` (null when
  the metric is unknown or zero): the share of invocations the trace view stands for.
"""

from __future__ import annotations

import polars as pl

from analyses._output import check_inputs, shaped
from tracelens.schema import empty_frame

METRIC_TOTALS_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),
    "metric_invocations": pl.Int64(),
    "metric_errors": pl.Int64(),
    "metric_throttles": pl.Int64(),
    "metric_duration_p50_ms": pl.Float64(),  # highest period value
    "metric_duration_p95_ms": pl.Float64(),
    "metric_duration_p99_ms": pl.Float64(),
    "traced_invocations": pl.Int64(),
    "sampling_ratio": pl.Float64(),  # traced_invocations / metric_invocations
}

_SUMS = {
    "Invocations": "metric_invocations",
    "Errors": "metric_errors",
    "Throttles": "metric_throttles",
}
_PERCENTILES = {
    "p50": "metric_duration_p50_ms",
    "p95": "metric_duration_p95_ms",
    "p99": "metric_duration_p99_ms",
}


def metric_totals(metrics: pl.DataFrame | None, invocations: pl.DataFrame) -> pl.DataFrame:
    """Per function with metrics: CloudWatch totals and the traces' sampling ratio.

    Parameters
    ----------
    metrics
        GetMetricData datapoints (``METRIC_SCHEMA``), or None when not given.
    invocations
        ``analyses.invocations.invocations`` (traced executions; only ``function_name`` read).

    Returns
    -------
    pl.DataFrame
        ``METRIC_TOTALS_SCHEMA``, one row per function named in the metrics, by name; empty
        without metrics.
    """
    if metrics is None:
        return empty_frame(METRIC_TOTALS_SCHEMA)
    check_inputs(metrics=metrics)
    per_function = metrics.filter(pl.col("function_name").is_not_null())
    if per_function.is_empty():
        return empty_frame(METRIC_TOTALS_SCHEMA)
    sums = [
        pl.col("value")
        .filter((pl.col("metric") == metric) & (pl.col("stat") == "Sum"))
        .sum()
        .round()
        .cast(pl.Int64)
        .alias(name)
        for metric, name in _SUMS.items()
    ]
    given = [
        ((pl.col("metric") == metric) & (pl.col("stat") == "Sum")).any().alias(f"has_{name}")
        for metric, name in _SUMS.items()
    ]
    peaks = [
        pl.col("value")
        .filter((pl.col("metric") == "Duration") & (pl.col("stat") == stat))
        .max()
        .alias(name)
        for stat, name in _PERCENTILES.items()
    ]
    table = per_function.group_by("function_name").agg(*sums, *given, *peaks)
    # NOTE: a metric that was not given is unknown, not zero.
    table = table.with_columns(
        pl.when(pl.col(f"has_{name}")).then(pl.col(name)).alias(name) for name in _SUMS.values()
    )
    traced = invocations.group_by("function_name").agg(
        pl.len().cast(pl.Int64).alias("traced_invocations")
    )
    table = table.join(traced, on="function_name", how="left").with_columns(
        pl.col("traced_invocations").fill_null(0)
    )
    table = table.with_columns(
        pl.when(pl.col("metric_invocations") > 0)
        .then(pl.col("traced_invocations") / pl.col("metric_invocations"))
        .alias("sampling_ratio")
    )
    return shaped(table, METRIC_TOTALS_SCHEMA).sort("function_name")
