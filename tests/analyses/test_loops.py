"""Loops through resource identities (analyses.loops), from documents in X-Ray's shapes."""

from __future__ import annotations

from typing import Any

import polars as pl

from analyses.loops import LOOP_EDGE_SCHEMA, LOOP_SCHEMA, loop_edges, resource_loops
from analyses.service_map import service_map_edges
from tracelens.ingest.normalize import normalize_documents
from tracelens.schema import SPAN_SCHEMA, conform

TRACE = "1-6b0010b0-0123456789abcdef01234567"
FN = "AWS::Lambda::Function"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"


T0 = 1_800_000_000.0  # an epoch inside the accepted time range


def _id(n: int) -> str:
    return f"{n:016x}"


def call(n: int, service: str, start: float, **aws: Any) -> dict[str, Any]:
    return {
        "id": _id(n),
        "name": service,
        "namespace": "aws",
        "start_time": T0 + start,
        "end_time": T0 + start + 0.05,
        "aws": aws,
    }


def function(
    n: int, name: str, start: float, calls: list[dict[str, Any]], parent: int | None = None
) -> list[dict[str, Any]]:
    """The AWS::Lambda segment (named "Lambda", as some traces show it) and the function's."""
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    service: dict[str, Any] = {
        "id": _id(n),
        "trace_id": TRACE,
        "name": "Lambda",
        "origin": "AWS::Lambda",
        "resource_arn": arn,
        "start_time": T0 + start,
        "end_time": T0 + start + 1,
    }
    if parent is not None:
        service["parent_id"] = _id(parent)
    body = {
        "id": _id(n + 1),
        "trace_id": TRACE,
        "parent_id": _id(n),
        "name": name,
        "origin": "AWS::Lambda::Function",
        "resource_arn": arn,
        "start_time": T0 + start + 0.01,
        "end_time": T0 + start + 0.9,
        "subsegments": calls,
    }
    return [service, body]


def test_a_function_feeding_its_own_queue_loops_through_the_queue() -> None:
    send = call(10, "SQS", 100.2, operation="SendMessage", queue_url=QUEUE_URL)
    spans = normalize_documents(
        [*function(1, "worker", 100.0, [send]), *function(20, "worker", 101.0, [], parent=10)]
    )
    loops = resource_loops(spans)
    assert dict(loops.schema) == LOOP_SCHEMA
    assert loops.select("path", "closing_resource", "functions", "calls", "confirmed").rows() == [
        (
            f"AWS::SQS::Queue:jobs -> {FN}:worker -> AWS::SQS::Queue:jobs",
            "AWS::SQS::Queue:jobs",
            1,
            1,
            True,
        )
    ]


def test_reading_the_trigger_bucket_is_no_loop() -> None:
    upload = call(10, "S3", 100.1, operation="PutObject", bucket_name="in")
    reads_and_writes = [
        call(30, "S3", 101.1, operation="GetObject", bucket_name="in"),
        call(31, "S3", 101.2, operation="HeadObject", bucket_name="in"),
        call(32, "S3", 101.3, operation="PutObject", bucket_name="out"),
    ]
    spans = normalize_documents(
        [
            *function(1, "upload", 100.0, [upload]),
            *function(20, "thumbs", 101.0, reads_and_writes, parent=10),
        ]
    )
    edges = loop_edges(spans)
    assert dict(edges.schema) == LOOP_EDGE_SCHEMA
    assert set(edges.select("source", "target").rows()) == {
        (f"{FN}:upload", "AWS::S3::Bucket:in"),
        ("AWS::S3::Bucket:in", f"{FN}:thumbs"),
        (f"{FN}:thumbs", "AWS::S3::Bucket:out"),
    }
    assert resource_loops(spans).is_empty()


def test_same_display_node_different_buckets_is_no_loop() -> None:
    spans = normalize_documents(
        [
            *function(
                1, "upload", 100.0, [call(10, "S3", 100.1, operation="PutObject", bucket_name="in")]
            ),
            *function(
                20,
                "thumbs",
                101.0,
                [call(30, "S3", 101.2, operation="PutObject", bucket_name="out")],
                parent=10,
            ),
        ]
    )
    assert resource_loops(spans).is_empty()


def test_a_call_starting_before_its_segment_draws_no_edge() -> None:
    # recorded 5 s before the function segment began (an SDK artifact)
    early = call(10, "Lambda", 95.0, operation="Invoke", function_name="self-caller")
    spans = normalize_documents(function(1, "self-caller", 100.0, [early]))
    assert loop_edges(spans).is_empty()
    assert resource_loops(spans).is_empty()
    on_time = call(10, "Lambda", 100.2, operation="Invoke", function_name="self-caller")
    spans = normalize_documents(function(1, "self-caller", 100.0, [on_time]))
    assert resource_loops(spans).get_column("path").to_list() == [
        f"{FN}:self-caller -> {FN}:self-caller"
    ]


