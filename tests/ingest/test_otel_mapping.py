"""The OpenTelemetry span -> segment document mapping (tracelens.ingest.decoders.otel_mapping), rule by
rule, in the shapes aws/spans records and OTLP JSON hold (see docs/otel-mapping.md)."""

from __future__ import annotations

import base64
from typing import Any

import polars as pl
import pytest

from tracelens.ingest.decoders.otel_mapping import (
    SpanError,
    convert_span_record,
    derived_segment_id,
    span_node,
    xray_trace_id,
)
from tracelens.ingest.normalize import normalize_documents
from tracelens.ingest.segment_model import Node

W3C_TRACE = "f3a9c2e17b6d4e0fa1b2c3d4e5f60718"  # first 8 hex digits are no time
ROOT = "a1b2c3d4e5f60718"
CHILD = "b1b2c3d4e5f60718"
# Above 2**53: a float would not hold it exactly.
START_NS = 1745763423123456789
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-create"


def record(
    span_id: str = ROOT, parent: str = "", kind: Any = "SERVER", **fields: Any
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "resource": {"attributes": {"service.name": "orders-api"}},
        "scope": {"name": "test", "version": "1"},
        "traceId": W3C_TRACE,
        "spanId": span_id,
        "parentSpanId": parent,
        "flags": 256,
        "name": "GET /orders",
        "kind": kind,
        "startTimeUnixNano": START_NS,
        "endTimeUnixNano": START_NS + 200_000_000,
        "durationNano": 200_000_000,
        "attributes": {},
        "status": {"code": "UNSET"},
    }
    value.update(fields)
    return value


def node(value: dict[str, Any]) -> Node:
    return span_node(convert_span_record(value))


def client(attributes: dict[str, Any], **fields: Any) -> Node:
    return node(record(CHILD, ROOT, "CLIENT", attributes=attributes, **fields))


def test_trace_ids_with_and_without_dashes_and_w3c_ids() -> None:
    assert xray_trace_id(W3C_TRACE) == "1-f3a9c2e1-7b6d4e0fa1b2c3d4e5f60718"
    assert xray_trace_id(W3C_TRACE.upper()) == "1-f3a9c2e1-7b6d4e0fa1b2c3d4e5f60718"
    dashed = "1-5759e988-bd862e3fe1be46a994272793"
    assert xray_trace_id(dashed) == dashed
    assert xray_trace_id("5759e988bd862e3fe1be46a994272793") == dashed
    # protobuf JSON writes bytes as base64
    as_base64 = base64.b64encode(bytes.fromhex("5759e988bd862e3fe1be46a994272793")).decode()
    assert xray_trace_id(as_base64) == dashed
    assert node(record(traceId=dashed)).trace_id == dashed


def test_a_w3c_trace_id_is_never_read_as_a_time() -> None:
    # 0xffffffff would be the year 2106; the span's own times are what count.
    spans = normalize_documents([node(record(traceId="ffffffff" + "0" * 24))])
    assert spans["start_time"][0].year == 2025


def test_nanosecond_times_are_exact_integers_to_the_microsecond() -> None:
    spans = normalize_documents([node(record())])
    assert spans["start_time"][0].microsecond == 123457  # 123456.789 us rounds up
    assert spans["duration_ms"][0] == pytest.approx(200.0)
    as_strings = node(record(startTimeUnixNano=str(START_NS), endTimeUnixNano="0"))
    assert as_strings.in_progress and as_strings.end_time is None


@pytest.mark.parametrize("bad", ["1.7e18", "-5", "soon"])
def test_a_time_that_is_not_an_integer_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(SpanError, match="startTimeUnixNano"):
        node(record(startTimeUnixNano=bad))


def test_server_spans_and_roots_are_segments_the_rest_subsegments_of_their_parent() -> None:
    server = node(record())
    assert server.type is None and server.parent_id is None and server.name == "orders-api"
    internal = node(record(CHILD, ROOT, "INTERNAL", name="validate"))
    assert internal.type == "subsegment" and internal.parent_id == ROOT
    assert internal.name == "validate" and internal.namespace is None
    # a SERVER span with a remote parent is the segment of its own service
    remote_parent = node(record(CHILD, ROOT, 2))
    assert remote_parent.type is None and remote_parent.parent_id == ROOT
    # OTLP's numeric kinds and enum names
    assert node(record(CHILD, ROOT, 3)).namespace == "remote"
    assert node(record(CHILD, ROOT, "SPAN_KIND_CLIENT")).namespace == "remote"


