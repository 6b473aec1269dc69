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
        ("AWS::ApiGateway::Stage", "orders-api/prod", "AWS::Lambda::Function", "orders", 1),
    }
    nodes = service_map_nodes(b.frame())
    assert set(zip(nodes["type"], nodes["name"], nodes["requests"], strict=True)) == {
        ("client", "orders-api/prod", 1),
        ("AWS::ApiGateway::Stage", "orders-api/prod", 1),
        ("AWS::Lambda::Function", "orders", 1),  # its service and function segments: 1 request
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
    assert len(edges) == 3  # the two of the invoke chain, and this one
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
    assert ("AWS::SQS::Queue", "orders-queue", "AWS::Lambda::Function", "shipper", 1) in edges
    assert not any(e[0] == "AWS::Lambda" or e[2] == "AWS::Lambda" for e in edges)
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
        ("AWS::Lambda::Function", "resizer"),
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
        "service_requests": None,
        "service_throttles": None,
        "service_p50_ms": None,
        "service_p95_ms": None,
        "failed": 0,
    }
    looper = "AWS::Lambda::Function:looper"
    assert graph.nodes[looper]["requests"] == 2
    assert graph.nodes[looper]["service_requests"] == 2
    assert find_cycles(graph) == [[looper, queue]]


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
        (eb, "Scorekeep", "AWS::Lambda::Function", "random-name", 1),
        ("AWS::Lambda::Function", "random-name", "AWS::SNS", "SNS", 1),
        (eb, "Scorekeep", "AWS::DynamoDB::Table", "scorekeep-user", 1),
    }


def test_one_function_one_node_keeps_the_lambda_services_throttles_and_time() -> None:
    """Three requests to ``orders``: one that ran (service segment over the function's), one
    throttled by the service (no function segment), and one whose function segment was
    recorded without a service segment (an OpenTelemetry span, say)."""
    b = SpanBuilder()
    api_invokes_function(b)  # service 6-94 ms, function 7-93 ms
    throttled = "1-66322f00-0000000000000000000000a2"
    seg(
        b,
        "api2",
        0,
        10,
        trace_id=throttled,
        name="orders-api/prod",
        origin="AWS::ApiGateway::Stage",
    )
    sub(
        b,
        "inv2",
        "api2",
        1,
        5,
        trace_id=throttled,
        name="Lambda",
        namespace="aws",
        aws_operation="Invoke",
        function_name="orders",
        error=True,
        throttle=True,
    )
    seg(
        b,
        "svc2",
        2,
        4,
        trace_id=throttled,
        parent_id="inv2",
        name="Lambda",  # as X-Ray names it at times: the function only under aws
        function_name="orders",
        origin="AWS::Lambda",
        error=True,
        throttle=True,
    )
    seg(
        b,
        "fn3",
        0,
        50,
        trace_id="1-66322f00-0000000000000000000000a3",
        name="orders",
        origin="AWS::Lambda::Function",
        fault=True,
    )
    spans = b.frame()
    nodes = service_map_nodes(spans)
    assert "AWS::Lambda" not in set(nodes["type"])
    orders = nodes.filter(pl.col("type") == "AWS::Lambda::Function").to_dicts()
    assert orders == [
        {
            "name": "orders",
            "type": "AWS::Lambda::Function",
            "requests": 3,
            "errors": 1,
            "faults": 1,
            "throttles": 1,  # in the service, before the function ran
            "service_requests": 2,
            "service_throttles": 1,
            "service_p50_ms": pytest.approx(2.0),  # (88 - 86) and 2 ms of own time
            "service_p95_ms": pytest.approx(2.0),
            # the throttled request (flagged error and throttle) and the faulted one: not 3
            "failed": 2,
        }
    ]
    edges = service_map_edges(spans).filter(pl.col("target") == "orders")
    assert edges.select("source_type", "source", "calls", "errors", "throttles").rows() == [
        ("AWS::ApiGateway::Stage", "orders-api/prod", 2, 1, 1),  # the caller's view
        ("client", "orders", 1, 0, 0),
    ]
    graph = build_service_map(nodes, service_map_edges(spans))
    assert find_cycles(graph) == []
    assert "AWS::Lambda:orders" not in graph


def test_an_asynchronous_invocation_is_one_request_from_its_client() -> None:
    """S3 (untraced) invokes a function: the root is the Lambda service's segment."""
    b = SpanBuilder()
    seg(b, "svc", 0, 300, name="thumbnailer", origin="AWS::Lambda", throttle=True)
    seg(b, "svc-b", 400, 700, name="thumbnailer", origin="AWS::Lambda")
    sub(b, "dwell", "svc-b", 400, 550, name="Dwell Time")
    seg(b, "fn", 560, 690, parent_id="svc-b", name="thumbnailer", origin="AWS::Lambda::Function")
    assert edge_rows(b.frame()) == {
        ("client", "thumbnailer", "AWS::Lambda::Function", "thumbnailer", 2),
    }
    edge = service_map_edges(b.frame()).row(0, named=True)
    assert edge["throttles"] == 1
    node = service_map_nodes(b.frame()).filter(pl.col("type") != "client").row(0, named=True)
    assert (node["requests"], node["throttles"], node["service_requests"]) == (2, 1, 2)
    assert node["service_p95_ms"] == pytest.approx(300 - 0.05 * (300 - 170))  # 170 and 300 ms


@pytest.mark.parametrize("service_segment", [False, True])
def test_an_inferred_lambda_segment_beside_the_functions_own_is_one_request(
    service_segment: bool,
) -> None:
    b = SpanBuilder()
    seg(b, "caller", 0, 100, name="orders", origin="AWS::Lambda::Function")
    sub(b, "inv", "caller", 10, 60, name="Lambda", namespace="aws", aws_operation="Invoke",
        function_name="fraud-check")  # fmt: skip
    seg(b, "inferred", 10, 60, parent_id="inv", name="Lambda", origin="AWS::Lambda",
        function_name="fraud-check", inferred=True)  # fmt: skip
    parent = "inv"
    if service_segment:
        seg(b, "svc", 11, 59, parent_id="inv", name="fraud-check", origin="AWS::Lambda")
        parent = "svc"
    seg(b, "fn", 12, 58, parent_id=parent, name="fraud-check", origin="AWS::Lambda::Function")
    nodes = service_map_nodes(b.frame()).filter(pl.col("name") == "fraud-check")
    assert nodes.select("type", "requests").rows() == [("AWS::Lambda::Function", 1)]
    assert edge_rows(b.frame()) == {
        ("client", "orders", "AWS::Lambda::Function", "orders", 1),
        ("AWS::Lambda::Function", "orders", "AWS::Lambda::Function", "fraud-check", 1),
    }