def test_a_write_without_operation_makes_an_unconfirmed_loop() -> None:
    send = call(10, "SNS", 100.2, topic_arn="arn:aws:sns:us-east-1:123456789012:events")
    spans = normalize_documents(function(1, "fanout", 100.0, [send]))
    edges = loop_edges(spans)
    assert edges.select("source", "target", "confirmed").rows() == [
        (f"{FN}:fanout", "AWS::SNS::Topic:events", False)
    ]


def test_resource_columns_filled_by_another_form_are_followed() -> None:
    """Rows as an OpenTelemetry mapping fills them (aws.remote.resource.type/identifier)."""
    rows = [
        {
            "trace_id": TRACE,
            "id": _id(1),
            "kind": "segment",
            "depth": 0,
            "name": "etl",
            "origin": "AWS::Lambda::Function",
            "function_name": "etl",
        },
        {
            "trace_id": TRACE,
            "id": _id(2),
            "parent_id": _id(1),
            "kind": "subsegment",
            "depth": 1,
            "name": "S3.PutObject",
            "namespace": "aws",
            "aws_operation": "PutObject",
            "resource_type": "AWS::S3::Bucket",
            "resource_id": "lake",
        },
        {
            "trace_id": TRACE,
            "id": _id(3),
            "parent_id": _id(2),
            "kind": "segment",
            "depth": 0,
            "name": "etl",
            "origin": "AWS::Lambda::Function",
            "function_name": "etl",
        },
    ]
    frame = pl.DataFrame(rows).with_columns(
        start_time=pl.lit(100_000_000, pl.Int64), inferred=pl.lit(False)
    )
    spans = conform(frame, SPAN_SCHEMA).with_columns(
        pl.col("start_time").cast(pl.Int64).cast(SPAN_SCHEMA["start_time"])
    )
    assert resource_loops(spans).get_column("closing_resource").to_list() == [
        "AWS::S3::Bucket:lake"
    ]


def test_a_call_naming_no_resource_that_starts_its_own_function_again_is_a_loop() -> None:
    """As an OpenTelemetry span may show it: SendMessage without a queue attribute."""
    send = call(10, "SQS", 100.2, operation="SendMessage")
    spans = normalize_documents(
        [*function(1, "worker", 100.0, [send]), *function(20, "worker", 101.0, [], parent=10)]
    )
    assert resource_loops(spans).select("path", "closing_resource").rows() == [
        (f"{FN}:worker -> {FN}:worker", f"{FN}:worker")
    ]


def test_identity_fields_as_the_python_sdk_records_them() -> None:
    """CopyObject records `bucket`, DynamoDB batch calls `table_names`."""
    spans = normalize_documents(
        function(
            1,
            "copier",
            100.0,
            [
                call(10, "S3", 100.1, operation="CopyObject", bucket="archive"),
                call(11, "DynamoDB", 100.2, operation="BatchWriteItem", table_names=["a", "b"]),
            ],
        )
    )
    calls = spans.filter(pl.col("resource_id").is_not_null())
    assert calls.select("resource_type", "resource_id").rows() == [
        ("AWS::S3::Bucket", "archive"),
        ("AWS::DynamoDB::Table", "a"),
    ]


def test_one_function_one_node_with_or_without_the_inferred_lambda_segment() -> None:
    """X-Ray's inferred segment of an Invoke is named "Lambda", the function only under aws."""
    invoke = call(10, "Lambda", 100.2, operation="Invoke", function_name="fraud-check")
    plain = [
        *function(1, "orders", 100.0, [invoke]),
        *function(20, "fraud-check", 100.25, [], parent=10),
    ]
    inferred = {
        "id": _id(40),
        "trace_id": TRACE,
        "parent_id": _id(10),
        "name": "Lambda",
        "inferred": True,
        "origin": "AWS::Lambda",
        "start_time": T0 + 100.2,
        "end_time": T0 + 100.25,
        "aws": {"operation": "Invoke", "function_name": "fraud-check"},
    }
    without = service_map_edges(normalize_documents(plain))
    with_inferred = service_map_edges(normalize_documents([*plain, inferred]))
    assert without.select("source", "target", "target_type").sort("source", "target").rows() == (
        with_inferred.select("source", "target", "target_type").sort("source", "target").rows()
    )
    assert "Lambda" not in set(with_inferred.get_column("target").to_list())
    assert resource_loops(normalize_documents([*plain, inferred])).is_empty()