@pytest.mark.parametrize(
    ("status", "code", "flags"),
    [
        (200, "UNSET", (False, False, False)),
        (404, "ERROR", (True, False, False)),
        (429, "ERROR", (True, False, True)),
        ("503", "ERROR", (False, True, False)),
        (None, "ERROR", (False, True, False)),
        (None, 2, (False, True, False)),
        (None, "OK", (False, False, False)),
    ],
)
def test_status_and_http_status_to_error_fault_throttle(
    status: Any, code: Any, flags: tuple[bool, bool, bool]
) -> None:
    attributes = {} if status is None else {"http.response.status_code": status}
    mapped = client(attributes, status={"code": code})
    assert (mapped.error, mapped.fault, mapped.throttle) == flags


@pytest.mark.parametrize(
    "exception_type",
    [
        "ThrottlingException",
        "botocore.errorfactory.ProvisionedThroughputExceededException",
        "TooManyRequestsException",
    ],
)
def test_throttling_exceptions_set_throttle(exception_type: str) -> None:
    event = {
        "name": "exception",
        "timeUnixNano": START_NS,
        "attributes": {"exception.type": exception_type, "exception.message": "slow down"},
    }
    mapped = client({"http.status_code": 400}, events=[event])
    assert mapped.throttle and mapped.error and not mapped.fault
    spans = normalize_documents([mapped])
    assert spans["exception_type"][0] == exception_type
    assert spans["exception_message"][0] == "slow down"
    assert spans["exception_count"][0] == 1


def test_an_error_status_message_without_exception_events_is_the_exception() -> None:
    mapped = client({}, status={"code": "ERROR", "message": "connection reset"})
    spans = normalize_documents([mapped])
    assert spans["exception_message"][0] == "connection reset" and spans["fault"][0]


def test_aws_sdk_client_spans_name_the_service_and_resource() -> None:
    dynamo = client(
        {
            "rpc.system": "aws-api",
            "rpc.service": "DynamoDB",
            "rpc.method": "PutItem",
            "aws.dynamodb.table_names": ["orders"],
            "aws.request_id": "REQ1",
        },
        name="DynamoDB.PutItem",
    )
    assert (dynamo.name, dynamo.namespace) == ("DynamoDB", "aws")
    assert dynamo.aws is not None
    assert (dynamo.aws.operation, dynamo.aws.table_name, dynamo.aws.request_id) == (
        "PutItem",
        "orders",
        "REQ1",
    )
    sqs = client(
        {
            "aws.remote.service": "AWS::SQS",
            "aws.remote.operation": "SendMessage",
            "aws.remote.resource.type": "AWS::SQS::Queue",
            "aws.remote.resource.identifier": "order-events",
        }
    )
    assert (sqs.name, sqs.namespace) == ("SQS", "aws")
    assert sqs.aws is not None and sqs.aws.queue_url == "order-events"
    invoke = client(
        {
            "rpc.system": "aws-api",
            "rpc.service": "Lambda",
            "rpc.method": "Invoke",
            "faas.invoked_name": "fraud-check",
        }
    )
    spans = normalize_documents([invoke])
    assert spans["function_name"][0] == "fraud-check" and spans["aws_operation"][0] == "Invoke"


def test_remote_calls_are_named_by_peer_and_keep_the_url_host() -> None:
    http = client(
        {
            "http.request.method": "POST",
            "url.full": "https://api.stripe.com/v1/charges",
            "server.address": "api.stripe.com",
            "http.response.status_code": 200,
        },
        name="POST",
    )
    assert (http.name, http.namespace) == ("api.stripe.com", "remote")
    spans = normalize_documents([http])
    assert spans["host"][0] == "api.stripe.com" and spans["http_method"][0] == "POST"
    db = client({"db.system": "postgresql", "db.name": "shop", "server.address": "db.internal"})
    assert db.name == "shop@db.internal"
    peer = client({"peer.service": "inventory", "server.address": "10.0.0.7"})
    assert peer.name == "inventory"
    application_signals = client({"aws.remote.service": "payments-api"})
    assert (application_signals.name, application_signals.namespace) == ("payments-api", "remote")


def test_dns_lookups_keep_their_names_and_host() -> None:
    lookup = client({"dns.question.name": "api.stripe.com"}, name="dns.lookup")
    assert lookup.name == "dns.lookup"
    assert normalize_documents([lookup])["host"][0] == "api.stripe.com"
    assert client({"server.address": "x.example"}, name="http.dns").name == "http.dns"


