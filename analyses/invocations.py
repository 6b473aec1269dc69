"""One row per Lambda function execution, with its cold-start classification.

An execution is an ``AWS::Lambda::Function`` segment. Its parent is the ``AWS::Lambda`` service
segment (which carries the request id), and a cold start shows as an ``Initialization``
subsegment (or ``Restore`` with SnapStart) directly under the function segment.

Cold-start kinds
----------------
``snapstart``
    A ``Restore`` subsegment is present: the environment was resumed from a snapshot.
``provisioned``
    The ``Initialization`` ended more than ``provisioned_gap_ms`` before the function segment
    started: the environment was prepared ahead of the request (provisioned concurrency, or
    Lambda's own proactive initialization), so the caller never waited for it.
``on_demand``
    Any other ``Initialization``: the request waited for it.

The default tolerance, 100 ms, sits between the two populations. An on-demand init ends right
as the invocation begins: the gap is a few milliseconds at most (``AWS::Lambda`` timestamps have
millisecond precision and the init and invoke phases are recorded back to back; AWS's own sample
trace shows 11 ms). A pre-initialized environment waits for its first request for seconds to
hours. 100 ms is an order of magnitude above the first and far below the second.

Invocation paths (``invocation_path``)
--------------------------------------
Whether a caller waited for the execution, from what its trace shows:

``async``
    Lambda queued the event: the execution's ``AWS::Lambda`` segment holds a ``Dwell Time`` or
    ``Attempt #N`` subsegment (asynchronous invokes from S3, SNS, EventBridge, or ``Invoke``
    with ``InvocationType=Event``), or the trace starts at a service that delivers events
    rather than answering a caller (a topic, bucket, event bus, schedule or state machine:
    ``ASYNC_ROOT_ORIGINS``), or OpenTelemetry's ``faas.trigger`` says an event source other
    than SQS invoked it (``pubsub``, ``datasource``, ``timer``: ``ASYNC_TRIGGERS``).
``event_source``
    Lambda's event source mapping polled an SQS queue and invoked the function with a batch
    of messages: the producer that called ``SendMessage`` had its answer when the message was
    queued, and nobody waits for the invocation. The traces show it in three forms: the
    execution's ``AWS::Lambda`` segment (or, without one, its function segment) is the child of
    an SQS ``SendMessage``/``SendMessageBatch`` subsegment of the same trace (the trace header
    travelled in the message's ``AWSTraceHeader`` attribute); X-Ray's trace linking puts the
    consumer in its own trace, its segment holding a link of reference type ``parent`` to the
    producers' traces (span column ``trigger`` ``sqs``); OpenTelemetry's Lambda instrumentation
    marks the function span, or the ``CONSUMER`` span of the batch directly under it, with
    ``faas.trigger`` ``pubsub`` and a ``messaging.system`` naming SQS (``trigger`` ``sqs``). A
    trace that starts at an ``AWS::SQS::Queue`` segment counts too.
    NOTE: a value apart from ``async``, rather than ``async`` itself: the poller invokes the
    function synchronously, so there is no ``Dwell Time`` and no Lambda async retry; failed
    batches return to the queue (visibility timeout, the queue's redrive policy), and the
    queue's age of oldest message, not Lambda's event age, measures the wait.
``after_response``
    The execution started after the trace's entry segment had ended: the entry (an API, say)
    had answered already, as with a Step Functions task of a workflow the API started.
``sync``
    Anything else: the execution is on the path of the entry request (API Gateway, a load
    balancer, a function URL, a synchronous ``Invoke``), so its cold start is user-facing.
"""

from __future__ import annotations

import polars as pl

from analyses._frames import collect_in_memory, text, text_contains
from analyses._output import check_inputs, shaped
from analyses._tree import links_are_joins, parent_rows
from analyses.memo import memoized
from tracelens.schema import UTC_US, empty_frame

