"""Throttled Lambda invocations (who was refused, by whom, why) and a per-minute timeline.

A throttled invocation never runs: there is no function segment and no REPORT. It shows on the
``AWS::Lambda`` segment (``throttle``/429/``TooManyRequestsException``) and on the caller's
``Invoke`` subsegment. Both views of one refusal are counted once.

Counting attempts
-----------------
A caller's SDK may retry a throttled ``Invoke`` inside one subsegment (``aws.retries``), and
every attempt that reaches Lambda gets its own ``AWS::Lambda`` segment under that subsegment.
For one caller subsegment the throttled attempts are therefore the larger of: the throttled
``AWS::Lambda`` segments under it, and ``1 + retries`` when the subsegment itself ended
throttled (every try failed). When that subsegment has no ``retries`` field its retries are
unknown (not zero): its count is then a lower bound (``retries_unknown`` counts such calls, and
findings and the report say "at least"). An ``AWS::Lambda`` throttle with no traced caller
subsegment is one attempt. A call whose attempts were throttled but which ended without a 429
was *recovered* (the SDK's retries absorbed the refusal).

Causes (first rule that holds, per attempt)
-------------------------------------------
1. ``reserved_concurrency_zero``: the target's reserved concurrency is 0 (switched off).
2. The refusal's message names Lambda's reason: ``ReservedFunctionConcurrentInvocationLimit
   Exceeded`` gives ``reserved_concurrency_reached``, ``ConcurrentInvocationLimitExceeded``
   gives ``account_concurrency_limit``.
3. ``reserved_concurrency_reached``: reserved concurrency R > 0 and the function's
   ``ConcurrentExecutions`` Maximum in the attempt's period is >= R x ``limit_reached_fraction``.
4. ``account_concurrency_limit``: the target has no reservation (a reservation shields it from
   the shared pool) and the account's ``ConcurrentExecutions``/``ClaimedAccountConcurrency``
   Maximum reached the account limit, or ``UnreservedConcurrentExecutions`` reached the
   unreserved pool (``unreserved_concurrency_limit``, else account limit minus the reservations
   listed in ``functions``), both x ``limit_reached_fraction``.
5. ``burst_scaling``: no limit was reached but the function's ``ConcurrentExecutions`` Maximum
   in that period is >= ``burst_step_ratio`` x the previous period's (0 when absent): Lambda
   was still adding environments (it scales by at most 1,000 per 10 s per function).
6. ``unknown``: otherwise, including when no metrics cover the period.
"""

from __future__ import annotations

import polars as pl

from analyses._calls import span_tree
from analyses._frames import collect_in_memory, id_pair_key, left_join_on_ids
from analyses._output import check_inputs, shaped
from analyses._tree import gather_views, links_are_joins, parent_rows
from analyses.downstream_throttles import (
    DOWNSTREAM_THROTTLE_SCHEMA,
    downstream_throttles,
    throttled_downstream_calls,
)
from analyses.invocations import (
    FUNCTION_ORIGIN,
    INVOKE_OPERATIONS,
    SERVICE_ORIGIN,
    is_segment_of,
    is_throttled,
)
from analyses.memo import memoized
from analyses.throttle_causes import CauseSettings, with_causes
from tracelens.schema import UTC_US, empty_frame

__all__ = [
    "DOWNSTREAM_THROTTLE_SCHEMA",
    "INVOCATION_THROTTLE_SCHEMA",
    "THROTTLE_TIMELINE_SCHEMA",
    "downstream_throttles",
    "invocation_throttles",
    "throttle_timeline",
    "throttled_attempts",
]

