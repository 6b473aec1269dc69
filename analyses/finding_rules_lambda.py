"""Findings about Lambda functions: cold starts, timeouts, failures and throttles."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from analyses.finding_format import (
    Thresholds,
    count,
    finding_rows,
    level,
    num,
    pct,
    share_of,
)
from tracelens.schema import FUNCTION_SCHEMA, empty_frame

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
_OFF_PATH = (
    "No caller waited for these inits; act only if how soon the events are processed matters "
    "(then shorten init: lazy-load heavy modules, trim the package)."
)
_PACKAGE = " The deployment package is {} MB: drop unused dependencies to speed up init."
# The configuration a cold-start finding reads (tracelens.schema.FUNCTION_SCHEMA).
_CONFIG_COLUMNS = ("function_name", "runtime", "provisioned_concurrency", "code_size_bytes")
_TIMEOUT_ADVICE = (
    "Find what the handler waits on (critical path, downstream calls), set SDK and HTTP client "
    "timeouts below the function's timeout, and raise the timeout only for work that is "
    "legitimately long."
)
# The numbers behind each finding (its ``evidence``), in the order they are shown.
_COLD_EVIDENCE = (
    "invocations",
    "sync_invocations",
    "user_facing_cold_starts",
    "off_path_cold_starts",
    "on_demand",
    "snapstart",
    "provisioned",
    "cold_starts_from_logs",
    "user_facing_cold_start_rate",
    "init_p50_ms",
    "init_p95_ms",
    "init_max_ms",
)
_ASYNC_EVIDENCE = (
    "events",
    "events_with_attempts",
    "attempts",
    "retried_events",
    "max_attempt",
    "retried_share",
    "event_age_p50_ms",
    "event_age_p95_ms",
    "event_age_max_ms",
)
_FAILURE_EVIDENCE = (
    "invocations",
    "faults",
    "errors",
    "fault_rate",
    "error_rate",
    "recovered_failures",
    "recovered_events",
)
_INVOCATION_THROTTLE_EVIDENCE = (
    "cause",
    "throttled_attempts",
    "retries_unknown",
    "throttled_calls",
    "recovered_calls",
    "failed_calls",
    "calls",
    "failed_share",
)

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
    """A user-facing cold-start rate or init p95 above its threshold; cold starts nobody
    waited for (asynchronous, invoked by a queue's event source mapping, or after the entry
    answered) at most as ``info``."""
    config = (
        functions.select(_CONFIG_COLUMNS)
        if functions is not None
        else empty_frame({c: FUNCTION_SCHEMA[c] for c in _CONFIG_COLUMNS})
    )
    rate = pl.when(pl.col("sync_invocations") >= t.min_invocations).then(
        pl.col("user_facing_cold_start_rate")
    )
    off_rate = pl.when(pl.col("invocations") >= t.min_invocations).then(
        pl.col("off_path_cold_starts") / pl.col("invocations")
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
            (off_rate >= t.cold_start_rate_warning).fill_null(value=False).alias("off_path"),
            pl.when(large).then("code_size_bytes").alias("code_size_bytes"),
        )
        .filter((pl.col("level") > 0) | pl.col("off_path"))
    )
    from_logs = (
        pl.when(pl.col("cold_starts_from_logs") > 0)
        .then(pl.format(" plus {} seen only in logs", count("cold_starts_from_logs")))
        .otherwise(pl.lit(""))
    )
    off_path = (
        pl.when(pl.col("off_path_cold_starts") > 0)
        .then(
            pl.format(
                " {} more cold starts were of asynchronous or queue-triggered invocations or "
                "ran after the entry answered (no caller waited).",
                count("off_path_cold_starts"),
            )
        )
        .otherwise(pl.lit(""))
    )
    user_message = pl.format(
        "{} user-facing cold starts in {} traced synchronous invocations ({}){}; "
        "init p50 {} ms, p95 {} ms, max {} ms.{}",
        count("user_facing_cold_starts"),
        count("sync_invocations"),
        pct("user_facing_cold_start_rate"),
        from_logs,
        num("init_p50_ms"),
        num("init_p95_ms"),
        num("init_max_ms"),
        off_path,
    )
    off_message = pl.format(
        "{} cold starts in {} traced invocations, none user-facing: the invocations were "
        "asynchronous, invoked by a queue's event source mapping, or ran after the entry "
        "request had answered (no caller waited).",
        count("off_path_cold_starts"),
        count("invocations"),
    )
    user = pl.col("level") > 0
    user_affected = pl.col("user_facing_cold_starts") + pl.col("cold_starts_from_logs").fill_null(0)
    return finding_rows(
        frame,
        "cold_start",
        subject="function_name",
        message=pl.when(user).then(user_message).otherwise(off_message),
        evidence_of=_COLD_EVIDENCE,
        recommendation=pl.when(user).then(_cold_advice()).otherwise(pl.lit(_OFF_PATH)),
        affected=pl.when(user).then(user_affected).otherwise(pl.col("off_path_cold_starts")),
        share=pl.when(user)
        .then(pl.col("user_facing_cold_start_rate"))
        .otherwise(share_of("off_path_cold_starts", "invocations")),
    )


def async_findings(events: pl.DataFrame, t: Thresholds) -> pl.DataFrame:
    """Asynchronous events retried (their first attempt failed) or waiting long in the queue."""
    retried = pl.col("retried_share") >= t.async_retry_share_warning
    slow = pl.col("event_age_p95_ms") >= t.event_age_p95_warning_ms
    frame = events.with_columns(level(retried | slow).alias("level")).filter(pl.col("level") > 0)
    message = pl.format(
        "{} of {} asynchronous events needed a retry (up to attempt #{}, {} attempts in all); "
        "event age (Dwell Time) p50 {} ms, p95 {} ms, max {} ms.",
        count("retried_events"),
        count("events_with_attempts"),
        pl.col("max_attempt").cast(pl.String).fill_null("unknown"),
        count("attempts"),
        num("event_age_p50_ms"),
        num("event_age_p95_ms"),
        num("event_age_max_ms"),
    )
    advice = (
        "A retried event ran the function again: open a retried event's first attempt (the "
        "example trace, where one is named) for its error, make the handler idempotent, and "
        "configure an on-failure destination or dead-letter queue; a long event age means the "
        "function cannot keep up (raise its concurrency, or look for throttles)."
    )
    was_retried = retried.fill_null(value=False)
    return finding_rows(
        frame,
        "async_events",
        subject="function_name",
        message=message,
        evidence_of=_ASYNC_EVIDENCE,
        recommendation=advice,
        affected=pl.when(was_retried).then(pl.col("retried_events")).otherwise(pl.col("events")),
        share=pl.when(was_retried)
        .then(pl.col("retried_share"))
        .otherwise(pl.lit(None, pl.Float64())),
    )


def timeout_findings(cold: pl.DataFrame, t: Thresholds) -> pl.DataFrame:
    """Invocations that ran out of time (REPORT status ``timeout``): critical from a share of
    the function's invocations (its REPORTs, or its traced invocations when more)."""
    whole = pl.max_horizontal("reported_invocations", "invocations")
    frame = cold.filter(pl.col("timeouts") > 0).with_columns(
        share_of("timeouts", whole).alias("timeout_share"), whole.alias("whole")
    )
    frame = frame.with_columns(
        level(pl.lit(value=True), pl.col("timeout_share") >= t.timeout_share_critical).alias(
            "level"
        )
    )
    message = pl.format(
        "{} invocations timed out (REPORT status timeout): {} of the function's {} "
        "invocations in the logs and traces.",
        count("timeouts"),
        pct("timeout_share"),
        count("whole"),
    )
    return finding_rows(
        frame,
        "timeout",
        subject="function_name",
        message=message,
        evidence_of=("timeouts", "reported_invocations", "invocations", "timeout_share"),
        recommendation=_TIMEOUT_ADVICE,
        trace_id="timeout_trace_id",
        affected="timeouts",
        share="timeout_share",
    )