FUNCTION_ORIGIN = "AWS::Lambda::Function"
SERVICE_ORIGIN = "AWS::Lambda"
INIT_NAME = "Initialization"
RESTORE_NAME = "Restore"
DEFAULT_PROVISIONED_GAP_MS = 100.0
INVOKE_OPERATIONS = ("Invoke", "InvokeAsync", "InvokeWithResponseStream")
DWELL_NAME = "Dwell Time"
ATTEMPT_PATTERN = r"^Attempt #(\d+)$"
# Trace roots that deliver events rather than answer a waiting caller (a queue polled by an
# event source mapping is EVENT_SOURCE_ROOT_ORIGINS).
ASYNC_ROOT_ORIGINS = (
    "AWS::SNS",
    "AWS::SNS::Topic",
    "AWS::S3",
    "AWS::S3::Bucket",
    "AWS::Events",
    "AWS::Scheduler",
    "AWS::StepFunctions::StateMachine",
)
EVENT_SOURCE_ROOT_ORIGINS = ("AWS::SQS::Queue",)
# The span column ``trigger`` of an SQS event source mapping's invocation (tracelens/schema.py).
SQS_TRIGGER = "sqs"
# OpenTelemetry ``faas.trigger`` values of event sources that leave no caller waiting.
ASYNC_TRIGGERS = ("pubsub", "datasource", "timer")
SQS_SEND_OPERATIONS = ("SendMessage", "SendMessageBatch")
# AWS::Lambda timestamps have millisecond precision: a start within this of the entry's end is
# not "after" it.
_AFTER_TOLERANCE_MS = 1.0

INVOCATION_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "segment_id": pl.String(),  # the AWS::Lambda::Function segment's id
    "function_name": pl.String(),
    "start_time": UTC_US,
    "end_time": UTC_US,  # null while in progress
    "duration_ms": pl.Float64(),  # null while in progress
    "in_progress": pl.Boolean(),
    "request_id": pl.String(),
    "cold": pl.Boolean(),  # first request of its environment, whatever the kind
    "cold_kind": pl.String(),  # "on_demand" | "provisioned" | "snapstart" | null
    "init_ms": pl.Float64(),  # Initialization duration, or Restore duration for SnapStart
    "init_gap_ms": pl.Float64(),  # segment start minus init end; negative when they overlap
    "error": pl.Boolean(),
    "fault": pl.Boolean(),
    "throttle": pl.Boolean(),
    # "sync" | "async" | "event_source" | "after_response" (module docstring)
    "invocation_path": pl.String(),
}


def _ms_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_microseconds().cast(pl.Float64) / 1000.0


def function_segments(spans: pl.DataFrame) -> pl.DataFrame:
    """The ``AWS::Lambda::Function`` segments of ``spans`` (execution views)."""
    return spans.filter(is_segment_of(FUNCTION_ORIGIN))


def service_segments(spans: pl.DataFrame) -> pl.DataFrame:
    """The ``AWS::Lambda`` segments of ``spans`` (the Lambda service's view of a request)."""
    return spans.filter(is_segment_of(SERVICE_ORIGIN))


def is_segment_of(origin: str) -> pl.Expr:
    """A non-inferred segment with the given ``origin``.

    Filtering a narrow selection (or a lazy frame) with this copies only the columns needed,
    where ``function_segments``/``service_segments`` copy every span column.
    """
    return (
        (pl.col("kind") == "segment")
        & (pl.col("origin") == origin)
        & ~pl.col("inferred").fill_null(value=False)
    )


def is_throttled() -> pl.Expr:
    """A span marks a throttle: the flag, HTTP 429 or Lambda's ``TooManyRequestsException``."""
    return (
        pl.col("throttle").fill_null(value=False)
        | (pl.col("http_status") == 429).fill_null(value=False)
        | text("exception_type").str.ends_with("TooManyRequestsException").fill_null(value=False)
    )


