"""Throttled calls from functions (and other services) to AWS APIs and remote endpoints."""

from __future__ import annotations

import polars as pl

from analyses._calls import OUTERMOST_CALL, span_tree
from analyses._frames import text
from analyses._output import check_inputs, shaped
from analyses._tree import first_rows, ids_repeat
from analyses.invocations import INVOKE_OPERATIONS, is_throttled
from analyses.memo import memoized
from tracelens.schema import UTC_US, empty_frame

DOWNSTREAM_CAUSE = "downstream_api_limit"
# Exception types AWS SDKs raise when an API throttles (matched at the end of the type name, so
# qualified names such as ``botocore.errorfactory.ThrottlingException`` match too).
THROTTLING_EXCEPTIONS = (
    r"(ProvisionedThroughputExceeded|Throttling|Throttled|TooManyRequests|RequestThrottled"
    r"|SlowDown|RequestLimitExceeded)(Exception)?$"
)

# The span columns a downstream call reads.
_CALL_COLUMNS = (
    "trace_id",
    "name",
    "namespace",
    "start_time",
    "aws_operation",
    "aws_resource",
    "function_name",
    "host",
    "http_method",
    "http_status",
    "aws_retries",
    "throttle",
    "exception_type",
)

DOWNSTREAM_THROTTLE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),  # the calling service: the function name for Lambda
    "service": pl.String(),  # the subsegment name: DynamoDB, SQS, a remote host...
    "resource": pl.String(),  # table, queue, topic, host
    "operation": pl.String(),  # API operation, or HTTP method for remote calls
    "namespace": pl.String(),  # "aws" | "remote"
    "throttled_calls": pl.Int64(),
    "calls": pl.Int64(),
    "throttle_rate": pl.Float64(),  # throttled_calls / calls
    # SDK retries over the calls recording them (`aws.retries`); null when none does.
    "retries": pl.Int64(),
    "first_time": UTC_US,  # first and last throttled call
    "last_time": UTC_US,
    "exception_type": pl.String(),  # the first throttling exception seen
    "cause": pl.String(),  # "downstream_api_limit"
    "example_trace_id": pl.String(),
    "retries_unknown": pl.Int64(),  # calls with no `retries` field: their retries are unknown
}


