"""The catalog of normalized tables: every column tracelens stores or computes on.

Ingest produces frames with exactly these schemas; analyses may rely on them and nothing else.
A test checks every producer against this catalog, so a column is added here first.
"""

from __future__ import annotations

import polars as pl

UTC_US = pl.Datetime("us", "UTC")

# One row per segment and per subsegment (nested subsegments flattened).
SPAN_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "id": pl.String(),
    # The parent's id: for nested subsegments the enclosing (sub)segment; for documents the
    # document's own `parent_id` (a caller's subsegment in another document, or null for a root).
    "parent_id": pl.String(),
    # The segment this row belongs to: the top-level document for nested rows; for an
    # independent subsegment document, the segment owning its parent when that is known.
    "segment_id": pl.String(),
    "kind": pl.String(),  # "segment" | "subsegment"
    "depth": pl.Int16(),  # 0 for a document's root; nested subsegments count from 1
    "name": pl.String(),
    "origin": pl.String(),  # AWS::Lambda, AWS::Lambda::Function, AWS::DynamoDB::Table, ...
    "namespace": pl.String(),  # "aws" | "remote" | other | null
    "start_time": UTC_US,
    "end_time": UTC_US,  # null while in progress
    "duration_ms": pl.Float64(),  # null while in progress
    "in_progress": pl.Boolean(),
    "error": pl.Boolean(),
    "fault": pl.Boolean(),
    "throttle": pl.Boolean(),
    "inferred": pl.Boolean(),
    "http_method": pl.String(),
    "http_url": pl.String(),
    "http_status": pl.Int32(),
    "aws_operation": pl.String(),
    # The resource the call touched: table name, queue URL, topic ARN, function name, or the
    # first of `resource_names`.
    "aws_resource": pl.String(),
    # The resource a call touched, as an identity: its type in the names OpenTelemetry's
    # `aws.remote.resource.type` uses (AWS::S3::Bucket, AWS::SQS::Queue, AWS::SNS::Topic,
    # AWS::DynamoDB::Table, AWS::Lambda::Function; other services AWS::<subsegment name>) and
    # its name (bucket, queue name from the URL, topic name from the ARN, table, function
    # name), as `aws.remote.resource.identifier` gives it. X-Ray documents fill it from
    # `aws.bucket_name`, `queue_url`, `topic_arn`, `table_name`, `function_name`/`function_arn`,
    # else the first of `resource_names`; null when the call names no resource.
    "resource_type": pl.String(),
    "resource_id": pl.String(),
    # Lambda function name: `aws.function_name`, else taken from `function_arn`/`resource_arn`.
    "function_name": pl.String(),
    "aws_request_id": pl.String(),
    "aws_retries": pl.Int32(),
    # Host of the remote peer: from the URL, else from host-like attributes
    # (net.peer.name, server.address, dns.question.name, ...) in annotations or metadata.
    "host": pl.String(),
    "exception_type": pl.String(),  # the first exception's type
    "exception_message": pl.String(),  # the first exception's message
    "exception_count": pl.Int32(),
    "cause_ref": pl.String(),  # `cause` given as a 16-hex exception id
    "annotations": pl.String(),  # JSON object text, null when there are none
    # The AWS region the span names: `aws.region`, else the region of its function ARN or
    # `resource_arn` (or an ARN-shaped resource), else a `cloud.region` attribute.
    "region": pl.String(),
    # True when the span records the addresses a DNS lookup returned (`http.dns.addrs`
    # metadata: older ADOT exporters name such a lookup after the host); null otherwise.
    "dns_answer": pl.Boolean(),
    # What invoked the span, where the record says so (read on receiving spans: segments and
    # their direct children): `sqs` for an X-Ray segment holding a trace link of reference
    # type `parent` (X-Ray links SQS producers' traces to the consuming function's trace) or
    # an OpenTelemetry span with `faas.trigger` whose `messaging.system` names SQS; else
    # OpenTelemetry's `faas.trigger` (`http`, `pubsub`, `datasource`, `timer`, `other`);
    # null when nothing says.
    "trigger": pl.String(),
}

# Span columns that no analysis, JSON section or report reads (the store keeps them for its
# readers' own queries): `Store.load_inputs(analysed_columns_only=True)` leaves them unread and
# gives them as nulls (each costs a 16-byte view per span: 1M segments, about 40 MB).
# tests/store/test_analysed_columns.py fails when code outside ingest and the store names one: an
# analysis starting to read it takes it off this list, and the store then loads it.
UNANALYSED_SPAN_COLUMNS: tuple[str, ...] = ("cause_ref", "annotations")