def _with_paths(
    executions: pl.LazyFrame, spans: pl.DataFrame, source: pl.LazyFrame, *, linked: bool
) -> pl.LazyFrame:
    """``executions`` given their ``invocation_path``.

    ``executions`` carry ``parent_id`` (their AWS::Lambda segment), ``caller`` (that segment's
    parent, else the function segment's own) and ``trigger`` (the AWS::Lambda segment's, else
    the function segment's); those columns are dropped. ``source`` reads ``spans``;
    ``linked``: ``executions`` and ``source`` carry ``row`` and ``parent_row``
    (``analyses._tree.parent_rows``) and the executions ``caller_row`` (the caller's row),
    which are followed instead of joining ids.
    """
    queued = (
        source.filter(
            (pl.col("kind") == "subsegment")
            & ((pl.col("name") == DWELL_NAME) | text_contains(spans, "name", ATTEMPT_PATTERN))
        )
        .select("trace_id", pl.col("segment_id").alias("parent_id"))
        .unique()
        .with_columns(pl.lit(value=True).alias("queued"))
    )
    # NOTE: an SQS batch's CONSUMER span sits directly under the function span (OpenTelemetry).
    child_of, child_on = (
        (pl.col("parent_row").alias("row"), ["row"])
        if linked
        else (pl.col("parent_id").alias("segment_id"), ["trace_id", "segment_id"])
    )
    child_triggers = (
        source.filter((pl.col("kind") == "subsegment") & pl.col("trigger").is_not_null())
        .group_by(*child_on[:-1], child_of)
        .agg(pl.col("trigger").sort_by(pl.col("trigger") != SQS_TRIGGER).first().alias("child"))
    )
    sender_on = ["caller_row"] if linked else ["trace_id", "caller"]
    sqs_sends = (
        source.filter(
            (pl.col("kind") == "subsegment")
            & pl.col("aws_operation").is_in(SQS_SEND_OPERATIONS)
            & ((pl.col("resource_type") == "AWS::SQS::Queue") | (pl.col("name") == "SQS"))
        )
        .select(
            pl.col("row").alias("caller_row")
            if linked
            else [pl.col("trace_id"), pl.col("id").alias("caller")]
        )
        .unique()
        .with_columns(pl.lit(value=True).alias("from_queue"))
    )
    roots = (
        source.filter((pl.col("kind") == "segment") & pl.col("parent_id").is_null())
        .sort("start_time")
        .group_by("trace_id")
        .agg(
            pl.col("origin").first().alias("root_origin"),
            pl.col("end_time").first().alias("root_end"),
        )
    )
    after = _ms_between(pl.col("start_time"), pl.col("root_end")) > _AFTER_TOLERANCE_MS
    # NOTE: SQS wins where the execution's segments and the span under it disagree.
    trigger = (
        pl.when(pl.col("child") == SQS_TRIGGER)
        .then(pl.col("child"))
        .otherwise(pl.coalesce("trigger", "child"))
    )
    from_sqs = (
        (trigger == SQS_TRIGGER).fill_null(value=False)
        | pl.col("from_queue").fill_null(value=False)
        | pl.col("root_origin").is_in(EVENT_SOURCE_ROOT_ORIGINS).fill_null(value=False)
    )
    delivered = pl.col("root_origin").is_in(ASYNC_ROOT_ORIGINS).fill_null(value=False) | (
        trigger.is_in(ASYNC_TRIGGERS).fill_null(value=False)
    )
    path = (
        pl.when(pl.col("queued").fill_null(value=False))
        .then(pl.lit("async"))
        .when(from_sqs)
        .then(pl.lit("event_source"))
        .when(delivered)
        .then(pl.lit("async"))
        .when(after.fill_null(value=False))
        .then(pl.lit("after_response"))
        .otherwise(pl.lit("sync"))
    )
    return (
        executions.join(queued, on=["trace_id", "parent_id"], how="left", maintain_order="left")
        .join(child_triggers, on=child_on, how="left", maintain_order="left")
        .join(sqs_sends, on=sender_on, how="left", maintain_order="left")
        .join(roots, on="trace_id", how="left", maintain_order="left")
        .with_columns(path.alias("invocation_path"))
        .drop(
            "parent_id",
            "caller",
            "trigger",
            "queued",
            "child",
            "from_queue",
            "root_origin",
            "root_end",
            *(["row", "caller_row"] if linked else []),
        )
    )


def _init_phases(spans: pl.LazyFrame, *, linked: bool) -> pl.LazyFrame:
    """Per function segment (``trace_id``, ``fn_id``; ``linked``: ``row``): the init (or
    restore) duration and end time."""
    keys = (
        [pl.col("parent_row").alias("row")]
        if linked
        else ["trace_id", pl.col("parent_id").alias("fn_id")]
    )
    phases = spans.filter(
        (pl.col("kind") == "subsegment") & pl.col("name").is_in([INIT_NAME, RESTORE_NAME])
    ).select(
        *keys,
        (pl.col("name") == RESTORE_NAME).alias("is_restore"),
        "duration_ms",
        "end_time",
    )

    # NOTE: a Restore wins over an Initialization under the same segment: with SnapStart the
    # restore is the latency the caller waited for.
    def chosen(column: str) -> pl.Expr:
        return pl.col(column).sort_by("is_restore", descending=True).first()

    return phases.group_by(*(["row"] if linked else ["trace_id", "fn_id"])).agg(
        chosen("is_restore").alias("snapstart"),
        chosen("duration_ms").alias("init_ms"),
        chosen("end_time").alias("init_end"),
    )


