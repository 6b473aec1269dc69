"""Findings about Lambda functions: cold starts, timeouts, failures and throttles."""

from __future__ import annotations

import polars as pl

from analyses.finding_format import (
    Thresholds,
    count,
    evidence,
    finish,
    level,
    num,
    pct,
    severity_of,
)

# Runtimes where Lambda SnapStart is available (Java 11+, Python 3.12+, .NET 8+).
SNAPSTART_RUNTIMES = r"^(java(11|17|21|25)|python3\.1[2-9]|dotnet[89]|dotnet1\d)"

_PROVISIONED_SPILLOVER = (
    "Provisioned concurrency is configured but requests still spill over to on-demand "
    "environments: raise it to cover the peak, or scale it with Application Auto Scaling on "
    "ProvisionedConcurrencyUtilization."
)
_SNAPSTART = (
    "Enable SnapStart on a published version or alias (this runtime supports it) to replace "
    "init with a snapshot restore, or use provisioned concurrency for latency-critical paths."
)
_PROVISION = (
    "Use provisioned concurrency for latency-critical traffic, and shorten init: initialize SDK "
    "clients once outside the handler, lazy-load heavy modules, and trim the deployment package."
)
_PACKAGE = " The deployment package is {} MB: drop unused dependencies to speed up init."

THROTTLE_ADVICE = {
    "reserved_concurrency_zero": (
        "Reserved concurrency is 0, which stops every invocation: remove the setting "
        "(DeleteFunctionConcurrency) or set it above peak concurrency; if the function was "
        "switched off on purpose, stop its callers."
    ),
    "reserved_concurrency_reached": (
        "Raise or remove the function's reserved concurrency (it caps the function at its "
        "peak); buffer bursts through SQS with a maximum concurrency on the event source."
    ),
    "account_concurrency_limit": (
        "The account's concurrency pool is exhausted: request a higher 'Concurrent executions' "
        "quota in Service Quotas, reserve concurrency for critical functions and cap noisy "
        "ones with reserved concurrency."
    ),
    "burst_scaling": (
        "Traffic rose faster than Lambda adds environments: provision concurrency ahead of "
        "known peaks, buffer through SQS, and retry with exponential backoff and jitter."
    ),
    "unknown": (
        "Collect the Throttles and ConcurrentExecutions metrics and the concurrency settings to "
        "find the limit hit; meanwhile retry with exponential backoff and jitter."
    ),
}

DOWNSTREAM_ADVICE = {
    "dynamodb": (
        "Switch the table to on-demand capacity or raise its provisioned RCU/WCU (and look for "
        "a hot partition key); keep the SDK's exponential backoff with jitter."
    ),
    "kinesis": (
        "Add shards (or use on-demand mode) and spread partition keys; back off with jitter on "
        "ProvisionedThroughputExceeded."
    ),
}
_DOWNSTREAM_AWS = (
    "Request a higher quota for this API in Service Quotas, batch or cache calls, and retry "
    "with exponential backoff and jitter."
)
_DOWNSTREAM_REMOTE = (
    "The endpoint rate-limits: limit the request rate client-side, honour Retry-After, and "
    "retry with exponential backoff and jitter."
)


def _cold_advice() -> pl.Expr:
    spillover = (pl.col("provisioned_concurrency").fill_null(0) > 0) & (pl.col("on_demand") > 0)
    snapstart_ok = pl.col("runtime").str.contains(SNAPSTART_RUNTIMES).fill_null(value=False)
    base = (
        pl.when(spillover)
        .then(pl.lit(_PROVISIONED_SPILLOVER))
        .when(snapstart_ok & (pl.col("snapstart") == 0))
        .then(pl.lit(_SNAPSTART))
        .otherwise(pl.lit(_PROVISION))
    )
    package_mb = num(pl.col("code_size_bytes") / 1_000_000, 1)
    package = pl.when(pl.col("code_size_bytes").is_not_null()).then(pl.format(_PACKAGE, package_mb))
    return base + package.otherwise(pl.lit(""))


