"""What users see: one row per entry point (API route, function URL, event consumer).

A trace's entry point is its root segment: the segment without a parent that starts first.
Every figure here is of those root segments, so it is what the caller saw:

* ``requests`` counts traced requests (X-Ray samples: not all traffic);
* ``errors`` (4xx) and ``faults`` (5xx) are the root's own flags; ``throttled`` counts
  requests that met a throttle: the root answered 429, or the root's own invocation of a
  Lambda function was throttled and no retry got through
  (:func:`analyses.throttles.throttled_attempts`; API Gateway answers those with a 5xx; a
  throttle deeper in the trace shows in the throttles section, and as a fault here when the
  request failed); ``failed`` counts requests flagged error, fault or throttle at the root;
* latency percentiles cover completed requests (an in-progress root has no duration);
* ``cold_start_requests`` counts requests whose trace holds a user-facing cold start (on
  demand or SnapStart, see :mod:`analyses.invocations`) of a function that started before the
  request's response ended: the caller may have waited for it. A function started after the
  response (an asynchronous consumer) does not count.

Per trace, ``invocation_path`` says who waited for the entry (:mod:`analyses.invocations`):
a Lambda root's own invocation path (``async`` for a queued event, ``event_source`` for an SQS
event source mapping's batch, ``sync`` for a function URL or a direct ``Invoke``), ``async`` or
``event_source`` for a root that delivers events, ``sync`` for any other root (an API, a
client); the bottleneck findings lower what nobody waited for.

Entry points are named like the bottlenecks' ``entry`` (the root's name, then the method and
normalised path, or the operation), and typed from the root's origin: ``API route`` (API
Gateway stage), ``function URL`` (a Lambda root with an HTTP request), ``event consumer`` (a
Lambda root without one: a queue, stream, topic, schedule or asynchronous invocation; traces
do not say which) or ``other`` (any other root, e.g. an instrumented client).

One row per entry point and type (a Lambda function and a client both named ``worker`` are two
rows, as in rollups and comparisons). Rows are sorted by user impact: failed requests first,
then requests that waited for a cold start, then p95 latency, then name and type.
"""

from __future__ import annotations

import polars as pl

from analyses._frames import text
from analyses._output import check_inputs, shaped
from analyses.bottlenecks import entry_name
from analyses.invocations import (
    ASYNC_ROOT_ORIGINS,
    EVENT_SOURCE_ROOT_ORIGINS,
    invocations,
)
from analyses.throttles import throttled_attempts

STAGE_ORIGIN = "AWS::ApiGateway::Stage"
LAMBDA_ORIGINS = ("AWS::Lambda", "AWS::Lambda::Function")
USER_FACING_COLD = ("on_demand", "snapstart")

ENTRY_POINT_SCHEMA: dict[str, pl.DataType] = {
    "entry": pl.String(),
    "entry_type": pl.String(),  # "API route" | "function URL" | "event consumer" | "other"
    "requests": pl.Int64(),  # traced requests (roots), in progress included
    "errors": pl.Int64(),  # roots flagged error (4xx)
    "faults": pl.Int64(),  # roots flagged fault (5xx)
    "throttled": pl.Int64(),  # root flagged 429, or its invocation refused
    "failed": pl.Int64(),  # roots flagged error, fault or throttle
    "error_rate": pl.Float64(),  # errors / requests
    "fault_rate": pl.Float64(),  # faults / requests
    "throttle_rate": pl.Float64(),  # throttled / requests
    "p50_ms": pl.Float64(),  # completed requests only; null when there are none
    "p95_ms": pl.Float64(),
    "p99_ms": pl.Float64(),
    "in_progress": pl.Int64(),  # roots without an end: no duration
    "cold_start_requests": pl.Int64(),  # requests that may have waited for a cold start
    "cold_start_share": pl.Float64(),  # cold_start_requests / requests
    "slowest_trace_id": pl.String(),  # the completed request that took longest
    "failed_trace_id": pl.String(),  # the slowest request that failed (fault > throttle > error)
}

