"""Per-function cold starts from traces, completed by Lambda REPORT records when given.

Counting rules
--------------
* ``invocations`` and ``cold_starts`` count traced executions (``AWS::Lambda::Function``
  segments). ``cold_starts`` counts every execution that was the first of its environment,
  whatever the kind.
* A cold start is user-facing when a caller waited for it: its kind is ``on_demand`` or
  ``snapstart`` (a provisioned environment was ready before the request) and its invocation is
  on the synchronous path of an entry request (``invocation_path`` ``sync``, see
  :mod:`analyses.invocations`). ``user_facing_cold_start_rate`` is ``user_facing_cold_starts``
  per synchronous invocation (``sync_invocations``). On-demand and SnapStart cold starts of
  asynchronous invocations, of invocations by an SQS event source mapping (``event_source``)
  and of executions that started after the entry had answered are counted apart
  (``off_path_cold_starts``): nobody waited for them.
* Init percentiles (``init_p50_ms`` ...) cover user-facing cold starts only: on-demand
  ``Initialization`` durations and SnapStart ``Restore`` durations, both being the time the
  request waited before the handler ran. Pre-initialized (``provisioned``) inits are reported
  apart (``provisioned_init_*``) so they never inflate what users saw.

REPORT records (joined on request id)
-------------------------------------
* The trace wins: a traced execution keeps the kind and init duration its trace shows. A REPORT
  only fills what the trace lacks: a traced execution without an init subsegment whose REPORT
  has ``Init Duration`` (or ``Restore Duration``) becomes an ``on_demand`` (or ``snapstart``)
  cold start with that duration. NOTE: the trace is preferred because only it can tell a
  pre-initialized environment from an on-demand one (the init-to-invoke gap).
* A REPORT with an init or restore duration and no traced execution (traces are sampled) counts
  in ``cold_starts_from_logs``, not in ``cold_starts``, and its duration joins the user-facing
  percentiles (a REPORT cannot show pre-initialization, so it is taken as user-facing), unless
  every traced invocation of the function is off the synchronous path (a REPORT cannot show
  the path either; the function's traces say how it is invoked).
* ``timeouts`` counts REPORTs with status ``timeout``, traced or not, and
  ``reported_invocations`` every REPORT (:func:`report_rows`, ``TIMEOUT_COUNT_EXPRS``): a
  REPORT that names no function counts for its traced execution's function, else not at all.
"""

from __future__ import annotations

import polars as pl

from analyses._output import check_inputs, shaped
from analyses.invocations import DEFAULT_PROVISIONED_GAP_MS, INVOCATION_SCHEMA, invocations
from analyses.memo import memoized
from tracelens.schema import empty_frame

USER_FACING_KINDS = ("on_demand", "snapstart")

COLD_START_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),
    "invocations": pl.Int64(),  # traced executions
    "cold_starts": pl.Int64(),  # traced executions that started an environment (any kind)
    "cold_start_rate": pl.Float64(),  # cold_starts / invocations
    # user_facing_cold_starts / sync_invocations (null without synchronous invocations)
    "user_facing_cold_start_rate": pl.Float64(),
    "sync_invocations": pl.Int64(),  # traced executions on the path of an entry request
    "user_facing_cold_starts": pl.Int64(),  # on_demand + snapstart on the synchronous path
    # on_demand + snapstart, async, event_source or after the response
    "off_path_cold_starts": pl.Int64(),
    "on_demand": pl.Int64(),
    "provisioned": pl.Int64(),
    "snapstart": pl.Int64(),
    # REPORT init/restore with no traced execution; null (unknown) when no REPORTs were given
    "cold_starts_from_logs": pl.Int64(),
    "init_p50_ms": pl.Float64(),  # user-facing inits and restores, traces + logs
    "init_p95_ms": pl.Float64(),
    "init_p99_ms": pl.Float64(),
    "init_max_ms": pl.Float64(),
    "provisioned_init_p50_ms": pl.Float64(),
    "provisioned_init_max_ms": pl.Float64(),
    "timeouts": pl.Int64(),  # REPORT status "timeout"; null (unknown) without REPORTs
    "reported_invocations": pl.Int64(),  # REPORT records of the function; null without REPORTs
    # a timed-out invocation's trace: its REPORT's XRAY TraceId, else the traced execution's
    "timeout_trace_id": pl.String(),
    "example_trace_id": pl.String(),  # the traced user-facing cold start with the longest init
}


_TIMEOUT_COLUMNS = ("function_name", "timeouts", "reported_invocations", "timeout_trace_id")


