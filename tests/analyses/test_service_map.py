"""Service map: nodes and edges named as X-Ray's GetServiceGraph names them."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from analyses.service_map import (
    EDGE_SCHEMA,
    NODE_SCHEMA,
    build_service_map,
    find_cycles,
    node_key,
    service_map_edges,
    service_map_nodes,
)
from tests.builders.spans import SpanBuilder, sample_documents
from tracelens.ingest.normalize import normalize_documents
from tracelens.schema import SPAN_SCHEMA

TRACE = "1-66322f00-0000000000000000000000a1"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue"


def seg(b: SpanBuilder, span_id: str, start_ms: float, end_ms: float, **fields: Any) -> str:
    fields.setdefault("trace_id", TRACE)
    return b.span(
        id=span_id,
        kind="segment",
        depth=0,
        start_s=start_ms / 1000,
        duration_ms=end_ms - start_ms,
        **fields,
    )


def sub(
    b: SpanBuilder, span_id: str, parent: str, start_ms: float, end_ms: float, **fields: Any
) -> str:
    fields.setdefault("trace_id", TRACE)
    return b.span(
        id=span_id,
        parent_id=parent,
        start_s=start_ms / 1000,
        duration_ms=end_ms - start_ms,
        **fields,
    )


def edge_rows(spans: pl.DataFrame) -> set[tuple[str, str, str, str, int]]:
    edges = service_map_edges(spans)
    return {
        (row["source_type"], row["source"], row["target_type"], row["target"], row["calls"])
        for row in edges.to_dicts()
    }


def api_invokes_function(b: SpanBuilder, *, trace: str = TRACE) -> str:
    """API stage -> Invoke subsegment -> AWS::Lambda segment -> function segment."""
    seg(
        b,
        f"{trace}-api",
        0,
        100,
        trace_id=trace,
        name="orders-api/prod",
        origin="AWS::ApiGateway::Stage",
    )
    sub(
        b,
        f"{trace}-inv",
        f"{trace}-api",
        5,
        95,
        trace_id=trace,
        name="Lambda",
        namespace="aws",
        aws_operation="Invoke",
        function_name="orders",
    )
    seg(
        b,
        f"{trace}-svc",
        6,
        94,
        trace_id=trace,
        parent_id=f"{trace}-inv",
        name="orders",
        origin="AWS::Lambda",
    )
    return seg(
        b,
        f"{trace}-fn",
        7,
        93,
        trace_id=trace,
        parent_id=f"{trace}-svc",
        name="orders",
        origin="AWS::Lambda::Function",
    )


def test_invoke_chain_across_documents_and_client_node() -> None:
    b = SpanBuilder()
    api_invokes_function(b)
    assert edge_rows(b.frame()) == {
        ("client", "orders-api/prod", "AWS::ApiGateway::Stage", "orders-api/prod", 1),
        ("AWS::ApiGateway::Stage", "orders-api/prod", "AWS::Lambda", "orders", 1),
        ("AWS::Lambda", "orders", "AWS::Lambda::Function", "orders", 1),
    }
    nodes = service_map_nodes(b.frame())
    assert set(zip(nodes["type"], nodes["name"], nodes["requests"], strict=True)) == {
        ("client", "orders-api/prod", 1),
        ("AWS::ApiGateway::Stage", "orders-api/prod", 1),
        ("AWS::Lambda", "orders", 1),
        ("AWS::Lambda::Function", "orders", 1),
    }


def test_inferred_segment_is_the_same_call_not_a_second_one() -> None:
    b = SpanBuilder()
    fn = api_invokes_function(b)
    sub(
        b,
        "ddb",
        fn,
        20,
        40,
        name="DynamoDB",
        namespace="aws",
        aws_operation="GetItem",
        aws_resource="orders-table",
    )
    seg(
        b,
        "ddb-inferred",
        20,
        40,
        parent_id="ddb",
        name="DynamoDB",
        origin="AWS::DynamoDB::Table",
        inferred=True,
        aws_resource="orders-table",
    )
    edges = edge_rows(b.frame())
    assert ("AWS::Lambda::Function", "orders", "AWS::DynamoDB::Table", "orders-table", 1) in edges
    assert len(edges) == 4  # the three of the invoke chain, and this one
    nodes = service_map_nodes(b.frame())
    table = nodes.filter(pl.col("type") == "AWS::DynamoDB::Table")
    assert table.select("name", "requests").rows() == [("orders-table", 1)]


def test_nested_connect_and_dns_steps_are_one_remote_call() -> None:
    b = SpanBuilder()
    fn = api_invokes_function(b)
    sub(
        b,
        "http",
        fn,
        20,
        80,
        name="pay.example.com",
        namespace="remote",
        host="pay.example.com",
        http_method="POST",
    )
    sub(b, "connect", "http", 20, 50, name="connect")
    sub(b, "dns", "connect", 20, 30, name="dns")
    sub(b, "dial", "connect", 30, 35, name="dial")
    sub(b, "tls", "connect", 35, 50, name="tls")
    # An HTTP span nested in an SDK call (OpenTelemetry) is part of that call too.
    sub(
        b,
        "sqs",
        fn,
        81,
        90,
        name="SQS",
        namespace="aws",
        aws_operation="SendMessage",
        aws_resource=QUEUE_URL,
    )
    sub(
        b,
        "sqs-http",
        "sqs",
        82,
        89,
        name="sqs.us-east-1.amazonaws.com",
        namespace="remote",
        host="sqs.us-east-1.amazonaws.com",
    )
    edges = edge_rows(b.frame())
    from_fn = {e for e in edges if e[0] == "AWS::Lambda::Function"}
    assert from_fn == {
        ("AWS::Lambda::Function", "orders", "remote", "pay.example.com", 1),
        ("AWS::Lambda::Function", "orders", "AWS::SQS::Queue", "orders-queue", 1),
    }


def test_queue_between_producer_and_consumer() -> None:
    b = SpanBuilder()
    fn = api_invokes_function(b)
    sub(
        b,
        "send",
        fn,
        20,
        30,
        name="SQS",
        namespace="aws",
        aws_operation="SendMessage",
        aws_resource=QUEUE_URL,
    )
    seg(
        b,
        "queue",
        20,
        30,
        parent_id="send",
        name="SQS",
        origin="AWS::SQS::Queue",
        inferred=True,
        aws_resource=QUEUE_URL,
    )
    seg(b, "consumer-svc", 200, 300, parent_id="send", name="shipper", origin="AWS::Lambda")
    seg(
        b,
        "consumer-fn",
        201,
        299,
        parent_id="consumer-svc",
        name="shipper",
        origin="AWS::Lambda::Function",
    )
    edges = edge_rows(b.frame())
    assert ("AWS::Lambda::Function", "orders", "AWS::SQS::Queue", "orders-queue", 1) in edges
    assert ("AWS::SQS::Queue", "orders-queue", "AWS::Lambda", "shipper", 1) in edges
    assert ("AWS::Lambda", "shipper", "AWS::Lambda::Function", "shipper", 1) in edges
    assert not any(e[3] == "shipper" and e[0] == "AWS::Lambda::Function" for e in edges)


def test_targets_without_inferred_segments_are_named_like_the_service_graph() -> None:
    b = SpanBuilder()
    seg(b, "fn", 0, 100, name="worker", origin="AWS::Lambda::Function")
    calls = [
        ("dynamodb", {"aws_resource": "events"}),  # lower-case, as the Go and Python SDKs name it
        ("DynamoDB", {"aws_operation": "ListTables"}),
        ("SNS", {"aws_resource": "arn:aws:sns:us-east-1:123456789012:alerts"}),
        ("SQS", {"aws_resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}),
        ("Lambda", {"function_name": "resizer", "aws_operation": "Invoke"}),
        ("S3", {"aws_resource": "bucket-a"}),
    ]
    for i, (name, fields) in enumerate(calls):
        sub(b, f"c{i}", "fn", i, i + 1, name=name, namespace="aws", **fields)
    sub(b, "r", "fn", 10, 11, name="legacy-host", namespace="remote")
    targets = {(e[2], e[3]) for e in edge_rows(b.frame()) if e[0] != "client"}
    assert targets == {
        ("AWS::DynamoDB::Table", "events"),
        ("AWS::DynamoDB", "DynamoDB"),
        ("AWS::SNS", "SNS"),
        ("AWS::SQS::Queue", "jobs"),
        ("AWS::Lambda", "resizer"),
        ("AWS::S3", "S3"),
        ("remote", "legacy-host"),
    }


def test_edge_statistics() -> None:
    b = SpanBuilder()
    seg(b, "fn", 0, 1000, name="worker", origin="AWS::Lambda::Function")
    for i, (duration, flags) in enumerate(
        [
            (10, {}),
            (20, {"error": True}),
            (30, {"fault": True}),
            (40, {"throttle": True, "error": True}),
        ]
    ):
        sub(
            b,
            f"c{i}",
            "fn",
            100 * i,
            100 * i + duration,
            name="DynamoDB",
            namespace="aws",
            aws_resource="t",
            **flags,
        )
    edges = service_map_edges(b.frame()).filter(pl.col("target") == "t")
    row = edges.to_dicts()[0]
    assert (row["calls"], row["errors"], row["faults"], row["throttles"]) == (4, 2, 1, 1)
    assert row["p50_ms"] == pytest.approx(25.0)
    assert row["p95_ms"] == pytest.approx(38.5)
    assert row["p99_ms"] == pytest.approx(39.7)
    nodes = service_map_nodes(b.frame()).filter(pl.col("name") == "t")
    assert nodes.select("requests", "errors", "faults", "throttles").row(0) == (4, 2, 1, 1)


def test_root_with_missing_parent_is_called_by_a_client() -> None:
    b = SpanBuilder()
    seg(b, "fn", 0, 100, parent_id="never-recorded", name="worker", origin="AWS::Lambda::Function")
    assert edge_rows(b.frame()) == {
        ("client", "worker", "AWS::Lambda::Function", "worker", 1),
    }


def test_graph_and_cycles_of_a_function_invoking_itself_through_a_queue() -> None:
    b = SpanBuilder()
    seg(b, "svc", 0, 100, name="looper", origin="AWS::Lambda")
    seg(b, "fn", 1, 99, parent_id="svc", name="looper", origin="AWS::Lambda::Function")
    sub(b, "send", "fn", 10, 20, name="SQS", namespace="aws", aws_resource=QUEUE_URL)
    seg(b, "svc2", 30, 60, parent_id="send", name="looper", origin="AWS::Lambda")
    seg(b, "fn2", 31, 59, parent_id="svc2", name="looper", origin="AWS::Lambda::Function")
    spans = b.frame()
    graph = build_service_map(service_map_nodes(spans), service_map_edges(spans))
    queue = node_key("orders-queue", "AWS::SQS::Queue")
    assert graph.nodes[queue] == {
        "name": "orders-queue",
        "type": "AWS::SQS::Queue",
        "requests": 1,
        "errors": 0,
        "faults": 0,
        "throttles": 0,
    }
    assert graph.edges["AWS::Lambda:looper", "AWS::Lambda::Function:looper"]["calls"] == 2
    assert find_cycles(graph) == [
        ["AWS::Lambda::Function:looper", queue, "AWS::Lambda:looper"],
    ]


def test_no_cycles_in_a_chain() -> None:
    b = SpanBuilder()
    api_invokes_function(b)
    spans = b.frame()
    assert find_cycles(build_service_map(service_map_nodes(spans), service_map_edges(spans))) == []


def test_empty_input_gives_empty_frames_with_the_schema() -> None:
    empty = pl.DataFrame(schema=SPAN_SCHEMA)
    assert service_map_edges(empty).schema == pl.Schema(EDGE_SCHEMA)
    assert service_map_nodes(empty).schema == pl.Schema(NODE_SCHEMA)
    assert service_map_edges(empty).is_empty()
    assert (
        build_service_map(service_map_nodes(empty), service_map_edges(empty)).number_of_nodes() == 0
    )


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match=r"spans frame is missing columns \['trace_id'"):
        service_map_edges(pl.DataFrame({"id": ["a"]}))


def test_map_of_normalized_documents() -> None:
    spans = normalize_documents(sample_documents())
    eb = "AWS::ElasticBeanstalk::Environment"
    assert edge_rows(spans) == {
        ("client", "Scorekeep", eb, "Scorekeep", 1),
        (eb, "Scorekeep", "AWS::Lambda", "random-name", 1),
        ("AWS::Lambda", "random-name", "AWS::Lambda::Function", "random-name", 1),
        ("AWS::Lambda::Function", "random-name", "AWS::SNS", "SNS", 1),
        (eb, "Scorekeep", "AWS::DynamoDB::Table", "scorekeep-user", 1),
    }