@memoized
def invocations(
    spans: pl.DataFrame, *, provisioned_gap_ms: float = DEFAULT_PROVISIONED_GAP_MS
) -> pl.DataFrame:
    """One row per function execution (``AWS::Lambda::Function`` segment).

    Parameters
    ----------
    provisioned_gap_ms
        An ``Initialization`` ending more than this long before the function segment starts is
        classified ``provisioned`` (pre-initialized) rather than ``on_demand``.

    Returns
    -------
    pl.DataFrame
        ``INVOCATION_SCHEMA``, ordered by start time. Flags are the OR of the function segment
        and its ``AWS::Lambda`` parent; in-progress executions have null end and duration.
    """
    check_inputs(spans=spans)
    # NOTE: where every (trace_id, id) is one span's, the parent links the span tree follows
    # (``parent_rows``, computed once for all) replace the joins on ids (1M segments: 0.58 ->
    # 0.39 s CPU once the links are built). Where they could differ (``links_are_joins``),
    # the ids are joined.
    linked = _linked_functions(spans) if links_are_joins(spans) else None
    if linked is None:
        source = spans.lazy()
        joined = _joined_by_ids(spans, source)
    else:
        functions, source = linked
        joined = _joined_by_rows(functions, source)
    init_gap = _ms_between(pl.col("start_time"), pl.col("init_end"))
    cold_kind = (
        pl.when(pl.col("snapstart"))
        .then(pl.lit("snapstart"))
        .when(pl.col("snapstart").is_not_null() & (init_gap > provisioned_gap_ms))
        .then(pl.lit("provisioned"))
        .when(pl.col("snapstart").is_not_null())
        .then(pl.lit("on_demand"))
    )

    def either(own: str, svc: str) -> pl.Expr:
        return (pl.col(own).fill_null(value=False) | pl.col(svc).fill_null(value=False)).alias(own)

    frame = joined.select(
        "trace_id",
        pl.col("id").alias("segment_id"),
        pl.coalesce("name", "function_name").alias("function_name"),
        "start_time",
        "end_time",
        "duration_ms",
        pl.col("in_progress").fill_null(value=False),
        pl.coalesce("svc_request_id", "aws_request_id").alias("request_id"),
        pl.col("snapstart").is_not_null().alias("cold"),
        cold_kind.alias("cold_kind"),
        "init_ms",
        init_gap.alias("init_gap_ms"),
        either("error", "svc_error"),
        either("fault", "svc_fault"),
        either("throttle", "svc_throttle"),
        "parent_id",
        pl.when(pl.col("has_service"))
        .then(pl.col("svc_parent"))
        .otherwise(pl.col("parent_id"))
        .alias("caller"),
        pl.coalesce("svc_trigger", "trigger").alias("trigger"),
        *(
            []
            if linked is None
            else [
                "row",
                pl.when(pl.col("has_service"))
                .then(pl.col("svc_parent_row"))
                .otherwise(pl.col("parent_row"))
                .alias("caller_row"),
            ]
        ),
    )
    executions = collect_in_memory(_with_paths(frame, spans, source, linked=linked is not None))
    if executions.is_empty():
        return empty_frame(INVOCATION_SCHEMA)
    return shaped(executions, INVOCATION_SCHEMA).sort(
        "start_time", "trace_id", "segment_id", maintain_order=True
    )


def _service_columns(key: pl.Expr | str) -> list[pl.Expr]:
    """An ``AWS::Lambda`` segment's columns a function segment reads, ``key`` first."""
    return [
        pl.col(key) if isinstance(key, str) else key,
        pl.col("aws_request_id").alias("svc_request_id"),
        pl.col("error").alias("svc_error"),
        pl.col("fault").alias("svc_fault"),
        pl.col("throttle").alias("svc_throttle"),
        pl.col("parent_id").alias("svc_parent"),
        pl.col("trigger").alias("svc_trigger"),
        pl.lit(value=True).alias("has_service"),
    ]


