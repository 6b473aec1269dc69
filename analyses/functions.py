"""The per-function summary table: traffic, failures, throttles, cold starts, latency, config."""

from __future__ import annotations

import polars as pl

from analyses._output import check_inputs, shaped
from analyses.cold_starts import cold_starts
from analyses.invocations import DEFAULT_PROVISIONED_GAP_MS, invocations
from analyses.throttles import throttled_attempts
from tracelens.schema import empty_frame

FUNCTION_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),
    "invocations": pl.Int64(),  # traced executions
    "errors": pl.Int64(),  # executions flagged error (4xx-like, e.g. handled failures)
    "faults": pl.Int64(),  # executions flagged fault (unhandled errors, timeouts)
    "throttled": pl.Int64(),  # throttled invocation attempts (they never ran)
    # Throttled calls that record no `retries` field: their attempts are unknown, so
    # `throttled` is a lower bound ("at least") when this is above 0.
    "throttled_retries_unknown": pl.Int64(),
    "cold_starts": pl.Int64(),  # as analyses.cold_starts counts them (any kind)
    "timeouts": pl.Int64(),  # REPORT status "timeout"; null (unknown) without REPORTs
    "duration_p50_ms": pl.Float64(),  # completed executions only
    "duration_p95_ms": pl.Float64(),
    "duration_p99_ms": pl.Float64(),
    "memory_size_mb": pl.Int32(),  # configuration, else the REPORTs' Memory Size
    "max_memory_used_mb": pl.Int32(),  # the REPORTs' largest Max Memory Used
    "vpc_attached": pl.Boolean(),
    "runtime": pl.String(),
    "code_size_bytes": pl.Int64(),
    "reserved_concurrency": pl.Int32(),
    "provisioned_concurrency": pl.Int32(),
    "example_trace_id": pl.String(),  # the first faulted execution, else the first errored one
}

_CONFIG_COLUMNS = (
    "memory_size_mb",
    "vpc_attached",
    "runtime",
    "code_size_bytes",
    "reserved_concurrency",
    "provisioned_concurrency",
)


def _execution_stats(inv: pl.DataFrame) -> pl.DataFrame:
    duration = pl.col("duration_ms")
    return inv.group_by("function_name").agg(
        pl.len().alias("invocations"),
        pl.col("error").sum().alias("errors"),
        pl.col("fault").sum().alias("faults"),
        duration.quantile(0.50, interpolation="linear").alias("duration_p50_ms"),
        duration.quantile(0.95, interpolation="linear").alias("duration_p95_ms"),
        duration.quantile(0.99, interpolation="linear").alias("duration_p99_ms"),
        pl.coalesce(
            pl.col("trace_id").filter("fault").first(),
            pl.col("trace_id").filter("error").first(),
        ).alias("example_trace_id"),
    )


def _report_memory(reports: pl.DataFrame | None) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "function_name": pl.String(),
        "report_memory_mb": pl.Int32(),
        "max_memory_used_mb": pl.Int32(),
    }
    if reports is None:
        return pl.DataFrame(schema=schema)
    memory = (
        reports.drop_nulls("function_name")
        .group_by("function_name")
        .agg(
            pl.col("memory_size_mb").max().alias("report_memory_mb"),
            pl.col("max_memory_used_mb").max(),
        )
    )
    return shaped(memory, schema)


def _config(functions: pl.DataFrame | None) -> pl.DataFrame:
    if functions is None:
        return pl.DataFrame(
            schema={"function_name": pl.String()}
            | {name: FUNCTION_TABLE_SCHEMA[name] for name in _CONFIG_COLUMNS}
        )
    return functions.select("function_name", *_CONFIG_COLUMNS).unique("function_name", keep="first")


def function_table(
    spans: pl.DataFrame,
    *,
    reports: pl.DataFrame | None = None,
    functions: pl.DataFrame | None = None,
    provisioned_gap_ms: float = DEFAULT_PROVISIONED_GAP_MS,
) -> pl.DataFrame:
    """One row per function seen in traces (executions or throttles) or in REPORTs.

    Parameters
    ----------
    reports
        Optional REPORT records (``REPORT_SCHEMA``): cold starts, timeouts and memory.
    functions
        Optional configuration (``FUNCTION_SCHEMA``); functions only listed there (no traffic
        seen) are left out.
    provisioned_gap_ms
        See :func:`analyses.invocations.invocations`.

    Returns
    -------
    pl.DataFrame
        ``FUNCTION_TABLE_SCHEMA``, busiest function first.
    """
    check_inputs(reports=reports, functions=functions)
    inv = invocations(spans, provisioned_gap_ms=provisioned_gap_ms)
    colds = cold_starts(spans, reports=reports, provisioned_gap_ms=provisioned_gap_ms).select(
        "function_name", "cold_starts", "timeouts"
    )
    throttled = (
        throttled_attempts(spans)
        .group_by(pl.col("target").alias("function_name"))
        .agg(
            pl.col("attempts").sum().alias("throttled"),
            pl.col("attempts_unknown").sum().cast(pl.Int64).alias("throttled_retries_unknown"),
        )
    )
    names = pl.concat(
        [
            inv.select("function_name"),
            colds.select("function_name"),
            throttled.select("function_name"),
        ]
    ).drop_nulls()
    if names.is_empty():
        return empty_frame(FUNCTION_TABLE_SCHEMA)
    table = (
        names.unique()
        .join(_execution_stats(inv), on="function_name", how="left")
        .join(throttled, on="function_name", how="left")
        .join(colds, on="function_name", how="left")
        .join(_report_memory(reports), on="function_name", how="left")
        .join(_config(functions), on="function_name", how="left")
    )
    counts = [
        "invocations",
        "errors",
        "faults",
        "throttled",
        "throttled_retries_unknown",
        "cold_starts",
    ]
    # NOTE: timeouts come from REPORT records: without them they are unknown, not 0.
    if reports is not None:
        counts.append("timeouts")
    table = table.with_columns(
        pl.col(counts).fill_null(0),
        pl.coalesce("memory_size_mb", "report_memory_mb").alias("memory_size_mb"),
    )
    return shaped(table, FUNCTION_TABLE_SCHEMA).sort(
        ["invocations", "function_name"], descending=[True, False]
    )