ENTRY_TRACE_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "entry": pl.String(),
    "entry_type": pl.String(),
    "start_time": pl.Datetime("us", "UTC"),
    "end_time": pl.Datetime("us", "UTC"),
    "duration_ms": pl.Float64(),
    "error": pl.Boolean(),
    "fault": pl.Boolean(),
    "throttle": pl.Boolean(),  # the root's own flag (429)
    "met_throttle": pl.Boolean(),  # the root's flag, or the root's invocation throttled
    "cold_start": pl.Boolean(),
    # Who waited for the entry (see analyses.invocations): "sync" (a caller: an API, a function
    # URL, a client), "async" or "event_source" (nobody), from the root's own invocation when
    # the root is a Lambda segment; null when a Lambda root's execution is not in the trace.
    "invocation_path": pl.String(),
}

ENTRY_COUNT_EXPRS: dict[str, pl.Expr] = {
    "requests": pl.len().cast(pl.Int64),
    "errors": pl.col("error").sum().cast(pl.Int64),
    "faults": pl.col("fault").sum().cast(pl.Int64),
    "throttled": pl.col("met_throttle").sum().cast(pl.Int64),
    "failed": (pl.col("error") | pl.col("fault") | pl.col("throttle")).sum().cast(pl.Int64),
    "in_progress": pl.col("end_time").is_null().sum().cast(pl.Int64),
    "cold_start_requests": pl.col("cold_start").sum().cast(pl.Int64),
}
"""The counts of an entry point over its rows of :func:`entry_traces` (an aggregation per
entry point; rollups count the same per hour)."""

_ROOT_COLUMNS = [
    "trace_id", "name", "origin", "http_url", "http_method", "aws_operation", "start_time",
    "end_time", "duration_ms", "error", "fault", "throttle", "in_progress",
]  # fmt: skip


def _entry_type() -> pl.Expr:
    origin = pl.col("origin")
    return (
        pl.when(origin == STAGE_ORIGIN)
        .then(pl.lit("API route"))
        .when(origin.is_in(LAMBDA_ORIGINS) & pl.col("http_url").is_not_null())
        .then(pl.lit("function URL"))
        .when(origin.is_in(LAMBDA_ORIGINS))
        .then(pl.lit("event consumer"))
        .otherwise(pl.lit("other"))
    )