def test_lambda_invocations_from_faas_attributes() -> None:
    handler = node(
        record(
            name="orders-create",
            resource={
                "attributes": {
                    "service.name": "orders-create",
                    "cloud.platform": "aws_lambda",
                    "cloud.resource_id": FUNCTION_ARN,
                }
            },
            attributes={"faas.invocation_id": "8f5a3c1e-1111", "faas.coldstart": True},
        )
    )
    assert handler.origin == "AWS::Lambda::Function"
    assert handler.resource_arn == FUNCTION_ARN
    assert handler.aws is not None and handler.aws.request_id == "8f5a3c1e-1111"
    spans = normalize_documents([handler])
    assert spans["function_name"][0] == "orders-create"
    assert spans["annotations"][0] == '{"faas.coldstart":true}'
    # the older faas.execution, and the function taken from aws.lambda.invoked_arn
    older = node(
        record(
            resource=None,
            attributes={
                "faas.execution": "req-2",
                "aws.lambda.invoked_arn": FUNCTION_ARN + ":live",
            },
        )
    )
    assert older.name == "orders-create" and older.origin == "AWS::Lambda::Function"
    assert older.aws is not None and older.aws.request_id == "req-2"


def test_init_spans_keep_their_name_under_the_function() -> None:
    init = node(record(CHILD, ROOT, "INTERNAL", name="Initialization"))
    assert init.name == "Initialization" and init.type == "subsegment"


def test_a_root_span_linked_into_its_own_trace_hangs_from_the_link() -> None:
    consumer = node(record(CHILD, "", "CONSUMER", links=[{"traceId": W3C_TRACE, "spanId": ROOT}]))
    assert consumer.parent_id == ROOT and consumer.type is None
    elsewhere = node(record(CHILD, "", "CONSUMER", links=[{"traceId": "1" * 32, "spanId": ROOT}]))
    assert elsewhere.parent_id is None


def test_a_local_root_call_becomes_its_service_segment_holding_the_call() -> None:
    mapped = node(
        record(
            CHILD,
            ROOT,
            "CLIENT",
            attributes={
                "aws.span.kind": "LOCAL_ROOT",
                "aws.local.service": "nightly-job",
                "rpc.system": "aws-api",
                "rpc.service": "S3",
                "rpc.method": "PutObject",
            },
        )
    )
    assert mapped.name == "nightly-job" and mapped.id == derived_segment_id(CHILD)
    assert mapped.subsegments is not None
    call = mapped.subsegments[0]
    assert (call.id, call.name, call.namespace) == (CHILD, "S3", "aws")
    spans = normalize_documents([mapped])
    assert spans.filter(pl.col("id") == CHILD)["parent_id"][0] == mapped.id


def test_a_chain_of_span_documents_is_one_tree_under_its_segment() -> None:
    third = "c1b2c3d4e5f60718"
    spans = normalize_documents(
        [
            node(record(third, CHILD, "CLIENT", name="dns.lookup")),
            node(record(CHILD, ROOT, "INTERNAL", name="work")),
            node(record()),
        ]
    )
    rows = {row["id"]: row for row in spans.iter_rows(named=True)}
    assert rows[third]["segment_id"] == ROOT and rows[third]["depth"] == 2
    assert rows[CHILD]["segment_id"] == ROOT and rows[CHILD]["depth"] == 1


def test_the_region_of_a_span_from_cloud_region_or_the_function_arn() -> None:
    service = record(
        resource={"attributes": {"service.name": "inventory", "cloud.region": "eu-north-1"}}
    )
    function = record(
        span_id=CHILD,
        traceId="0" * 31 + "1",
        resource={"attributes": {"cloud.resource_id": FUNCTION_ARN, "cloud.provider": "aws"}},
        attributes={"faas.invocation_id": "r-1"},
    )
    spans = normalize_documents([node(service), node(function)])
    assert spans.sort("trace_id")["region"].to_list() == ["us-east-1", "eu-north-1"]


def test_what_invoked_a_function_from_faas_trigger_and_messaging_system() -> None:
    lambda_resource = {
        "attributes": {"cloud.platform": "aws_lambda", "cloud.resource_id": FUNCTION_ARN}
    }
    sqs = node(
        record(
            resource=lambda_resource,
            kind="CONSUMER",
            attributes={"faas.trigger": "pubsub", "messaging.system": "aws_sqs"},
        )
    )
    sns = node(
        record(
            span_id=CHILD,
            traceId="0" * 31 + "1",
            resource=lambda_resource,
            kind="CONSUMER",
            attributes={"faas.trigger": "pubsub", "messaging.system": "AmazonSNS"},
        )
    )
    http = node(
        record(
            span_id="c1b2c3d4e5f60718",
            traceId="0" * 31 + "2",
            resource=lambda_resource,
            attributes={"faas.trigger": "http", "faas.invocation_id": "r-3"},
        )
    )
    # a producer's SendMessage names SQS but says nothing of what invoked it
    send = client(
        {"rpc.system": "aws-api", "rpc.service": "SQS", "rpc.method": "SendMessage"},
        traceId="0" * 31 + "3",
    )
    spans = normalize_documents([sqs, sns, http, send]).sort("trace_id")
    assert spans["trigger"].to_list() == ["pubsub", "http", None, "sqs"]