INVOCATION_THROTTLE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),  # the caller's service (segment name, e.g. an API stage) or "client"
    "target": pl.String(),  # the throttled function
    "cause": pl.String(),
    "absorbed_by": pl.String(),  # the service that received the 429s; "client" when untraced
    "throttled_attempts": pl.Int64(),
    "throttled_calls": pl.Int64(),  # caller calls (or untraced requests) with a throttled attempt
    "recovered_calls": pl.Int64(),  # of those, calls whose retries eventually got through
    # Throttled calls whose Invoke subsegment has no `retries` field: their SDK retries are
    # unknown, so throttled_attempts is a lower bound ("at least") when this is above 0.
    "retries_unknown": pl.Int64(),
    "first_time": UTC_US,
    "last_time": UTC_US,
    "example_trace_id": pl.String(),
}

THROTTLE_TIMELINE_SCHEMA: dict[str, pl.DataType] = {
    "minute": UTC_US,  # start of the bucket
    "kind": pl.String(),  # "invocation" (traces) | "downstream" (traces) | "metric" (Throttles)
    "subject": pl.String(),  # function name, or "<service> <resource>" for downstream
    "throttled": pl.Int64(),
}


def _with_owner_names(frame: pl.DataFrame, spans: pl.DataFrame, owner: str) -> pl.DataFrame:
    """``frame`` with ``owner_name``: the name of the segment whose id is ``frame[owner]`` in
    the same trace (null when there is none). Only those segments are looked up."""
    wanted = frame.select(id_pair_key("trace_id", owner)).to_series().drop_nulls()
    segments = collect_in_memory(
        spans.lazy()
        .filter(
            (pl.col("kind") == "segment") & id_pair_key("trace_id", "id").is_in(wanted.implode())
        )
        .select(
            "trace_id",
            pl.col("id").alias(owner),
            pl.col("name").cast(pl.String).alias("owner_name"),
        )
    )
    return left_join_on_ids(frame, segments, on=("trace_id", owner))


def _refusals(spans: pl.DataFrame) -> pl.DataFrame:
    """Throttled ``AWS::Lambda`` segments that have no function segment under them, with
    their ``row``."""
    source = spans.lazy().with_row_index("row")
    ran = source.filter(is_segment_of(FUNCTION_ORIGIN)).select(
        "trace_id", pl.col("parent_id").alias("id")
    )
    return (
        source.filter(is_segment_of(SERVICE_ORIGIN) & is_throttled())
        .join(ran, on=["trace_id", "id"], how="anti")
        .select(
            "row",
            "trace_id",
            pl.coalesce("function_name", "name").cast(pl.String).alias("target"),
            "parent_id",
            pl.col("start_time").alias("time"),
            pl.col("exception_message").alias("message"),
        )
        .collect()
    )


def _invoke_calls(spans: pl.DataFrame) -> pl.DataFrame:
    """Callers' Invoke subsegments, with the service that owns each."""
    is_call = spans.select(
        (
            (pl.col("kind") == "subsegment")
            & pl.col("aws_operation").is_in(INVOKE_OPERATIONS)
            & pl.col("function_name").is_not_null()
        ).fill_null(value=False)
    ).to_series()
    # NOTE: narrowed before filtering (a filter copies every column it carries).
    calls = spans.select(
        "trace_id",
        "segment_id",
        "id",
        "function_name",
        "start_time",
        "throttle",
        "http_status",
        "exception_type",
        "aws_retries",
        "exception_message",
    ).filter(is_call)
    calls = calls.select(
        "trace_id",
        "segment_id",
        pl.col("id").alias("call_id"),
        pl.col("function_name").cast(pl.String).alias("target"),
        pl.col("start_time").alias("time"),
        is_throttled().alias("call_throttled"),
        # NOTE: null (no `retries` field) is unknown, not 0 (see _called_attempts).
        pl.col("aws_retries").cast(pl.Int64).alias("retries"),
        pl.col("exception_message").alias("message"),
    )
    owners = _tree_owner_names(spans, is_call.arg_true(), calls["segment_id"])
    named = (
        _with_owner_names(calls, spans, "segment_id")
        if owners is None
        else calls.with_columns(owners.alias("owner_name"))
    )
    return named.select(
        "trace_id",
        "call_id",
        "target",
        pl.col("owner_name").fill_null("unknown").alias("source"),
        "time",
        "call_throttled",
        "retries",
        "message",
    )