def cold_start_findings(
    cold: pl.DataFrame, functions: pl.DataFrame | None, t: Thresholds
) -> pl.DataFrame:
    """A user-facing cold-start rate or init p95 above its threshold."""
    config = (
        functions.select("function_name", "runtime", "provisioned_concurrency", "code_size_bytes")
        if functions is not None
        else pl.DataFrame(
            schema={
                "function_name": pl.String(),
                "runtime": pl.String(),
                "provisioned_concurrency": pl.Int32(),
                "code_size_bytes": pl.Int64(),
            }
        )
    )
    rate = pl.when(pl.col("invocations") >= t.min_invocations).then(
        pl.col("user_facing_cold_start_rate")
    )
    large = pl.col("code_size_bytes") >= t.large_package_bytes
    frame = (
        cold.join(config, on="function_name", how="left")
        .with_columns(
            pl.max_horizontal(
                level(rate >= t.cold_start_rate_warning, rate >= t.cold_start_rate_critical),
                level(
                    pl.col("init_p95_ms") >= t.init_p95_warning_ms,
                    pl.col("init_p95_ms") >= t.init_p95_critical_ms,
                ),
            ).alias("level"),
            pl.when(large).then("code_size_bytes").alias("code_size_bytes"),
        )
        .filter(pl.col("level") > 0)
    )
    user_facing = (
        pl.col("on_demand") + pl.col("snapstart") + pl.col("cold_starts_from_logs").fill_null(0)
    )
    from_logs = (
        pl.when(pl.col("cold_starts_from_logs") > 0)
        .then(pl.format(" plus {} seen only in logs", count("cold_starts_from_logs")))
        .otherwise(pl.lit(""))
    )
    message = pl.format(
        "{} user-facing cold starts in {} traced invocations ({}){}; "
        "init p50 {} ms, p95 {} ms, max {} ms.",
        (pl.col("on_demand") + pl.col("snapstart")).cast(pl.String),
        count("invocations"),
        pct("user_facing_cold_start_rate"),
        from_logs,
        num("init_p50_ms"),
        num("init_p95_ms"),
        num("init_max_ms"),
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("cold_start").alias("kind"),
            pl.col("function_name").alias("subject"),
            message.alias("message"),
            evidence(
                "invocations",
                "on_demand",
                "snapstart",
                "provisioned",
                "cold_starts_from_logs",
                "user_facing_cold_start_rate",
                "init_p50_ms",
                "init_p95_ms",
                "init_max_ms",
            ).alias("evidence"),
            _cold_advice().alias("recommendation"),
            pl.col("example_trace_id").alias("trace_id"),
            user_facing.cast(pl.Float64).alias("impact"),
        )
    )


def timeout_findings(cold: pl.DataFrame, t: Thresholds) -> pl.DataFrame:
    """Invocations that ran out of time (REPORT status ``timeout``)."""
    frame = cold.filter(pl.col("timeouts") > 0).with_columns(
        level(pl.lit(value=True), pl.col("timeouts") >= t.timeouts_critical).alias("level")
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("timeout").alias("kind"),
            pl.col("function_name").alias("subject"),
            pl.format("{} invocations timed out (REPORT status timeout).", count("timeouts")).alias(
                "message"
            ),
            evidence("timeouts").alias("evidence"),
            pl.lit(
                "Find what the handler waits on (critical path, downstream calls), set SDK and "
                "HTTP client timeouts below the function's timeout, and raise the timeout only "
                "for work that is legitimately long."
            ).alias("recommendation"),
            pl.lit(None, pl.String()).alias("trace_id"),
            pl.col("timeouts").cast(pl.Float64).alias("impact"),
        )
    )


def failure_findings(functions: pl.DataFrame, t: Thresholds) -> pl.DataFrame:
    """Fault (or error) rates of traced executions above their thresholds."""
    enough = pl.col("invocations") >= t.min_invocations
    fault_rate = pl.col("faults") / pl.col("invocations")
    error_rate = pl.col("errors") / pl.col("invocations")
    frame = (
        functions.filter(enough)
        .with_columns(fault_rate.alias("fault_rate"), error_rate.alias("error_rate"))
        .with_columns(
            pl.max_horizontal(
                level(
                    pl.col("fault_rate") >= t.fault_rate_warning,
                    pl.col("fault_rate") >= t.fault_rate_critical,
                ),
                level(pl.col("error_rate") >= t.error_rate_warning),
            ).alias("level")
        )
        .filter(pl.col("level") > 0)
    )
    message = pl.format(
        "{} faults ({}) and {} errors ({}) in {} traced invocations; duration p95 {} ms.",
        count("faults"),
        pct("fault_rate"),
        count("errors"),
        pct("error_rate"),
        count("invocations"),
        num("duration_p95_ms"),
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("failures").alias("kind"),
            pl.col("function_name").alias("subject"),
            message.alias("message"),
            evidence("invocations", "faults", "errors", "fault_rate", "error_rate").alias(
                "evidence"
            ),
            pl.lit(
                "Open the example trace's exception and fix the failing path; for failures in "
                "downstream calls add timeouts, retries with backoff, and idempotent handlers."
            ).alias("recommendation"),
            pl.col("example_trace_id").alias("trace_id"),
            (pl.col("faults") + pl.col("errors")).cast(pl.Float64).alias("impact"),
        )
    )