_FAILURE_ADVICE = (
    "Open the example trace's exception and fix the failing path; for failures in "
    "downstream calls add timeouts, retries with backoff, and idempotent handlers."
)
_RECOVERED_ADVICE = (
    "Lambda's retries absorbed these failures, but every retry ran the handler again: make it "
    "idempotent, find the transient cause in the example trace's failed attempt, and keep an "
    "on-failure destination or dead-letter queue for events that exhaust their retries."
)
_RECOVERY_COLUMNS = ("recovered_faults", "recovered_errors", "recovered_events")


def failure_findings(
    functions: pl.DataFrame, t: Thresholds, async_events: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Fault (or error) rates of traced executions above their thresholds.

    With ``async_events`` (``analyses.async_events.ASYNC_SCHEMA``), failed attempts of
    asynchronous events that eventually succeeded on Lambda's retries are told apart: they
    were not failures anyone saw. The severity follows the failures that were not recovered;
    recovered ones lower it by one step (critical to warning, warning to info), so a function
    whose every failed attempt was retried into a success is at most a warning, and failures
    that were never recovered (synchronous ones, events whose last attempt failed) weigh as
    before. The counts in the message stay the traced ones.
    """
    recovery = (
        async_events.select("function_name", *_RECOVERY_COLUMNS)
        if async_events is not None
        else pl.DataFrame(
            schema={"function_name": pl.String()} | {c: pl.Int64() for c in _RECOVERY_COLUMNS}
        )
    )
    enough = pl.col("invocations") >= t.min_invocations
    fault_rate = pl.col("faults") / pl.col("invocations")
    error_rate = pl.col("errors") / pl.col("invocations")
    final_fault_rate = (pl.col("faults") - pl.col("recovered_faults")) / pl.col("invocations")
    final_error_rate = (pl.col("errors") - pl.col("recovered_errors")) / pl.col("invocations")

    def level_of(faults: pl.Expr, errors: pl.Expr) -> pl.Expr:
        return pl.max_horizontal(
            level(faults >= t.fault_rate_warning, faults >= t.fault_rate_critical),
            level(errors >= t.error_rate_warning),
        )

    frame = (
        functions.filter(enough)
        .join(recovery, on="function_name", how="left")
        .with_columns(pl.col(_RECOVERY_COLUMNS).fill_null(0))
        .with_columns(
            fault_rate.alias("fault_rate"),
            error_rate.alias("error_rate"),
            (pl.col("recovered_faults") + pl.col("recovered_errors")).alias("recovered_failures"),
            level_of(fault_rate, error_rate).alias("raw_level"),
            level_of(final_fault_rate, final_error_rate).alias("final_level"),
        )
        .with_columns(
            pl.max_horizontal("final_level", pl.col("raw_level") - 1).alias("level"),
            (pl.col("faults") + pl.col("errors") - pl.col("recovered_failures")).alias("final"),
        )
        .filter(pl.col("raw_level") > 0)
    )
    counts = pl.format(
        "{} faults ({}) and {} errors ({}) in {} traced invocations",
        count("faults"),
        pct("fault_rate"),
        count("errors"),
        pct("error_rate"),
        count("invocations"),
    )
    all_recovered = (pl.col("final") <= 0) & (pl.col("recovered_failures") > 0)
    recovered = (
        pl.when(all_recovered)
        .then(
            pl.format(
                "{} attempts failed, all events eventually succeeded ({} events, on Lambda's "
                "retries): ",
                count("recovered_failures"),
                count("recovered_events"),
            )
        )
        .otherwise(pl.lit(""))
    )
    partly = (
        pl.when(~all_recovered & (pl.col("recovered_failures") > 0))
        .then(
            pl.format(
                " Lambda's retries recovered {} of these failures (attempts of events that "
                "eventually succeeded); {} were not recovered.",
                count("recovered_failures"),
                count("final"),
            )
        )
        .otherwise(pl.lit(""))
    )
    message = pl.format(
        "{}{}; duration p95 {} ms.{}", recovered, counts, num("duration_p95_ms"), partly
    )
    advice = (
        pl.when(all_recovered).then(pl.lit(_RECOVERED_ADVICE)).otherwise(pl.lit(_FAILURE_ADVICE))
    )
    failed = pl.col("faults") + pl.col("errors")
    return finding_rows(
        frame,
        "failures",
        subject="function_name",
        message=message,
        evidence_of=_FAILURE_EVIDENCE,
        recommendation=advice,
        affected=failed,
        share=share_of(failed, "invocations"),
    )


def invocation_throttle_findings(
    throttles: pl.DataFrame,
    functions: pl.DataFrame | None,
    t: Thresholds,
    advice_by_cause: Mapping[str, str] = THROTTLE_ADVICE,
) -> pl.DataFrame:
    """Throttled invocations per (target, cause): critical when the function refuses every
    call (reserved concurrency 0), or when calls that failed for good are a large share of the
    calls to it (its traced invocations plus the calls that never ran)."""
    grouped = (
        throttles.sort("first_time")
        .group_by("target", "cause")
        .agg(
            pl.col("throttled_attempts").sum(),
            pl.col("throttled_calls").sum(),
            pl.col("recovered_calls").sum(),
            pl.col("retries_unknown").sum(),
            pl.col("source").unique().sort().str.join(", ").alias("sources"),
            pl.col("example_trace_id").first(),
        )
    )
    # NOTE: no traced invocation of the target (it is not traced, or named otherwise, say by
    # ARN) leaves its traced invocations unknown, not 0: its failed calls are then no share of
    # anything (calling them 100% of the calls made a false critical).
    traced = pl.when(pl.col("invocations") > 0).then(pl.col("invocations"))
    ran = (
        functions.select(pl.col("function_name").alias("target"), traced.alias("invocations"))
        if functions is not None
        else pl.DataFrame(schema={"target": pl.String(), "invocations": pl.Int64()})
    )
    failed = pl.col("throttled_calls") - pl.col("recovered_calls")
    frame = grouped.join(ran, on="target", how="left").with_columns(
        failed.alias("failed_calls"),
        (pl.col("invocations") + failed).alias("calls"),
    )
    frame = frame.with_columns(share_of("failed_calls", "calls").alias("failed_share"))
    frame = frame.with_columns(
        level(
            pl.lit(value=True),
            (pl.col("cause") == "reserved_concurrency_zero")
            | (pl.col("failed_share") >= t.throttle_failed_share_critical),
        ).alias("level"),
    )
    # NOTE: a throttled call without a `retries` field may have tried more often: its count
    # is a lower bound, said "at least" (unknown is not zero).
    at_least = (
        pl.when(pl.col("retries_unknown") > 0).then(pl.lit("at least ")).otherwise(pl.lit(""))
    )
    unknown = (
        pl.when(pl.col("retries_unknown") > 0)
        .then(
            pl.format(
                "; {} without a `retries` field, SDK retries unknown", count("retries_unknown")
            )
        )
        .otherwise(pl.lit(""))
    )
    of_calls = (
        pl.when(pl.col("calls").is_null())
        .then(pl.lit("its share of the calls to the function is unknown (no traced invocations)"))
        .otherwise(
            pl.format(
                "{} of the {} traced calls to the function", pct("failed_share"), count("calls")
            )
        )
    )
    message = pl.format(
        "{}{} throttled invocation attempts ({} calls, {} recovered by retries{}) from {}; "
        "cause: {}. {} calls failed for good: {}.",
        at_least,
        count("throttled_attempts"),
        count("throttled_calls"),
        count("recovered_calls"),
        unknown,
        pl.col("sources"),
        pl.col("cause"),
        count("failed_calls"),
        of_calls,
    )
    advice = pl.col("cause").replace_strict(
        dict(advice_by_cause), default=advice_by_cause["unknown"], return_dtype=pl.String()
    )
    return finding_rows(
        frame,
        "invocation_throttle",
        subject="target",
        message=message,
        evidence_of=_INVOCATION_THROTTLE_EVIDENCE,
        recommendation=advice,
        affected="throttled_calls",
        share=share_of("throttled_calls", "calls"),
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
    fallback = pl.when(remote).then(pl.lit(_DOWNSTREAM_REMOTE)).otherwise(pl.lit(_DOWNSTREAM_AWS))
    return finding_rows(
        frame,
        "downstream_throttle",
        subject=pl.format("{} -> {}", "source", target),
        message=message,
        evidence_of=("throttled_calls", "calls", "throttle_rate", "retries", "retries_unknown"),
        recommendation=pl.coalesce(advice, fallback),
        affected="throttled_calls",
        share="throttle_rate",
    )