def _tree_owner_names(spans: pl.DataFrame, rows: pl.Series, owners: pl.Series) -> pl.Series | None:
    """The names of the segments whose ids are ``owners`` (one per row of ``rows``), as
    ``_with_owner_names`` finds them, read through the span tree: None unless each is the
    segment the tree puts the row in and the tree's links are the joins on ids
    (``links_are_joins``)."""
    # NOTE: looking the segments up by id scans every span (1M segments: 0.09 s CPU a call).
    if rows.is_empty():
        return pl.Series([], dtype=pl.String)
    if not links_are_joins(spans):
        return None
    owner_row = span_tree(spans)["owner_row"].gather(rows)
    if not (gather_views(spans["id"], owner_row) == owners).fill_null(value=False).all():
        return None
    return spans["name"].gather(owner_row).cast(pl.String)


def _called_attempts(calls: pl.DataFrame, refusals: pl.DataFrame) -> pl.DataFrame:
    per_call = refusals.group_by("trace_id", pl.col("parent_id").alias("call_id")).agg(
        pl.len().cast(pl.Int64).alias("refused"),
        pl.col("time").min().alias("refused_time"),
        pl.col("message").drop_nulls().first().alias("refused_message"),
    )
    joined = calls.join(per_call, on=["trace_id", "call_id"], how="left")
    own = pl.when(pl.col("call_throttled")).then(1 + pl.col("retries").fill_null(0)).otherwise(0)
    attempts = pl.max_horizontal(pl.col("refused").fill_null(0), own)
    # A call that ended throttled without a `retries` field may have tried more often.
    unknown = pl.col("call_throttled") & pl.col("retries").is_null()
    return joined.filter(attempts > 0).select(
        "trace_id",
        "target",
        "source",
        pl.col("source").alias("absorbed_by"),
        attempts.alias("attempts"),
        unknown.alias("attempts_unknown"),
        (~pl.col("call_throttled")).alias("recovered"),
        pl.min_horizontal("time", "refused_time").alias("time"),
        pl.coalesce("refused_message", "message").alias("message"),
    )


def _uncalled_attempts(
    spans: pl.DataFrame, calls: pl.DataFrame, refusals: pl.DataFrame
) -> pl.DataFrame:
    """Refusals with no traced Invoke subsegment above them: one attempt each."""
    orphans = refusals.join(
        calls.select("trace_id", pl.col("call_id").alias("parent_id")),
        on=["trace_id", "parent_id"],
        how="anti",
    )
    owners = _tree_parent_owner_names(spans, orphans["row"])
    named = (
        _parent_owner_names(spans, orphans)
        if owners is None
        else orphans.with_columns(owners.alias("owner_name"))
    )
    source = (
        pl.when(pl.col("parent_id").is_null())
        .then(pl.lit("client"))
        .otherwise(pl.col("owner_name").fill_null("unknown"))
    )
    return named.select(
        "trace_id",
        "target",
        source.alias("source"),
        source.alias("absorbed_by"),
        pl.lit(1, pl.Int64).alias("attempts"),
        pl.lit(value=False).alias("attempts_unknown"),
        pl.lit(value=False).alias("recovered"),
        "time",
        "message",
    )


def _parent_owner_names(spans: pl.DataFrame, refusals: pl.DataFrame) -> pl.DataFrame:
    """``refusals`` with ``owner_name``: the name of the segment owning their parent."""
    parents = (
        spans.lazy()
        .filter(pl.col("id").is_in(refusals["parent_id"].drop_nulls().implode()))
        .select(
            "trace_id",
            pl.col("id").alias("parent_id"),
            pl.when(pl.col("kind") == "segment")
            .then("id")
            .otherwise("segment_id")
            .alias("owner_id"),
        )
        .collect()
    )
    return _with_owner_names(
        refusals.join(parents, on=["trace_id", "parent_id"], how="left", maintain_order="left"),
        spans,
        "owner_id",
    )