# Span columns of few distinct values (names, operations, resources, hosts, not ids): every
# analysis and the report read them as `pl.Categorical` too, and
# `Store.load_inputs(analysed_columns_only=True)` gives them so, each part cast as it is read
# (4 bytes a span instead of a 16-byte view and the text; 1M segments: 1,040 -> 664 MB). An
# analysis applies `.str` to them through `analyses._frames.text`, and joins or concatenates
# them with String only once they are few (its results are String). tests/store/
# test_analysed_columns.py runs every analysis, the contract, the report and the rollup on such
# a load and on the plain one and compares them.
CATEGORICAL_SPAN_COLUMNS: tuple[str, ...] = (
    "kind",
    "namespace",
    "name",
    "origin",
    "http_method",
    "http_url",
    "aws_operation",
    "aws_resource",
    "resource_type",
    "resource_id",
    "function_name",
    "host",
    "exception_type",
    "region",
    "trigger",
)

# Span columns added after the first stores were written: parts without them read as nulls.
ADDED_SPAN_COLUMNS: tuple[str, ...] = (
    "resource_type",
    "resource_id",
    "region",
    "dns_answer",
    "trigger",
)

# Which paths a stored run read traces from, and where its account/region sends them: one row
# per trace path the run's pages hold ("xray", "aws_spans", "otlp", "retrieved_traces"; see
# tracelens.tracepaths), and one row with a null path per GetTraceSegmentDestination answer.
TRACE_READ_SCHEMA: dict[str, pl.DataType] = {
    "path": pl.String(),
    "timestamp": UTC_US,  # the end of the run's window, else when it was stored
    "documents": pl.Int64(),  # documents of that path in the run; null on a destination row
    "destination": pl.String(),  # "CloudWatchLogs" | "XRay" (the API's words); null on a path row
    "destination_status": pl.String(),  # "ACTIVE" | "PENDING"
    # The Default indexing rule's sampling percentage: the share X-Ray indexes as summaries.
    "indexed_percent": pl.Float64(),
}

# One row per Lambda platform REPORT record (text or JSON log format).
REPORT_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),  # from the log group /aws/lambda/<name>, when known
    "request_id": pl.String(),
    "timestamp": UTC_US,  # null when the source carries no time
    "duration_ms": pl.Float64(),
    "billed_duration_ms": pl.Float64(),
    "memory_size_mb": pl.Int32(),
    "max_memory_used_mb": pl.Int32(),
    "init_duration_ms": pl.Float64(),  # null on warm invocations
    "restore_duration_ms": pl.Float64(),  # SnapStart
    "status": pl.String(),  # "success" | "error" | "timeout" | null
    "trace_id": pl.String(),  # XRAY TraceId when logged
}

# One row per notable log event that is not a REPORT: timeouts and DNS failures.
LOG_EVENT_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),
    "request_id": pl.String(),
    "timestamp": UTC_US,
    "kind": pl.String(),  # "timeout" | "dns_failure" | "init_start" | "start" | "end"
    "message": pl.String(),
}

# One row per datapoint of a GetMetricData result.
METRIC_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),  # null for account-level metrics
    "metric": pl.String(),  # Invocations, Throttles, Duration, ConcurrentExecutions, ...
    "stat": pl.String(),  # Sum, Maximum, Average, p95, ...
    "timestamp": UTC_US,
    "value": pl.Float64(),
}

# One row per function from ListFunctions, joined with concurrency settings where known.
FUNCTION_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),
    "function_arn": pl.String(),
    "runtime": pl.String(),
    "memory_size_mb": pl.Int32(),
    "timeout_s": pl.Int32(),
    "architecture": pl.String(),
    "code_size_bytes": pl.Int64(),
    "vpc_attached": pl.Boolean(),
    "vpc_id": pl.String(),
    "snapstart": pl.Boolean(),
    "reserved_concurrency": pl.Int32(),  # null when not set
    "provisioned_concurrency": pl.Int32(),  # null when not set
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A frame with no rows and exactly the given schema."""
    return pl.DataFrame(schema=schema)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast ``frame`` to ``schema``, adding missing columns as nulls."""
    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in schema.items()
        ]
    )