def entry_traces(
    spans: pl.DataFrame,
    *,
    invocation_rows: pl.DataFrame | None = None,
    throttled: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per trace with a root segment: its entry point and what its caller saw.

    Parameters
    ----------
    invocation_rows
        ``analyses.invocations.invocations(spans)`` when already computed.
    throttled
        ``analyses.throttles.throttled_attempts(spans)`` when already computed.

    Returns
    -------
    pl.DataFrame
        ``ENTRY_TRACE_SCHEMA``, ordered by start time then trace id.
    """
    check_inputs(spans=spans)
    roots = (
        spans.lazy()
        .filter(
            pl.col("parent_id").is_null()
            & (pl.col("kind") == "segment")
            & ~pl.col("inferred").fill_null(value=False)
        )
        .select(_ROOT_COLUMNS)
        .sort("start_time", "trace_id", nulls_last=True)
        .unique("trace_id", keep="first", maintain_order=True)
        .collect()
    )
    if roots.is_empty():
        return shaped(pl.DataFrame(schema=ENTRY_TRACE_SCHEMA), ENTRY_TRACE_SCHEMA)
    described = roots.select("name", "origin", "http_url", "http_method", "aws_operation").unique()
    named = described.with_columns(entry_name().alias("entry"), _entry_type().alias("entry_type"))
    roots = roots.join(
        named,
        on=["name", "origin", "http_url", "http_method", "aws_operation"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    rows = invocations(spans) if invocation_rows is None else invocation_rows
    cold = (
        rows.lazy()
        .filter(pl.col("cold_kind").is_in(USER_FACING_COLD))
        .select("trace_id", pl.col("start_time").alias("cold_start_time"))
        .join(roots.lazy().select("trace_id", "end_time"), on="trace_id")
        .filter(pl.col("end_time").is_null() | (pl.col("cold_start_time") <= pl.col("end_time")))
        .select("trace_id")
        .unique()
        .with_columns(pl.lit(value=True).alias("cold_start"))
        .collect()
    )
    attempts = throttled_attempts(spans) if throttled is None else throttled
    refused = (
        attempts.filter(~pl.col("recovered").fill_null(value=False))
        .select("trace_id", "absorbed_by")
        .join(roots.select("trace_id", "name"), on="trace_id")
        .filter(pl.col("absorbed_by") == pl.col("name"))
        .select("trace_id")
        .unique()
        .with_columns(pl.lit(value=True).alias("invocation_throttled"))
    )
    joined = (
        roots.join(cold, on="trace_id", how="left", maintain_order="left")
        .join(_root_paths(rows, roots), on="trace_id", how="left", maintain_order="left")
        .join(refused, on="trace_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("cold_start").fill_null(value=False),
            *(pl.col(flag).fill_null(value=False) for flag in ("error", "fault", "throttle")),
        )
        .with_columns(
            (pl.col("throttle") | pl.col("invocation_throttled").fill_null(value=False)).alias(
                "met_throttle"
            ),
            _entry_path().alias("invocation_path"),
        )
    )
    return shaped(joined, ENTRY_TRACE_SCHEMA)


def _root_paths(rows: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """Per trace, the invocation path of the first execution of its root's function: a Lambda
    root's own (its retried attempts share its path). An execution of another function (the
    root's own missing, say refused) says nothing of who waited for the root: no path."""
    own = rows.join(
        roots.select("trace_id", text("name").alias("function_name")),
        on=["trace_id", "function_name"],
        how="semi",
    )
    return (
        own.lazy()
        .sort("start_time", "segment_id", nulls_last=True)
        .group_by("trace_id")
        .agg(pl.col("invocation_path").first().alias("first_path"))
        .collect()
    )


def _entry_path() -> pl.Expr:
    origin = pl.col("origin")
    return (
        pl.when(origin.is_in(LAMBDA_ORIGINS))
        .then(pl.col("first_path"))
        .when(origin.is_in(ASYNC_ROOT_ORIGINS))
        .then(pl.lit("async"))
        .when(origin.is_in(EVENT_SOURCE_ROOT_ORIGINS))
        .then(pl.lit("event_source"))
        .otherwise(pl.lit("sync"))
    )


def _example(condition: pl.Expr) -> pl.Expr:
    """The trace id of the longest request meeting ``condition`` (ties: earliest trace id)."""
    duration = pl.col("duration_ms").fill_null(-1.0)
    return (
        pl.col("trace_id")
        .filter(condition)
        .sort_by([duration.filter(condition), pl.col("trace_id").filter(condition)],
                 descending=[True, False])
        .first()
    )  # fmt: skip


def entry_points(traces: pl.DataFrame) -> pl.DataFrame:
    """Per entry point: requests, failure rates, latency, cold starts, example traces.

    Parameters
    ----------
    traces
        :func:`entry_traces`.

    Returns
    -------
    pl.DataFrame
        ``ENTRY_POINT_SCHEMA``, sorted by user impact (see the module docstring).
    """
    completed = pl.col("duration_ms").filter(pl.col("end_time").is_not_null())
    grouped = traces.group_by("entry", "entry_type").agg(
        *(expr.alias(name) for name, expr in ENTRY_COUNT_EXPRS.items()),
        completed.quantile(0.50, interpolation="linear").alias("p50_ms"),
        completed.quantile(0.95, interpolation="linear").alias("p95_ms"),
        completed.quantile(0.99, interpolation="linear").alias("p99_ms"),
        _example(pl.col("end_time").is_not_null()).alias("slowest_trace_id"),
        pl.coalesce(
            _example(pl.col("fault")),
            _example(pl.col("throttle")),
            _example(pl.col("error")),
            _example(pl.col("met_throttle")),
        ).alias("failed_trace_id"),
    )
    return shaped(rated_by_impact(grouped), ENTRY_POINT_SCHEMA)


def rated_by_impact(counted: pl.DataFrame) -> pl.DataFrame:
    """Entry points' counts (``ENTRY_COUNT_EXPRS`` per ``entry`` and ``entry_type``, with
    ``p95_ms``) with their rates (``error_rate``, ``fault_rate``, ``throttle_rate``,
    ``cold_start_share``), sorted by user impact (see the module docstring): from the spans
    (:func:`entry_points`) and from rollups alike."""
    requests = pl.col("requests")
    rated = counted.with_columns(
        pl.when(requests > 0).then(pl.col(part) / requests).alias(rate)
        for part, rate in (
            ("errors", "error_rate"),
            ("faults", "fault_rate"),
            ("throttled", "throttle_rate"),
            ("cold_start_requests", "cold_start_share"),
        )
    )
    return rated.sort(
        ["failed", "cold_start_requests", "p95_ms", "entry", "entry_type"],
        descending=[True, True, True, False, False],
        nulls_last=True,
    )