def _tree_parent_owner_names(spans: pl.DataFrame, rows: pl.Series) -> pl.Series | None:
    """``_parent_owner_names``' ``owner_name`` of the spans at ``rows``, read through their
    parent links and the span tree; None where that could differ (``_tree_owner_names``)."""
    if rows.is_empty():
        return pl.Series([], dtype=pl.String)
    if not links_are_joins(spans):
        return None
    parent = parent_rows(spans).gather(rows)
    # A segment parent owns itself; a subsegment's owner is named by its segment_id.
    at_segment = (spans["kind"].gather(parent) == "segment").fill_null(value=False)
    owner_id = gather_views(spans["id"], parent).zip_with(
        at_segment, gather_views(spans["segment_id"], parent)
    )
    owner = parent.zip_with(at_segment, span_tree(spans)["owner_row"].gather(parent))
    found = gather_views(spans["id"], owner) == owner_id
    if not (found | owner_id.is_null()).fill_null(value=False).all():
        return None
    named = pl.DataFrame({"name": spans["name"].gather(owner), "owner_id": owner_id})
    return named.select(
        pl.when(pl.col("owner_id").is_not_null()).then(pl.col("name").cast(pl.String))
    ).to_series()


THROTTLE_KEYS = ("source", "target", "cause", "absorbed_by")
THROTTLE_COUNT_EXPRS: dict[str, pl.Expr] = {
    "throttled_attempts": pl.col("attempts").sum().cast(pl.Int64),
    "throttled_calls": pl.len().cast(pl.Int64),
    "recovered_calls": pl.col("recovered").sum().cast(pl.Int64),
    "retries_unknown": pl.col("attempts_unknown").sum().cast(pl.Int64),
}
"""The counts of ``INVOCATION_THROTTLE_SCHEMA`` over rows of :func:`throttled_attempts` with
their cause (an aggregation per ``THROTTLE_KEYS``; rollups count the same per hour)."""


def caused_attempts(spans: pl.DataFrame) -> pl.DataFrame:
    """:func:`throttled_attempts` with the ``cause`` the spans alone tell (no metrics, no
    configuration: a refusal's message, else ``unknown``), for partial aggregates."""
    return with_causes(
        throttled_attempts(spans),
        metrics=None,
        functions=None,
        settings=CauseSettings(),
    )


