"""Why a Lambda invocation was throttled, from configuration and concurrency metrics.

The rules, in order, are documented in :mod:`analyses.throttles`. Metrics are matched to an
attempt by flooring both timestamps to ``period_s`` (the GetMetricData period).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracelens.schema import METRIC_SCHEMA, empty_frame

THROTTLE_REASON_RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
THROTTLE_REASON_ACCOUNT = "ConcurrentInvocationLimitExceeded"
ACCOUNT_CONCURRENCY_METRICS = ("ConcurrentExecutions", "ClaimedAccountConcurrency")
UNRESERVED_METRIC = "UnreservedConcurrentExecutions"
CAUSES = (
    "reserved_concurrency_zero",
    "reserved_concurrency_reached",
    "account_concurrency_limit",
    "burst_scaling",
    "unknown",
)


@dataclass(frozen=True)
class CauseSettings:
    """Thresholds of the cause rules (see :mod:`analyses.throttles`)."""

    period_s: int = 60
    limit_reached_fraction: float = 1.0
    burst_step_ratio: float = 2.0
    account_concurrency_limit: int | None = None
    unreserved_concurrency_limit: int | None = None


def _reservations(functions: pl.DataFrame | None) -> pl.DataFrame:
    if functions is None:
        return pl.DataFrame(schema={"target": pl.String(), "reserved_concurrency": pl.Int32()})
    return (
        functions.select(pl.col("function_name").alias("target"), "reserved_concurrency")
        .drop_nulls("target")
        .unique("target", keep="first")
    )


def _unreserved_pool(functions: pl.DataFrame | None, settings: CauseSettings) -> int | None:
    if settings.unreserved_concurrency_limit is not None:
        return settings.unreserved_concurrency_limit
    if settings.account_concurrency_limit is None or functions is None:
        return None
    reserved = functions.select(pl.col("reserved_concurrency").clip(lower_bound=0).sum()).item()
    return settings.account_concurrency_limit - int(reserved or 0)


def _maxima(metrics: pl.DataFrame | None, settings: CauseSettings) -> pl.DataFrame:
    if metrics is None:
        metrics = empty_frame(METRIC_SCHEMA)
    return metrics.filter(pl.col("stat") == "Maximum").with_columns(
        pl.col("timestamp").dt.truncate(f"{settings.period_s}s").alias("_period")
    )


def _function_concurrency(maxima: pl.DataFrame, settings: CauseSettings) -> pl.DataFrame:
    """Per target and period: the function's maximum and the previous period's."""
    per_fn = (
        maxima.filter(
            pl.col("function_name").is_not_null() & (pl.col("metric") == "ConcurrentExecutions")
        )
        .group_by(pl.col("function_name").alias("target"), "_period")
        .agg(pl.col("value").max().alias("fn_conc"))
    )
    previous = per_fn.select(
        "target",
        (pl.col("_period") + pl.duration(seconds=settings.period_s)).alias("_period"),
        pl.col("fn_conc").alias("prev_conc"),
    )
    return per_fn.join(previous, on=["target", "_period"], how="left")


def _account_concurrency(maxima: pl.DataFrame) -> pl.DataFrame:
    """Per period: the account's concurrency maximum and its unreserved-pool maximum."""
    account = maxima.filter(pl.col("function_name").is_null())
    return account.group_by("_period").agg(
        pl.col("value")
        .filter(pl.col("metric").is_in(ACCOUNT_CONCURRENCY_METRICS))
        .max()
        .alias("acct_conc"),
        pl.col("value")
        .filter(pl.col("metric") == UNRESERVED_METRIC)
        .max()
        .alias("unreserved_conc"),
    )


def _cause_expr(settings: CauseSettings, unreserved_pool: int | None) -> pl.Expr:
    frac = settings.limit_reached_fraction
    reserved = pl.col("reserved_concurrency")
    message = pl.col("message").fill_null("")
    account_limit = settings.account_concurrency_limit
    account_reached = pl.lit(value=False)
    if account_limit is not None:
        account_reached = account_reached | (pl.col("acct_conc") >= account_limit * frac)
    if unreserved_pool is not None:
        account_reached = account_reached | (pl.col("unreserved_conc") >= unreserved_pool * frac)
    stepped = pl.col("fn_conc") >= settings.burst_step_ratio * pl.col("prev_conc").fill_null(0.0)
    return (
        pl.when(reserved == 0)
        .then(pl.lit("reserved_concurrency_zero"))
        .when(message.str.contains(THROTTLE_REASON_RESERVED, literal=True))
        .then(pl.lit("reserved_concurrency_reached"))
        .when(message.str.contains(THROTTLE_REASON_ACCOUNT, literal=True))
        .then(pl.lit("account_concurrency_limit"))
        .when((reserved > 0) & (pl.col("fn_conc") >= reserved * frac))
        .then(pl.lit("reserved_concurrency_reached"))
        .when(reserved.is_null() & account_reached.fill_null(value=False))
        .then(pl.lit("account_concurrency_limit"))
        .when((pl.col("fn_conc") > 0) & stepped)
        .then(pl.lit("burst_scaling"))
        .otherwise(pl.lit("unknown"))
    )


def with_causes(
    attempts: pl.DataFrame,
    *,
    metrics: pl.DataFrame | None,
    functions: pl.DataFrame | None,
    settings: CauseSettings,
) -> pl.DataFrame:
    """``attempts`` (target, time, message, ...) plus a ``cause`` column."""
    keyed = attempts.with_columns(
        pl.col("time").dt.truncate(f"{settings.period_s}s").alias("_period")
    )
    maxima = _maxima(metrics, settings)
    joined = (
        keyed.join(_reservations(functions), on="target", how="left")
        .join(_function_concurrency(maxima, settings), on=["target", "_period"], how="left")
        .join(_account_concurrency(maxima), on="_period", how="left")
    )
    cause = _cause_expr(settings, _unreserved_pool(functions, settings))
    return joined.with_columns(cause.alias("cause")).select([*attempts.columns, "cause"])
