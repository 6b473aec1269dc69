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


class Resource(msgspec.Struct, gc=False):
    attributes: dict[str, Any] | None = None


class Status(msgspec.Struct, gc=False):
    # "UNSET" | "OK" | "ERROR" in aws/spans; 0 | 1 | 2 (or "STATUS_CODE_ERROR") in OTLP JSON.
    code: str | int | None = None
    message: str | None = None


class Event(msgspec.Struct, gc=False):
    name: str | None = None
    attributes: dict[str, Any] | None = None


class Link(msgspec.Struct, gc=False):
    traceId: str | None = None  # noqa: N815 - the record's own field names
    spanId: str | None = None  # noqa: N815


class SpanRecord(msgspec.Struct, gc=False):
    """One span as an ``aws/spans`` log record holds it (attributes as a flat dotted map)."""

    traceId: str  # noqa: N815
    spanId: str  # noqa: N815
    name: str
    # NOTE: integers above 2**53 (aws/spans) or decimal strings (OTLP JSON): never a float.
    startTimeUnixNano: int | str  # noqa: N815
    endTimeUnixNano: int | str | None = None  # noqa: N815
    parentSpanId: str | None = None  # noqa: N815
    kind: str | int | None = None
    attributes: dict[str, Any] | None = None
    resource: Resource | None = None
    status: Status | None = None
    events: list[Event] | None = None
    links: list[Link] | None = None


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
_KINDS: dict[str | int, str] = {
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
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
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
# Attributes that mark a span as a Lambda function invocation (the FaaS conventions and ADOT).
_FAAS_KEYS = ("faas.invocation_id", "faas.execution", "faas.trigger", "faas.coldstart")
INIT_SPAN_NAMES = ("Initialization", "Restore")
# DNS lookups by name: X-Ray Go's `dns`, OpenTelemetry Go's `http.dns`, Node's `dns.lookup`.
DNS_SPAN_PREFIXES = ("dns", "http.dns")


def xray_trace_id(trace_id: str) -> str:
    """The X-Ray form ``1-<8 hex>-<24 hex>`` of a W3C trace id (32 hex digits, or base64).

    The first 8 hex digits are kept as they are: for a W3C id they are random, not a time, and
    tracelens never reads a time from them. Anything else is returned unchanged and refused
    by the normalizer's id check, naming it.
    """
    text = trace_id.lower()
    if len(text) == 32 and _HEX32.fullmatch(text):
        return f"1-{text[:8]}-{text[8:]}"
    if len(trace_id) == 24 and trace_id.endswith("=="):  # protobuf JSON's base64 bytes
        raw = _base64_hex(trace_id)
        if raw is not None and len(raw) == 32:
            return f"1-{raw[:8]}-{raw[8:]}"
    return text if text.startswith("1-") else trace_id


def span_id(value: str) -> str:
    """A span id as X-Ray writes it: 16 lowercase hex digits (from hex or base64)."""
    text = value.lower()
    if len(text) == 16 and _HEX16.fullmatch(text):
        return text
    if len(value) == 12 and value.endswith("="):
        raw = _base64_hex(value)
        if raw is not None and len(raw) == 16:
            return raw
    return value


def _base64_hex(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


def nanos(value: int | str | None, field: str) -> int | None:
    """A nanosecond time as an exact integer (None when absent or 0, i.e. not ended)."""
    if value is None:
        return None
    if type(value) is str:
        if not (value.isascii() and value.isdigit()):
            raise SpanError(f"wrong type: {field} is {value[:30]!r}, not a decimal integer")
        value = int(value)
    if type(value) is not int or value < 0:
        raise SpanError(f"wrong type: {field} is not a non-negative integer")
    return value or None


def _seconds(ns: int) -> float:
    # NOTE: whole microseconds first (exact integer arithmetic), as X-Ray keeps them; the
    # float of microseconds / 1e6 rounds back to the same microsecond in the normalizer.
    return ((ns + 500) // 1000) / 1_000_000


def _first(bag: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = bag.get(key)
        if value is not None and value != "":
            return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is list:
        return _text(value[0]) if value else None
    return value if type(value) is str else str(value)


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


def _trim_aws(name: str) -> str:
    return name.removeprefix("AWS::").removeprefix("AWS.SDK.")


def _exceptions(record: SpanRecord) -> list[ExceptionRecord]:
    found = []
    for event in record.events or ():
        if event.name == "exception":
            bag = event.attributes or {}
            found.append(
                ExceptionRecord(
                    type=_text(bag.get("exception.type")),
                    message=_text(bag.get("exception.message")),
                )
            )
    return found


def _is_function(kind: str, attrs: dict[str, Any], resource: dict[str, Any]) -> bool:
    if any(key in attrs for key in _FAAS_KEYS) or "aws.lambda.invoked_arn" in attrs:
        return True
    return kind in ("SERVER", "CONSUMER") and resource.get("cloud.platform") == "aws_lambda"


def _segment_name(
    record: SpanRecord, attrs: dict[str, Any], resource: dict[str, Any], function: bool
) -> str:
    if function:
        name = _first(resource, "faas.name") or _function_from_arn(
            _first(attrs, "aws.lambda.invoked_arn") or _first(resource, "cloud.resource_id")
        )
        if name:
            return str(name)
    return str(
        _first(attrs, "aws.local.service") or _first(resource, "service.name") or record.name
    )


def _call_name(record: SpanRecord, attrs: dict[str, Any], aws_api: bool) -> str:
    if record.name.startswith(DNS_SPAN_PREFIXES):
        return record.name  # a DNS step keeps its name, whatever host it looked up
    remote = _first(attrs, "aws.remote.service")
    if remote is not None:
        return _trim_aws(str(remote)) if aws_api or str(remote).startswith("AWS::") else remote
    name = _first(attrs, "peer.service", "aws.service")
    if name is None and aws_api:
        name = _first(attrs, "rpc.service")
    if name is None and (db := _first(attrs, "db.name", "db.namespace")) is not None:
        host = _first(attrs, "server.address", "net.peer.name")
        name = f"{db}@{host}" if host else db
    if name is None:
        name = _first(attrs, "rpc.service", "server.address", "http.host", "net.peer.name")
    return str(name) if name is not None else record.name


def _aws_fields(
    attrs: dict[str, Any], function: bool, request_id: Any, aws_api: bool
) -> AwsFields | None:
    resource_type = _text(attrs.get("aws.remote.resource.type")) or ""
    identifier = _text(attrs.get("aws.remote.resource.identifier"))
    table = _text(
        _first(attrs, "aws.dynamodb.table_names", "aws.table_name", "aws.table.name")
    ) or (identifier if resource_type == "AWS::DynamoDB::Table" else None)
    queue = _text(
        _first(attrs, "aws.sqs.queue_url", "messaging.url", "aws.queue_url", "aws.queue.url")
    ) or (identifier if resource_type == "AWS::SQS::Queue" else None)
    topic = _text(_first(attrs, "aws.sns.topic.arn")) or (
        identifier if resource_type == "AWS::SNS::Topic" else None
    )
    if topic is None and aws_api and str(attrs.get("rpc.service")) == "SNS":
        topic = _text(attrs.get("messaging.destination.name"))
    called = None
    if not function:
        called = _text(_first(attrs, "faas.invoked_name", "aws.lambda.function.name")) or (
            identifier if resource_type == "AWS::Lambda::Function" else None
        )
    function_arn = _text(attrs.get("aws.lambda.function.arn"))
    operation = _text(_first(attrs, "aws.operation", "rpc.method", "aws.remote.operation"))
    if not (aws_api or function or table or queue or topic or called or function_arn):
        operation = None  # an HTTP route is not an AWS operation
    retries = attrs.get("aws.xray.retries")
    names = [identifier] if identifier is not None and not (table or queue or topic) else None
    fields = (operation, table, queue, topic, called, function_arn, request_id, retries, names)
    if all(value is None for value in fields):
        return None
    return AwsFields(
        operation=operation,
        table_name=table,
        queue_url=queue,
        topic_arn=topic,
        function_name=called,
        function_arn=function_arn,
        request_id=_text(request_id),
        retries=retries if type(retries) is int and 0 <= retries < 2**31 else None,
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
    throttle = status_code == 429 or any(
        exc.type is not None and _THROTTLING.search(exc.type) for exc in exceptions
    )
    if throttle and not fault:
        error = True
    return error, fault, throttle


def span_node(record: SpanRecord) -> Node:
    """The document for one span: a segment, or an independent subsegment under its parent.

    Raises
    ------
    SpanError
        A time that is not a non-negative integer number of nanoseconds.
    """
    attrs = record.attributes or {}
    resource = (record.resource.attributes if record.resource else None) or {}
    kind = _KINDS.get(record.kind, record.kind) if record.kind is not None else "UNSPECIFIED"
    kind = str(kind).upper()
    start = nanos(record.startTimeUnixNano, "startTimeUnixNano")
    if start is None:
        raise SpanError("missing required field: startTimeUnixNano")
    end = nanos(record.endTimeUnixNano, "endTimeUnixNano")
    in_progress = end is None or attrs.get("aws.xray.inprogress") is True
    parent = span_id(record.parentSpanId) if record.parentSpanId else None
    trace_id = xray_trace_id(record.traceId)
    local_root = attrs.get("aws.span.kind") == "LOCAL_ROOT"
    is_segment = kind == "SERVER" or parent is None or local_root
    if parent is None:
        # A root reached by an async hop (a queue or bus) names its sender in a link.
        parent = _linked_parent(record, trace_id)
    function = is_segment and _is_function(kind, attrs, resource)
    aws_api = attrs.get("rpc.system") == "aws-api" or "aws.service" in attrs
    exceptions = _exceptions(record)
    status_code = _status_code(_first(attrs, "http.response.status_code", "http.status_code"))
    error, fault, throttle = _flags(status_code, record.status, exceptions)
    if not exceptions and fault and record.status is not None and record.status.message:
        exceptions = [ExceptionRecord(message=record.status.message)]
    method = _text(_first(attrs, "http.request.method", "http.method"))
    url = _text(_first(attrs, "url.full", "http.url"))
    http = None
    if method is not None or url is not None or status_code is not None:
        http = Http(
            request=HttpRequest(method=method, url=url) if method or url else None,
            response=HttpResponse(status=status_code) if status_code is not None else None,
        )
    request_id = _first(attrs, "aws.request_id", "aws.requestId")
    if function:
        request_id = _first(attrs, "faas.invocation_id", "faas.execution") or request_id
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
        http=http,
        aws=_aws_fields(attrs, function, request_id, aws_api),
        cause=Cause(exceptions=exceptions) if exceptions else None,
        annotations=_annotations(attrs, function),
        metadata=Metadata(default=attrs) if attrs else None,
    )
    if is_segment:
        node.name = _segment_name(record, attrs, resource, function)
        if function:
            node.origin = "AWS::Lambda::Function"
            node.resource_arn = _text(
                _first(attrs, "aws.lambda.invoked_arn") or _first(resource, "cloud.resource_id")
            )
        else:
            node.origin = _PLATFORM_ORIGINS.get(str(resource.get("cloud.platform")))
        if local_root and kind in _CALL_KINDS:
            return _service_with_call(node, record, attrs, kind, aws_api)
        return node
    node.type = "subsegment"
    if kind in _CALL_KINDS:
        node.name = _call_name(record, attrs, aws_api)
        if aws_api or str(attrs.get("aws.remote.service", "")).startswith("AWS::"):
            node.namespace = "aws"
        elif kind == "CLIENT" or "aws.remote.service" in attrs:
            node.namespace = "remote"
    return node


def _annotations(attrs: dict[str, Any], function: bool) -> dict[str, Any] | None:
    if function and attrs.get("faas.coldstart") is not None:
        return {"faas.coldstart": attrs["faas.coldstart"]}
    return None


def _linked_parent(record: SpanRecord, trace_id: str) -> str | None:
    """A root span's one link into its own trace, taken as its parent (an async hop)."""
    links = record.links or ()
    if len(links) != 1:
        return None
    link = links[0]
    if link.traceId and link.spanId and xray_trace_id(link.traceId) == trace_id:
        return span_id(link.spanId)
    return None


def _service_with_call(
    node: Node, record: SpanRecord, attrs: dict[str, Any], kind: str, aws_api: bool
) -> Node:
    """A local root that is itself a call: the service's segment holding the call.

    The segment takes a new id derived from the span's (the call keeps the span's id, so
    spans under it still find their parent), as the ADOT X-Ray exporter does.
    """
    call_id = node.id
    call = msgspec.structs.replace(
        node,
        name=_call_name(record, attrs, aws_api),
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
    node.name = str(attrs.get("aws.local.service") or node.name)
    node.subsegments = [call]
    return node


def derived_segment_id(span: str) -> str:
    """A stable 16-hex id for the segment made for a local-root call span (bits inverted)."""
    try:
        return f"{int(span, 16) ^ 0xFFFFFFFFFFFFFFFF:016x}"
    except ValueError:
        return span