@memoized
def throttled_attempts(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per throttled call (or untraced refused request), with its attempt count.

    Columns: trace_id, target, source, absorbed_by, attempts, attempts_unknown (the count is a
    lower bound: the call's retries were not recorded), recovered, time, message.
    """
    check_inputs(spans=spans)
    refusals = _refusals(spans)
    calls = _invoke_calls(spans)
    return pl.concat(
        [_called_attempts(calls, refusals), _uncalled_attempts(spans, calls, refusals)],
        how="vertical_relaxed",
    ).with_columns(pl.col(pl.Categorical).cast(pl.String))  # NOTE: as the inputs it is joined to


def invocation_throttles(
    spans: pl.DataFrame,
    *,
    metrics: pl.DataFrame | None = None,
    functions: pl.DataFrame | None = None,
    account_concurrency_limit: int | None = None,
    unreserved_concurrency_limit: int | None = None,
    period_s: int = 60,
    limit_reached_fraction: float = 1.0,
    burst_step_ratio: float = 2.0,
) -> pl.DataFrame:
    """Throttled invocations per (source, target, cause), most attempts first.

    Parameters
    ----------
    metrics
        CloudWatch datapoints (``METRIC_SCHEMA``): per-function and account-level
        (``function_name`` null) ``ConcurrentExecutions``, ``ClaimedAccountConcurrency``,
        ``UnreservedConcurrentExecutions`` with stat ``Maximum``.
    functions
        Function configuration (``FUNCTION_SCHEMA``), for reserved concurrency.
    account_concurrency_limit
        The account's concurrent executions quota (GetAccountSettings; 1,000 by default in AWS).
    unreserved_concurrency_limit
        The unreserved pool; default: the account limit minus the reservations in ``functions``.
    period_s
        The metrics' period; attempts and datapoints are matched on it.
    limit_reached_fraction
        A limit counts as reached when a maximum is >= this fraction of it (default 1.0).
    burst_step_ratio
        ``burst_scaling`` when concurrency is >= this multiple of the previous period's.

    Returns
    -------
    pl.DataFrame
        ``INVOCATION_THROTTLE_SCHEMA``; the cause rules are in the module docstring.
    """
    check_inputs(metrics=metrics, functions=functions)
    attempts = throttled_attempts(spans)
    if attempts.is_empty():
        return empty_frame(INVOCATION_THROTTLE_SCHEMA)
    settings = CauseSettings(
        period_s=period_s,
        limit_reached_fraction=limit_reached_fraction,
        burst_step_ratio=burst_step_ratio,
        account_concurrency_limit=account_concurrency_limit,
        unreserved_concurrency_limit=unreserved_concurrency_limit,
    )
    caused = with_causes(attempts, metrics=metrics, functions=functions, settings=settings)
    table = caused.group_by(THROTTLE_KEYS).agg(
        *(expr.alias(name) for name, expr in THROTTLE_COUNT_EXPRS.items()),
        pl.col("time").min().alias("first_time"),
        pl.col("time").max().alias("last_time"),
        pl.col("trace_id").sort_by("time").first().alias("example_trace_id"),
    )
    return shaped(table, INVOCATION_THROTTLE_SCHEMA).sort(
        ["throttled_attempts", "source", "target", "cause"],
        descending=[True, False, False, False],
    )


def throttle_timeline(
    spans: pl.DataFrame, *, metrics: pl.DataFrame | None = None, bucket_s: int = 60
) -> pl.DataFrame:
    """Throttles per time bucket: traced invocation attempts, traced downstream calls and,
    when ``metrics`` are given, CloudWatch ``Throttles`` (stat ``Sum``) per function.

    Returns
    -------
    pl.DataFrame
        ``THROTTLE_TIMELINE_SCHEMA``, ordered by minute, kind, subject.
    """
    check_inputs(metrics=metrics)
    every = f"{bucket_s}s"
    invoked = throttled_attempts(spans).select(
        pl.col("time").dt.truncate(every).alias("minute"),
        pl.lit("invocation").alias("kind"),
        pl.col("target").alias("subject"),
        pl.col("attempts").alias("throttled"),
    )
    downstream = throttled_downstream_calls(spans).select(
        pl.col("start_time").dt.truncate(every).alias("minute"),
        pl.lit("downstream").alias("kind"),
        pl.concat_str("service", "resource", separator=" ", ignore_nulls=True).alias("subject"),
        pl.lit(1, pl.Int64).alias("throttled"),
    )
    parts = [invoked, downstream]
    if metrics is not None:
        parts.append(
            metrics.filter(
                (pl.col("metric") == "Throttles")
                & (pl.col("stat") == "Sum")
                & pl.col("function_name").is_not_null()
            ).select(
                pl.col("timestamp").dt.truncate(every).alias("minute"),
                pl.lit("metric").alias("kind"),
                pl.col("function_name").alias("subject"),
                pl.col("value").round(0).cast(pl.Int64).alias("throttled"),
            )
        )
    events = pl.concat([shaped(p, THROTTLE_TIMELINE_SCHEMA) for p in parts])
    per_bucket = (
        events.group_by("minute", "kind", "subject")
        .agg(pl.col("throttled").sum())
        .filter(pl.col("throttled") > 0)
    )
    return shaped(per_bucket, THROTTLE_TIMELINE_SCHEMA).sort("minute", "kind", "subject")