def _traced(inv: pl.DataFrame, reports: pl.DataFrame | None) -> pl.DataFrame:
    """Traced executions with the REPORT filling a missing init (function, kind, init_ms)."""
    frame = inv.select(
        "function_name", "trace_id", "request_id", "cold_kind", "init_ms", "invocation_path"
    )
    if reports is None:
        return frame
    by_request = (
        reports.filter(pl.col("request_id").is_not_null())
        .unique("request_id", keep="first")
        .select("request_id", "init_duration_ms", "restore_duration_ms")
    )
    joined = frame.join(by_request, on="request_id", how="left")
    kind = pl.coalesce(
        "cold_kind",
        pl.when(pl.col("restore_duration_ms").is_not_null()).then(pl.lit("snapstart")),
        pl.when(pl.col("init_duration_ms").is_not_null()).then(pl.lit("on_demand")),
    )
    report_ms = (
        pl.when(kind == "snapstart")
        .then(pl.col("restore_duration_ms"))
        .otherwise(pl.col("init_duration_ms"))
    )
    return joined.select(
        "function_name",
        "trace_id",
        "request_id",
        kind.alias("cold_kind"),
        pl.coalesce("init_ms", report_ms).alias("init_ms"),
        "invocation_path",
    )


def _untraced_reports(inv: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """REPORTs whose request has no traced execution."""
    return reports.filter(pl.col("function_name").is_not_null()).join(
        inv.select("request_id").drop_nulls(), on="request_id", how="anti", nulls_equal=False
    )


def _log_cold_starts(inv: pl.DataFrame, reports: pl.DataFrame | None) -> pl.DataFrame:
    """Cold starts seen only in logs: function, kind, init_ms."""
    if reports is None:
        return empty_frame(
            {c: INVOCATION_SCHEMA[c] for c in ("function_name", "cold_kind", "init_ms")}
        )
    untraced = _untraced_reports(inv, reports)
    return untraced.filter(
        pl.col("init_duration_ms").is_not_null() | pl.col("restore_duration_ms").is_not_null()
    ).select(
        "function_name",
        pl.when(pl.col("restore_duration_ms").is_not_null())
        .then(pl.lit("snapstart"))
        .otherwise(pl.lit("on_demand"))
        .alias("cold_kind"),
        pl.coalesce("restore_duration_ms", "init_duration_ms").alias("init_ms"),
    )


TIMEOUT_COUNT_EXPRS: dict[str, pl.Expr] = {
    "timeouts": pl.col("timeout").sum().cast(pl.Int64),
    "reported_invocations": pl.len().cast(pl.Int64),
}
"""The REPORT counts of a function over its rows of :func:`report_rows` (``timeout``): an
aggregation per function (rollups count the same per hour of the REPORT)."""


def report_rows(inv: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """One row per REPORT, traced or not, whose function is known: ``function_name`` (the
    REPORT's own, else its traced execution's, joined on request id), ``timeout`` (status
    ``timeout``), ``example`` (its XRAY TraceId, else the traced execution's trace) and
    ``timestamp``. REPORTs are counted as given: copies are dropped before (the log parser
    keeps one of a repeated REPORT; the store one per function, request id and time)."""
    names = inv.select(
        "request_id",
        pl.col("function_name").alias("traced_name"),
        pl.col("trace_id").alias("traced_trace_id"),
    ).drop_nulls("request_id")
    names = names.unique("request_id", keep="first")
    return (
        reports.join(names, on="request_id", how="left")
        .select(
            pl.coalesce("function_name", "traced_name").alias("function_name"),
            (pl.col("status") == "timeout").fill_null(value=False).alias("timeout"),
            pl.coalesce("trace_id", "traced_trace_id").alias("example"),
            "timestamp",
        )
        .drop_nulls("function_name")
    )


def _timeouts(inv: pl.DataFrame, reports: pl.DataFrame | None) -> pl.DataFrame:
    """Per function: REPORTs (``reported_invocations``) and those with status timeout."""
    if reports is None:
        return empty_frame({c: COLD_START_SCHEMA[c] for c in _TIMEOUT_COLUMNS})
    return (
        report_rows(inv, reports)
        .group_by("function_name")
        .agg(
            *(expr.alias(name) for name, expr in TIMEOUT_COUNT_EXPRS.items()),
            pl.col("example")
            .filter(pl.col("timeout"))
            .drop_nulls()
            .min()
            .alias("timeout_trace_id"),
        )
    )


def _count(kind: str) -> pl.Expr:
    return (pl.col("cold_kind") == kind).sum().cast(pl.Int64)


def _user_facing() -> pl.Expr:
    return pl.col("cold_kind").is_in(USER_FACING_KINDS) & (pl.col("invocation_path") == "sync")


_SYNC = pl.col("invocation_path") == "sync"
COLD_COUNT_EXPRS: dict[str, pl.Expr] = {
    "invocations": pl.len().cast(pl.Int64),
    "cold_starts": pl.col("cold_kind").is_not_null().sum().cast(pl.Int64),
    "on_demand": _count("on_demand"),
    "provisioned": _count("provisioned"),
    "snapstart": _count("snapstart"),
    "sync_invocations": _SYNC.sum().cast(pl.Int64),
    "user_facing_cold_starts": _user_facing().sum().cast(pl.Int64),
    "off_path_cold_starts": (pl.col("cold_kind").is_in(USER_FACING_KINDS) & ~_SYNC)
    .sum()
    .cast(pl.Int64),
}
"""The traced counts of a function over its executions (rows of
:func:`analyses.invocations.invocations`: ``cold_kind``, ``invocation_path``): an aggregation
per function (rollups count the same per hour)."""


def _trace_counts(traced: pl.DataFrame) -> pl.DataFrame:
    user_facing = _user_facing()
    return traced.group_by("function_name").agg(
        *(expr.alias(name) for name, expr in COLD_COUNT_EXPRS.items()),
        pl.col("trace_id")
        .filter(user_facing & pl.col("init_ms").is_not_null())
        .sort_by(pl.col("init_ms").filter(user_facing & pl.col("init_ms").is_not_null()))
        .last()
        .alias("example_trace_id"),
    )


def _init_stats(traced: pl.DataFrame, logged: pl.DataFrame) -> pl.DataFrame:
    # NOTE: a REPORT cannot show the invocation path: it is taken as synchronous unless the
    # function's traced invocations are all off the synchronous path.
    off_path_only = (
        traced.group_by("function_name")
        .agg((pl.col("invocation_path") != "sync").all().alias("off_path_only"))
        .filter("off_path_only")
        .select("function_name")
    )
    logged = logged.join(off_path_only, on="function_name", how="anti").with_columns(
        pl.lit("sync").alias("invocation_path")
    )
    events = pl.concat(
        [traced.select("function_name", "cold_kind", "init_ms", "invocation_path"), logged],
        how="vertical_relaxed",
    )
    user_ms = pl.col("init_ms").filter(_user_facing())
    provisioned_ms = pl.col("init_ms").filter(pl.col("cold_kind") == "provisioned")
    return events.group_by("function_name").agg(
        user_ms.quantile(0.50, interpolation="linear").alias("init_p50_ms"),
        user_ms.quantile(0.95, interpolation="linear").alias("init_p95_ms"),
        user_ms.quantile(0.99, interpolation="linear").alias("init_p99_ms"),
        user_ms.max().alias("init_max_ms"),
        provisioned_ms.quantile(0.50, interpolation="linear").alias("provisioned_init_p50_ms"),
        provisioned_ms.max().alias("provisioned_init_max_ms"),
    )


@memoized
def cold_starts(
    spans: pl.DataFrame,
    *,
    reports: pl.DataFrame | None = None,
    provisioned_gap_ms: float = DEFAULT_PROVISIONED_GAP_MS,
) -> pl.DataFrame:
    """Cold-start counts, rates and init percentiles per function.

    Parameters
    ----------
    reports
        Optional Lambda REPORT records (``REPORT_SCHEMA``), joined on request id; see the module
        docstring for how they complete the traces.
    provisioned_gap_ms
        Passed to :func:`analyses.invocations.invocations` to tell pre-initialized inits apart.

    Returns
    -------
    pl.DataFrame
        ``COLD_START_SCHEMA``, one row per function seen in traces or REPORTs, by name.
    """
    check_inputs(reports=reports)
    inv = invocations(spans, provisioned_gap_ms=provisioned_gap_ms)
    traced = _traced(inv, reports)
    logged = _log_cold_starts(inv, reports)
    timeouts = _timeouts(inv, reports)
    seen = [traced, logged, timeouts] + ([] if reports is None else [reports])
    names = pl.concat([f.select("function_name") for f in seen]).drop_nulls()
    if names.is_empty():
        return empty_frame(COLD_START_SCHEMA)
    from_logs = logged.group_by("function_name").agg(
        pl.len().cast(pl.Int64).alias("cold_starts_from_logs")
    )
    table = (
        names.unique()
        .join(_trace_counts(traced), on="function_name", how="left")
        .join(from_logs, on="function_name", how="left")
        .join(_init_stats(traced, logged), on="function_name", how="left")
        .join(timeouts, on="function_name", how="left")
    )
    counts = ["invocations", "cold_starts", "on_demand", "provisioned", "snapstart"]
    counts += ["sync_invocations", "user_facing_cold_starts", "off_path_cold_starts"]
    # NOTE: without REPORT records what only logs show is unknown, not 0.
    from_reports = ["cold_starts_from_logs", "timeouts", "reported_invocations"]
    table = table.with_columns(pl.col(counts).fill_null(0))
    if reports is not None:
        table = table.with_columns(pl.col(from_reports).fill_null(0))
    rate_base = pl.when(pl.col("invocations") > 0).then(pl.col("invocations"))
    sync_base = pl.when(pl.col("sync_invocations") > 0).then(pl.col("sync_invocations"))
    table = table.with_columns(
        (pl.col("cold_starts") / rate_base).alias("cold_start_rate"),
        (pl.col("user_facing_cold_starts") / sync_base).alias("user_facing_cold_start_rate"),
    )
    return shaped(table, COLD_START_SCHEMA).sort("function_name")