def downstream_calls(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per downstream call, Lambda invokes excluded.

    A call is an outermost ``aws``/``remote`` subsegment, as the service map defines it
    (:func:`analyses._calls.span_tree`): the steps nested inside it are not calls.

    Returns
    -------
    pl.DataFrame
        trace_id, source (the owning segment's name), service, resource, operation, namespace,
        start_time, retries (null when the subsegment has no ``retries`` field: unknown, not
        0), throttled, exception_type.
    """
    # NOTE: the tree only locates the outermost calls and their owners; every other column is
    # read from ``spans`` so this does not depend on which columns the tree carries. A call's
    # attributes are those of the first span with its (trace_id, id), as a deduplicating join
    # would give; unless ids repeat, that is the call's own row.
    check_inputs(spans=spans)
    tree = span_tree(spans)
    outermost = tree.select(
        OUTERMOST_CALL & pl.col("trace_id").is_not_null() & pl.col("id").is_not_null()
    ).to_series()
    columns = spans.select(_CALL_COLUMNS)
    # NOTE: Lambda invokes are counted by invocation_throttles, not here.
    invoke = (
        pl.col("aws_operation").is_in(INVOKE_OPERATIONS) & pl.col("function_name").is_not_null()
    ).fill_null(value=False)
    if ids_repeat(spans):
        call_rows = outermost.arg_true()
        columns = columns.select(pl.all().gather(first_rows(spans, call_rows)))
        owners = tree["owner_row"].gather(call_rows)
        not_invoke = columns.select(~invoke).to_series()
        columns, owners = columns.filter(not_invoke), owners.filter(not_invoke)
    else:
        # NOTE: filtering shares the strings' bytes with ``spans``; gathering rows out of its
        # many chunks would copy them. One filter leaves out the invokes too.
        wanted = outermost & ~spans.select(invoke).to_series()
        columns, owners = columns.filter(wanted), tree["owner_row"].filter(wanted)
    rows = columns.with_columns(tree["name"].gather(owners).alias("source"))
    throttled = is_throttled() | text("exception_type").str.contains(
        THROTTLING_EXCEPTIONS
    ).fill_null(value=False)
    return rows.select(
        "trace_id",
        pl.col("source").fill_null("unknown"),
        pl.col("name").alias("service"),
        pl.coalesce("aws_resource", "host").alias("resource"),
        pl.coalesce("aws_operation", "http_method").alias("operation"),
        "namespace",
        "start_time",
        pl.col("aws_retries").cast(pl.Int64).alias("retries"),
        throttled.alias("throttled"),
        "exception_type",
    )


DOWNSTREAM_KEYS = ("source", "service", "resource", "operation", "namespace")
DOWNSTREAM_COUNT_EXPRS: dict[str, pl.Expr] = {
    "throttled_calls": pl.col("throttled").sum().cast(pl.Int64),
    "calls": pl.len().cast(pl.Int64),
    "retries": pl.col("retries").sum().cast(pl.Int64),  # over the calls recording them
    "retries_unknown": pl.col("retries").null_count().cast(pl.Int64),
}
"""The counts of ``DOWNSTREAM_THROTTLE_SCHEMA`` over rows of :func:`downstream_calls` (an
aggregation per ``DOWNSTREAM_KEYS``; rollups count the same per hour):
:func:`with_known_retries` then makes ``retries`` unknown where no call recorded them."""


def with_known_retries(counts: pl.DataFrame) -> pl.DataFrame:
    """``DOWNSTREAM_COUNT_EXPRS`` counts with ``retries`` null (unknown, not 0) when no call
    recorded a ``retries`` field."""
    recorded = pl.col("retries_unknown") < pl.col("calls")
    return counts.with_columns(pl.when(recorded).then(pl.col("retries")).alias("retries"))


def downstream_throttles(spans: pl.DataFrame) -> pl.DataFrame:
    """Throttled calls from services (functions) to AWS APIs and remote endpoints.

    A call is an outermost ``aws``/``remote`` subsegment (its nested steps are not calls) other
    than a Lambda ``Invoke``. It is throttled when flagged, answered 429, or failed with a
    throttling exception (``ProvisionedThroughputExceededException``, ``ThrottlingException``,
    ``TooManyRequestsException``, ``RequestLimitExceeded``, ...).

    Returns
    -------
    pl.DataFrame
        ``DOWNSTREAM_THROTTLE_SCHEMA``: groups with at least one throttled call, most first.
    """
    return _downstream(spans)[0]


def throttled_downstream_calls(spans: pl.DataFrame) -> pl.DataFrame:
    """The throttled rows of :func:`downstream_calls`, ordered by start time and trace."""
    return _downstream(spans)[1]


@memoized
def _downstream(spans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The downstream throttle table and the throttled calls, from one pass over the calls.

    NOTE: the calls of a million segments take tens of MB; only these two small results are
    kept for the analyses reading them (the table, the throttle timeline).
    """
    calls = downstream_calls(spans)
    # NOTE: only the throttled calls are put in order (their first exception and trace are
    # the examples): sorting every call cost more than the rest of the table.
    throttled = calls.filter("throttled").sort("start_time", "trace_id", maintain_order=True)
    if calls.is_empty():
        return empty_frame(DOWNSTREAM_THROTTLE_SCHEMA), throttled
    groups = list(DOWNSTREAM_KEYS)
    counts = with_known_retries(
        calls.group_by(DOWNSTREAM_KEYS).agg(
            *(expr.alias(name) for name, expr in DOWNSTREAM_COUNT_EXPRS.items())
        )
    )
    examples = throttled.group_by(groups).agg(
        pl.col("start_time").min().alias("first_time"),
        pl.col("start_time").max().alias("last_time"),
        pl.col("exception_type").drop_nulls().first().alias("exception_type"),
        pl.col("trace_id").first().alias("example_trace_id"),
    )
    # NOTE: the groups without a throttled call have no examples and are left out.
    table = counts.join(examples, on=groups, how="inner", nulls_equal=True).with_columns(
        (pl.col("throttled_calls") / pl.col("calls")).alias("throttle_rate"),
        pl.lit(DOWNSTREAM_CAUSE).alias("cause"),
    )
    ordered = shaped(table, DOWNSTREAM_THROTTLE_SCHEMA).sort(
        ["throttled_calls", "source", "service", "resource"],
        descending=[True, False, False, False],
        nulls_last=True,
    )
    return ordered, throttled