def invocation_throttle_findings(throttles: pl.DataFrame) -> pl.DataFrame:
    """Throttled invocations per (target, cause): critical when requests failed for good."""
    grouped = (
        throttles.sort("first_time")
        .group_by("target", "cause")
        .agg(
            pl.col("throttled_attempts").sum(),
            pl.col("throttled_calls").sum(),
            pl.col("recovered_calls").sum(),
            pl.col("source").unique().sort().str.join(", ").alias("sources"),
            pl.col("example_trace_id").first(),
        )
    )
    failed = pl.col("throttled_calls") - pl.col("recovered_calls")
    frame = grouped.with_columns(
        level(
            pl.lit(value=True), (pl.col("cause") == "reserved_concurrency_zero") | (failed > 0)
        ).alias("level"),
        failed.alias("failed_calls"),
    )
    message = pl.format(
        "{} throttled invocation attempts ({} calls, {} recovered by retries) from {}; cause: {}.",
        count("throttled_attempts"),
        count("throttled_calls"),
        count("recovered_calls"),
        pl.col("sources"),
        pl.col("cause"),
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("invocation_throttle").alias("kind"),
            pl.col("target").alias("subject"),
            message.alias("message"),
            evidence(
                "cause", "throttled_attempts", "throttled_calls", "recovered_calls", "failed_calls"
            ).alias("evidence"),
            pl.col("cause")
            .replace_strict(
                THROTTLE_ADVICE, default=THROTTLE_ADVICE["unknown"], return_dtype=pl.String()
            )
            .alias("recommendation"),
            "example_trace_id",
            pl.col("throttled_attempts").cast(pl.Float64).alias("impact"),
        ).rename({"example_trace_id": "trace_id"})
    )


def downstream_throttle_findings(downstream: pl.DataFrame, t: Thresholds) -> pl.DataFrame:
    """Throttled calls to AWS APIs and remote endpoints: critical above a throttle rate."""
    frame = downstream.with_columns(
        level(
            pl.lit(value=True), pl.col("throttle_rate") >= t.downstream_throttle_rate_critical
        ).alias("level")
    )
    target = pl.concat_str("service", "resource", "operation", separator=" ", ignore_nulls=True)
    unknown = pl.col("retries_unknown").fill_null(0)
    retries = (
        pl.when(pl.col("retries").is_null())
        .then(pl.lit("SDK retries unknown (no `retries` field recorded)"))
        .when(unknown > 0)
        .then(
            pl.format(
                "{} SDK retries (unknown for {} calls without a `retries` field)",
                count("retries"),
                count("retries_unknown"),
            )
        )
        .otherwise(pl.format("{} SDK retries", count("retries")))
    )
    message = pl.format(
        "{} of {} calls throttled ({}), {}; exception: {}.",
        count("throttled_calls"),
        count("calls"),
        pct("throttle_rate"),
        retries,
        pl.col("exception_type").fill_null("none recorded (HTTP 429 or throttle flag)"),
    )
    remote = pl.col("namespace") == "remote"
    advice = (
        pl.col("service")
        .str.to_lowercase()
        .replace_strict(DOWNSTREAM_ADVICE, default=None, return_dtype=pl.String())
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("downstream_throttle").alias("kind"),
            pl.format("{} -> {}", "source", target).alias("subject"),
            message.alias("message"),
            evidence(
                "throttled_calls", "calls", "throttle_rate", "retries", "retries_unknown"
            ).alias("evidence"),
            pl.coalesce(
                advice,
                pl.when(remote).then(pl.lit(_DOWNSTREAM_REMOTE)).otherwise(pl.lit(_DOWNSTREAM_AWS)),
            ).alias("recommendation"),
            pl.col("example_trace_id").alias("trace_id"),
            pl.col("throttled_calls").cast(pl.Float64).alias("impact"),
        )
    )