def _joined_by_ids(spans: pl.DataFrame, source: pl.LazyFrame) -> pl.LazyFrame:
    """Function segments with their AWS::Lambda segment's columns and their init phase,
    joined on ids."""
    functions = source.filter(is_segment_of(FUNCTION_ORIGIN))
    service = source.filter(is_segment_of(SERVICE_ORIGIN)).select(
        "trace_id", *_service_columns(pl.col("id").alias("parent_id"))
    )
    # NOTE: executions keep the spans' order, so that ties in the final sort do too.
    # NOTE: a function segment's parent is its AWS::Lambda segment, or (asynchronous invokes)
    # an ``Attempt #N`` subsegment of it: such a parent is mapped to the segment owning it.
    attempt_owner = source.filter(
        (pl.col("kind") == "subsegment") & text_contains(spans, "name", ATTEMPT_PATTERN)
    ).select("trace_id", pl.col("id").alias("parent_id"), pl.col("segment_id").alias("via"))
    functions = functions.join(
        attempt_owner, on=["trace_id", "parent_id"], how="left", maintain_order="left"
    ).with_columns(
        pl.coalesce("via", "parent_id").alias("parent_id"),
    )
    return functions.join(
        service, on=["trace_id", "parent_id"], how="left", maintain_order="left"
    ).join(
        _init_phases(source, linked=False),
        left_on=["trace_id", "id"],
        right_on=["trace_id", "fn_id"],
        how="left",
        maintain_order="left",
    )


def _joined_by_rows(functions: pl.DataFrame, source: pl.LazyFrame) -> pl.LazyFrame:
    """``_joined_by_ids`` of the ``_linked_functions``, joined on their rows."""
    service = source.filter(is_segment_of(SERVICE_ORIGIN)).select(
        *_service_columns(pl.col("row").alias("parent_row")),
        pl.col("parent_row").alias("svc_parent_row"),
    )
    return (
        functions.lazy()
        .join(service, on="parent_row", how="left", maintain_order="left")
        .join(_init_phases(source, linked=True), on="row", how="left", maintain_order="left")
    )


def _linked_functions(spans: pl.DataFrame) -> tuple[pl.DataFrame, pl.LazyFrame] | None:
    """The function segments with ``row`` and ``parent_row``, mapped as ``_joined_by_ids``
    maps them (an ``Attempt #N`` parent to its segment, ``parent_id`` too), and ``spans``
    with ``row`` and ``parent_row``; None when an ``Attempt #N`` parent's segment is not its
    parent (then only its ``segment_id`` names it)."""
    parents = parent_rows(spans)
    is_function = spans.select(is_segment_of(FUNCTION_ORIGIN).fill_null(value=False)).to_series()
    rows = is_function.arg_true()
    up = parents.gather(rows)
    # NOTE: only the parents of function segments are matched against the pattern.
    above = pl.DataFrame(
        {
            "kind": spans["kind"].gather(up),
            "name": spans["name"].gather(up),
            "via": spans["segment_id"].gather(up),
            "owner": parents.gather(up),
        }
    )
    attempt = above.select(
        ((pl.col("kind") == "subsegment") & text("name").str.contains(ATTEMPT_PATTERN)).fill_null(
            value=False
        )
    ).to_series()
    attempts = above.filter(attempt)
    if not attempts.is_empty():
        owner_id = spans["id"].gather(attempts["owner"])
        if not (owner_id == attempts["via"]).fill_null(value=False).all():
            return None
    functions = (
        spans.select(
            "trace_id",
            "id",
            "name",
            "function_name",
            "start_time",
            "end_time",
            "duration_ms",
            "in_progress",
            "aws_request_id",
            "error",
            "fault",
            "throttle",
            "parent_id",
            "trigger",
        )
        .filter(is_function)
        .with_columns(
            row=rows,
            parent_row=above["owner"].zip_with(attempt, up),
            parent_id=above["via"].zip_with(attempt, spans["parent_id"].filter(is_function)),
        )
    )
    source = spans.with_columns(parents.alias("parent_row")).with_row_index("row").lazy()
    return functions, source
