"""OpenTelemetry spans as X-Ray segment documents: the one place the two models meet.

Every OpenTelemetry form tracelens reads (``aws/spans`` records, OTLP JSON, X-Ray's ``OTEL``
retrieval format) is decoded into a :class:`SpanRecord` (the flat ``aws/spans`` shape) and
mapped here to a :class:`~tracelens.ingest.segment_model.Node`: a segment, or an independent
subsegment document whose ``parent_id`` names its parent span. From there one normalizer
serves both worlds, so analyses, report and JSON contract see the same span table. The rules,
and where the two models differ, are documented in ``docs/otel-mapping.md``; keep both in step.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import msgspec

from tracelens.ingest.segment_model import (
    AwsFields,
    Cause,
    ExceptionRecord,
    Http,
    HttpRequest,
    HttpResponse,
    Metadata,
    Node,
)


class SpanError(ValueError):
    """A span that cannot become a document; the message names the field."""


# Attribute keys tracelens reads, as struct fields: the decoder fills them straight from the
# JSON and skips every other key without building it (a dict of all attributes costs more than
# the rest of the mapping). Field name -> attribute key.
_ATTRIBUTE_KEYS = {
    "span_kind": "aws.span.kind",
    "local_service": "aws.local.service",
    "remote_service": "aws.remote.service",
    "remote_operation": "aws.remote.operation",
    "remote_resource_type": "aws.remote.resource.type",
    "remote_resource_identifier": "aws.remote.resource.identifier",
    "rpc_system": "rpc.system",
    "rpc_service": "rpc.service",
    "rpc_method": "rpc.method",
    "aws_service": "aws.service",
    "aws_operation": "aws.operation",
    "aws_request_id": "aws.request_id",
    "aws_request_id2": "aws.requestId",
    "dynamodb_table_names": "aws.dynamodb.table_names",
    "aws_table_name": "aws.table_name",
    "aws_table_name2": "aws.table.name",
    "sqs_queue_url": "aws.sqs.queue_url",
    "messaging_url": "messaging.url",
    "aws_queue_url": "aws.queue_url",
    "aws_queue_url2": "aws.queue.url",
    "sns_topic_arn": "aws.sns.topic.arn",
    "messaging_destination_name": "messaging.destination.name",
    "messaging_system": "messaging.system",
    "faas_invoked_name": "faas.invoked_name",
    "lambda_function_name": "aws.lambda.function.name",
    "lambda_function_arn": "aws.lambda.function.arn",
    "xray_retries": "aws.xray.retries",
    "xray_in_progress": "aws.xray.inprogress",
    "faas_invocation_id": "faas.invocation_id",
    "faas_execution": "faas.execution",
    "faas_trigger": "faas.trigger",
    "faas_coldstart": "faas.coldstart",
    "lambda_invoked_arn": "aws.lambda.invoked_arn",
    "http_request_method": "http.request.method",
    "http_method": "http.method",
    "url_full": "url.full",
    "http_url": "http.url",
    "http_response_status_code": "http.response.status_code",
    "http_status_code": "http.status_code",
    "peer_service": "peer.service",
    "db_name": "db.name",
    "db_namespace": "db.namespace",
    "server_address": "server.address",
    "http_host": "http.host",
    "net_peer_name": "net.peer.name",
    # The remaining host keys X-Ray exporters and SDKs write (see flatten.HOST_KEYS).
    "dns_question_name": "dns.question.name",
    "peer_hostname": "peer.hostname",
    "peer_name": "peer.name",
    "hostname": "hostname",
    "host": "host",
    "net_host_name": "net.host.name",
}


class Attributes(msgspec.Struct, gc=False, rename=_ATTRIBUTE_KEYS):
    """The span attributes the mapping reads (values of any JSON type, as sent)."""

    span_kind: Any = None
    local_service: Any = None
    remote_service: Any = None
    remote_operation: Any = None
    remote_resource_type: Any = None
    remote_resource_identifier: Any = None
    rpc_system: Any = None
    rpc_service: Any = None
    rpc_method: Any = None
    aws_service: Any = None
    aws_operation: Any = None
    aws_request_id: Any = None
    aws_request_id2: Any = None
    dynamodb_table_names: Any = None
    aws_table_name: Any = None
    aws_table_name2: Any = None
    sqs_queue_url: Any = None
    messaging_url: Any = None
    aws_queue_url: Any = None
    aws_queue_url2: Any = None
    sns_topic_arn: Any = None
    messaging_destination_name: Any = None
    messaging_system: Any = None
    faas_invoked_name: Any = None
    lambda_function_name: Any = None
    lambda_function_arn: Any = None
    xray_retries: Any = None
    xray_in_progress: Any = None
    faas_invocation_id: Any = None
    faas_execution: Any = None
    faas_trigger: Any = None
    faas_coldstart: Any = None
    lambda_invoked_arn: Any = None
    http_request_method: Any = None
    http_method: Any = None
    url_full: Any = None
    http_url: Any = None
    http_response_status_code: Any = None
    http_status_code: Any = None
    peer_service: Any = None
    db_name: Any = None
    db_namespace: Any = None
    server_address: Any = None
    http_host: Any = None
    net_peer_name: Any = None
    dns_question_name: Any = None
    peer_hostname: Any = None
    peer_name: Any = None
    hostname: Any = None
    host: Any = None
    net_host_name: Any = None


_NO_ATTRIBUTES = Attributes()


class ResourceAttributes(
    msgspec.Struct,
    gc=False,
    rename={
        "service_name": "service.name",
        "cloud_platform": "cloud.platform",
        "cloud_resource_id": "cloud.resource_id",
        "cloud_region": "cloud.region",
        "faas_name": "faas.name",
    },
):
    service_name: Any = None
    cloud_platform: Any = None
    cloud_resource_id: Any = None
    cloud_region: Any = None
    faas_name: Any = None


_NO_RESOURCE = ResourceAttributes()


class Resource(msgspec.Struct, gc=False):
    attributes: ResourceAttributes | None = None


class Status(msgspec.Struct, gc=False):
    # "UNSET" | "OK" | "ERROR" in aws/spans; 0 | 1 | 2 (or "STATUS_CODE_ERROR") in OTLP JSON.
    code: str | int | None = None
    message: str | None = None


class EventAttributes(
    msgspec.Struct,
    gc=False,
    rename={"type": "exception.type", "message": "exception.message"},
):
    type: Any = None
    message: Any = None


class Event(msgspec.Struct, gc=False):
    name: str | None = None
    attributes: EventAttributes | None = None


class Link(msgspec.Struct, gc=False):
    traceId: str | None = None  # noqa: N815 - the record's own field names
    spanId: str | None = None  # noqa: N815


class SpanFields(msgspec.Struct, gc=False):
    """The fields an ``aws/spans`` record and an OTLP JSON span hold alike, by the same names
    (their attributes and events are shaped differently)."""

    traceId: str  # noqa: N815
    spanId: str  # noqa: N815
    name: str
    # NOTE: integers above 2**53 (aws/spans) or decimal strings (OTLP JSON): never a float.
    startTimeUnixNano: int | str  # noqa: N815
    endTimeUnixNano: int | str | None = None  # noqa: N815
    parentSpanId: str | None = None  # noqa: N815
    kind: str | int | None = None
    status: Status | None = None
    links: list[Link] | None = None


class SpanRecord(SpanFields, gc=False):
    """One span as an ``aws/spans`` log record holds it (attributes as a flat dotted map)."""

    attributes: Attributes | None = None
    resource: Resource | None = None
    events: list[Event] | None = None


def attributes_of(bag: dict[str, Any] | None) -> Attributes | None:
    """The attributes the mapping reads, from a flat map (OTLP JSON's, once flattened)."""
    return None if bag is None else msgspec.convert(bag, Attributes)


def resource_of(bag: dict[str, Any] | None) -> Resource | None:
    """A resource from its flat attribute map."""
    if bag is None:
        return None
    return Resource(msgspec.convert(bag, ResourceAttributes))


def event_attributes_of(bag: dict[str, Any] | None) -> EventAttributes | None:
    """An event's exception attributes from its flat attribute map."""
    return None if bag is None else msgspec.convert(bag, EventAttributes)


_RECORD_DECODER = msgspec.json.Decoder(SpanRecord)


def decode_span_record(data: str | bytes) -> SpanRecord:
    """Parse one ``aws/spans`` record (raises ``msgspec.DecodeError``/``ValidationError``)."""
    return _RECORD_DECODER.decode(data)


def convert_span_record(value: Any) -> SpanRecord:
    """Validate an already-parsed ``aws/spans`` record."""
    return msgspec.convert(value, SpanRecord)


def is_span_record(value: Any) -> bool:
    """Whether a parsed JSON value looks like one span record rather than a segment document."""
    return type(value) is dict and "traceId" in value and "spanId" in value


# OTLP's numeric SpanKind and its enum names, to the names aws/spans records use.
_KINDS: dict[str | int | None, str] = {
    None: "UNSPECIFIED",
    0: "UNSPECIFIED",
    1: "INTERNAL",
    2: "SERVER",
    3: "CLIENT",
    4: "PRODUCER",
    5: "CONSUMER",
    "SPAN_KIND_UNSPECIFIED": "UNSPECIFIED",
    "SPAN_KIND_INTERNAL": "INTERNAL",
    "SPAN_KIND_SERVER": "SERVER",
    "SPAN_KIND_CLIENT": "CLIENT",
    "SPAN_KIND_PRODUCER": "PRODUCER",
    "SPAN_KIND_CONSUMER": "CONSUMER",
}
_ERROR_STATUS = frozenset({"ERROR", "STATUS_CODE_ERROR", 2})
_CALL_KINDS = frozenset({"CLIENT", "PRODUCER", "CONSUMER"})

# Error types that mean "slow down": the same names the throttle analyses recognize.
_THROTTLING = re.compile(
    r"ProvisionedThroughputExceeded|Throttling|Throttled|TooManyRequests|RequestThrottled"
    r"|RequestLimitExceeded|SlowDown"
)
_ARN_FUNCTION = re.compile(r"arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)")
# cloud.platform values and the X-Ray origin of the same platform (the ADOT X-Ray exporter's).
_PLATFORM_ORIGINS = {
    "aws_lambda": "AWS::Lambda::Function",
    "aws_ec2": "AWS::EC2::Instance",
    "aws_ecs": "AWS::ECS::Container",
    "aws_eks": "AWS::EKS::Container",
    "aws_elastic_beanstalk": "AWS::ElasticBeanstalk::Environment",
    "aws_app_runner": "AWS::AppRunner::Service",
}
INIT_SPAN_NAMES = ("Initialization", "Restore")
# DNS lookups by name: X-Ray Go's `dns`, OpenTelemetry Go's `http.dns`, Node's `dns.lookup`.
DNS_SPAN_PREFIXES = ("dns", "http.dns")
_RESOURCE_TYPES = {
    "AWS::DynamoDB::Table": "table",
    "AWS::SQS::Queue": "queue",
    "AWS::SNS::Topic": "topic",
    "AWS::Lambda::Function": "function",
}


def xray_trace_id(trace_id: str) -> str:
    """The X-Ray form ``1-<8 hex>-<24 hex>`` of a W3C trace id (32 hex digits, or base64).

    The first 8 hex digits are kept as they are: for an X-Ray-compatible id they are its epoch
    seconds, for a random W3C id random; the store dates a trace by them only when they are
    close to its spans' times (``tracelens.store.derive.trace_days``). Digits are checked by the
    normalizer's id check (column-wise), which refuses anything else naming it.
    """
    if len(trace_id) == 32:
        text = trace_id.lower()
        return f"1-{text[:8]}-{text[8:]}"
    if len(trace_id) == 24 and trace_id.endswith("=="):  # protobuf JSON's base64 bytes
        raw = _base64_hex(trace_id)
        if raw is not None and len(raw) == 32:
            return f"1-{raw[:8]}-{raw[8:]}"
    return trace_id.lower() if trace_id.startswith("1-") else trace_id


def span_id(value: str) -> str:
    """A span id as X-Ray writes it: 16 lowercase hex digits (from hex or base64)."""
    if len(value) == 12 and value.endswith("="):
        raw = _base64_hex(value)
        if raw is not None and len(raw) == 16:
            return raw
    return value.lower()


def _base64_hex(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


def nanos(value: int | str | None, field: str) -> int | None:
    """A nanosecond time as an exact integer (None when absent or 0, i.e. not ended)."""
    if type(value) is int:
        if value < 0:
            raise SpanError(f"wrong type: {field} is negative")
        return value or None
    if value is None:
        return None
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise SpanError(f"wrong type: {field} is {text[:30]!r}, not a decimal integer")
    return int(text) or None


def _seconds(ns: int) -> float:
    # NOTE: whole microseconds first (exact integer arithmetic), as X-Ray keeps them; the
    # float of microseconds / 1e6 rounds back to the same microsecond in the normalizer.
    return ((ns + 500) // 1000) / 1_000_000


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if type(value) is str:
        return value
    if type(value) is list:
        return _text(value[0]) if value else None
    return str(value)


def _status_code(value: Any) -> int | None:
    if type(value) is int:
        return value if -(2**31) <= value < 2**31 else None
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return None


def _function_from_arn(arn: Any) -> str | None:
    if type(arn) is not str:
        return None
    match = _ARN_FUNCTION.match(arn)
    return match.group(1) if match else None


def _exceptions(record: SpanRecord) -> list[ExceptionRecord]:
    found = []
    for event in record.events or ():
        if event.name == "exception":
            bag = event.attributes
            found.append(
                ExceptionRecord(type=_text(bag.type), message=_text(bag.message))
                if bag is not None
                else ExceptionRecord()
            )
    return found


def _is_function(kind: str, a: Attributes, resource: ResourceAttributes) -> bool:
    if (
        a.faas_invocation_id is not None
        or a.faas_execution is not None
        or a.faas_trigger is not None
        or a.faas_coldstart is not None
        or a.lambda_invoked_arn is not None
    ):
        return True
    return kind in ("SERVER", "CONSUMER") and resource.cloud_platform == "aws_lambda"


def _segment_name(
    record: SpanRecord, a: Attributes, resource: ResourceAttributes, function: bool
) -> str:
    if function:
        name = _text(resource.faas_name) or _function_from_arn(
            a.lambda_invoked_arn or resource.cloud_resource_id
        )
        if name:
            return name
    return _text(a.local_service) or _text(resource.service_name) or record.name


def _call_name(record: SpanRecord, a: Attributes, aws_api: bool) -> str:
    if record.name.startswith(DNS_SPAN_PREFIXES):
        return record.name  # a DNS step keeps its name, whatever host it looked up
    remote = _text(a.remote_service)
    if remote is not None:
        if aws_api or remote.startswith("AWS::"):
            return remote.removeprefix("AWS::").removeprefix("AWS.SDK.")
        return remote
    name = _text(a.peer_service) or _text(a.aws_service)
    if name is None and aws_api:
        name = _text(a.rpc_service)
    if name is None and (db := _text(a.db_name) or _text(a.db_namespace)) is not None:
        host = _text(a.server_address) or _text(a.net_peer_name)
        name = f"{db}@{host}" if host else db
    if name is None:
        name = (
            _text(a.rpc_service)
            or _text(a.server_address)
            or _text(a.http_host)
            or _text(a.net_peer_name)
        )
    return name if name is not None else record.name


def _names_aws(a: Attributes) -> bool:
    """Whether a span that is no AWS SDK call or function still names an AWS resource."""
    return not (
        a.remote_resource_identifier is None
        and a.dynamodb_table_names is None
        and a.aws_table_name is None
        and a.aws_table_name2 is None
        and a.sqs_queue_url is None
        and a.messaging_url is None
        and a.aws_queue_url is None
        and a.aws_queue_url2 is None
        and a.sns_topic_arn is None
        and a.faas_invoked_name is None
        and a.lambda_function_name is None
        and a.lambda_function_arn is None
        and a.xray_retries is None
    )


def _aws_fields(a: Attributes, function: bool, request_id: Any, aws_api: bool) -> AwsFields | None:
    if not (aws_api or function or request_id is not None or _names_aws(a)):
        return None  # most spans: nothing of AWS to record
    resource_type = _RESOURCE_TYPES.get(a.remote_resource_type) if a.remote_resource_type else None
    identifier = _text(a.remote_resource_identifier)
    table = _text(a.dynamodb_table_names or a.aws_table_name or a.aws_table_name2)
    queue = _text(a.sqs_queue_url or a.messaging_url or a.aws_queue_url or a.aws_queue_url2)
    topic = _text(a.sns_topic_arn)
    called = None if function else _text(a.faas_invoked_name or a.lambda_function_name)
    if resource_type is not None and identifier is not None:
        if resource_type == "table":
            table = table or identifier
        elif resource_type == "queue":
            queue = queue or identifier
        elif resource_type == "topic":
            topic = topic or identifier
        elif not function:
            called = called or identifier
    if topic is None and aws_api and a.rpc_service == "SNS":
        topic = _text(a.messaging_destination_name)
    function_arn = _text(a.lambda_function_arn)
    operation = _text(a.aws_operation or a.rpc_method or a.remote_operation)
    if not (aws_api or function or table or queue or topic or called or function_arn):
        operation = None  # an HTTP route is not an AWS operation
    retries = a.xray_retries
    if type(retries) is not int or not 0 <= retries < 2**31:
        retries = None
    names = [identifier] if identifier is not None and resource_type is None else None
    if (
        operation is None
        and table is None
        and queue is None
        and topic is None
        and called is None
        and function_arn is None
        and request_id is None
        and retries is None
        and names is None
    ):
        return None
    return AwsFields(
        operation=operation,
        table_name=table,
        queue_url=queue,
        topic_arn=topic,
        function_name=called,
        function_arn=function_arn,
        request_id=_text(request_id),
        retries=retries,
        resource_names=names,
    )


def _flags(
    status_code: int | None, status: Status | None, exceptions: list[ExceptionRecord]
) -> tuple[bool, bool, bool]:
    """``(error, fault, throttle)`` as X-Ray sets them (see docs/otel-mapping.md)."""
    error = fault = False
    if status_code is not None and 400 <= status_code <= 499:
        error = True
    elif status_code is not None and 500 <= status_code <= 599:
        fault = True
    else:
        fault = status is not None and status.code in _ERROR_STATUS
    throttle = status_code == 429 or (
        bool(exceptions)
        and any(exc.type is not None and _THROTTLING.search(exc.type) for exc in exceptions)
    )
    if throttle and not fault:
        error = True
    return error, fault, throttle


def _host(a: Attributes) -> Metadata | None:
    """The first host-like attribute, where flatten looks for one (``metadata.default``)."""
    value = (
        a.dns_question_name
        or a.server_address
        or a.net_peer_name
        or a.peer_hostname
        or a.peer_name
        or a.http_host
        or a.hostname
        or a.host
        or a.net_host_name
    )
    return Metadata(default={"host": value}) if type(value) is str else None


def _with_trigger(metadata: Metadata | None, a: Attributes) -> Metadata | None:
    """``faas.trigger`` (and ``messaging.system``) of an invoked span, where flatten reads
    what invoked a span (the span table's ``trigger``)."""
    trigger = _text(a.faas_trigger)
    if trigger is None:
        return metadata
    known = metadata.default if metadata is not None and metadata.default else {}
    extra = {"faas.trigger": trigger}
    system = _text(a.messaging_system)
    if system is not None:
        extra["messaging.system"] = system
    return Metadata(default={**known, **extra})


def _http(a: Attributes, status_code: int | None) -> Http | None:
    method = _text(a.http_request_method or a.http_method)
    url = _text(a.url_full or a.http_url)
    if method is None and url is None and status_code is None:
        return None
    return Http(
        request=HttpRequest(method=method, url=url) if method or url else None,
        response=HttpResponse(status=status_code) if status_code is not None else None,
    )


def span_node(record: SpanRecord) -> Node:
    """The document for one span: a segment, or an independent subsegment under its parent.

    Raises
    ------
    SpanError
        A time that is not a non-negative integer number of nanoseconds.
    """
    a = record.attributes or _NO_ATTRIBUTES
    resource = (record.resource.attributes if record.resource else None) or _NO_RESOURCE
    kind = _KINDS.get(record.kind) or str(record.kind).upper()
    start = nanos(record.startTimeUnixNano, "startTimeUnixNano")
    if start is None:
        raise SpanError("missing required field: startTimeUnixNano")
    end = nanos(record.endTimeUnixNano, "endTimeUnixNano")
    in_progress = end is None or a.xray_in_progress is True
    parent = span_id(record.parentSpanId) if record.parentSpanId else None
    trace_id = xray_trace_id(record.traceId)
    local_root = a.span_kind == "LOCAL_ROOT"
    is_segment = kind == "SERVER" or parent is None or local_root
    if parent is None and record.links:
        # A root reached by an async hop (a queue or bus) names its sender in a link.
        parent = _linked_parent(record.links, trace_id)
    function = is_segment and _is_function(kind, a, resource)
    aws_api = a.rpc_system == "aws-api" or a.aws_service is not None
    exceptions = _exceptions(record) if record.events else []
    status_code = _status_code(a.http_response_status_code or a.http_status_code)
    error, fault, throttle = _flags(status_code, record.status, exceptions)
    if not exceptions and fault and record.status is not None and record.status.message:
        exceptions = [ExceptionRecord(message=record.status.message)]
    request_id = a.aws_request_id or a.aws_request_id2
    if function:
        request_id = a.faas_invocation_id or a.faas_execution or request_id
    node = Node(
        id=span_id(record.spanId),
        name=record.name,
        start_time=_seconds(start),
        end_time=_seconds(end) if end is not None and not in_progress else None,
        trace_id=trace_id,
        parent_id=parent,
        in_progress=in_progress,
        error=error,
        fault=fault,
        throttle=throttle,
        http=_http(a, status_code),
        aws=_aws_fields(a, function, request_id, aws_api),
        cause=Cause(exceptions=exceptions) if exceptions else None,
        annotations={"faas.coldstart": a.faas_coldstart}
        if function and a.faas_coldstart is not None
        else None,
        metadata=_with_trigger(_host(a), a),
    )
    if is_segment:
        node.name = _segment_name(record, a, resource, function)
        if type(resource.cloud_region) is str:
            # NOTE: where flatten reads a region attribute (the span table's ``region``).
            known = node.metadata.default if node.metadata and node.metadata.default else {}
            node.metadata = Metadata(default={**known, "cloud.region": resource.cloud_region})
        if function:
            node.origin = "AWS::Lambda::Function"
            node.resource_arn = _text(a.lambda_invoked_arn or resource.cloud_resource_id)
        else:
            node.origin = _PLATFORM_ORIGINS.get(resource.cloud_platform)
        if local_root and kind in _CALL_KINDS:
            return _service_with_call(node, record, a, aws_api)
        return node
    node.type = "subsegment"
    if kind in _CALL_KINDS:
        node.name = _call_name(record, a, aws_api)
        remote = a.remote_service
        if aws_api or (type(remote) is str and remote.startswith("AWS::")):
            node.namespace = "aws"
        elif kind == "CLIENT" or remote is not None:
            node.namespace = "remote"
    return node


def _linked_parent(links: list[Link], trace_id: str) -> str | None:
    """A root span's one link into its own trace, taken as its parent (an async hop)."""
    if len(links) != 1:
        return None
    link = links[0]
    if link.traceId and link.spanId and xray_trace_id(link.traceId) == trace_id:
        return span_id(link.spanId)
    return None


def _service_with_call(node: Node, record: SpanRecord, a: Attributes, aws_api: bool) -> Node:
    """A local root that is itself a call: the service's segment holding the call.

    The segment takes a new id derived from the span's (the call keeps the span's id, so
    spans under it still find their parent), as the ADOT X-Ray exporter does.
    """
    call_id = node.id
    call = msgspec.structs.replace(
        node,
        name=_call_name(record, a, aws_api),
        origin=None,
        resource_arn=None,
        trace_id=None,
        parent_id=None,
        annotations=None,
        namespace="aws" if aws_api else "remote",
    )
    node.id = derived_segment_id(call_id)
    node.http = None
    node.aws = None
    node.name = _text(a.local_service) or node.name
    node.subsegments = [call]
    return node


def derived_segment_id(span: str) -> str:
    """A stable 16-hex id for the segment made for a local-root call span (bits inverted)."""
    try:
        return f"{int(span, 16) ^ 0xFFFFFFFFFFFFFFFF:016x}"
    except ValueError:
        return span
