"""Subsegments for AWS SDK calls (DynamoDB, SQS, SNS, Lambda Invoke) and X-Ray's inferred
segments for them, in the shapes the X-Ray SDKs and the X-Ray service produce."""

from __future__ import annotations

from typing import Any, TypedDict

from tracelens.samples.app import REGION, queue_url, topic_arn
from tracelens.samples.ids import Draws, epoch_us
from tracelens.samples.truth import DYNAMODB_TABLE, SNS_TOPIC, SQS_QUEUE, NodeRef
from tracelens.samples.world import Document, Site

# X-Ray's origin for the inferred segment of each AWS service, and how its node is named.
INFERRED_ORIGIN = {"DynamoDB": DYNAMODB_TABLE, "SQS": SQS_QUEUE, "SNS": SNS_TOPIC}

DYNAMO_THROTTLE_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)


def subsegment(draws: Draws, name: str, start_s: float, end_s: float, **fields: Any) -> Document:
    """A subsegment with a fresh id; extra fields follow in the given order."""
    doc: Document = {
        "id": draws.hex_id(),
        "name": name,
        "start_time": epoch_us(start_s),
        "end_time": epoch_us(end_s),
    }
    doc.update(fields)
    return doc


def exception(draws: Draws, type_: str, message: str, *, remote: bool = True) -> Document:
    return {"id": draws.hex_id(), "message": message, "type": type_, "remote": remote}


def status_flags(status: int | None, *, fault: bool = False, throttle: bool = False) -> Document:
    """``error``/``throttle``/``fault`` as the SDKs set them from an HTTP status."""
    flags: Document = {}
    if status is not None and 400 <= status < 500:
        flags["error"] = True
    if throttle or status == 429:
        flags["throttle"] = True
    if fault or (status is not None and status >= 500):
        flags["fault"] = True
    return flags


def inferred_segment(draws: Draws, call: Document, trace_id: str, origin: str | None) -> Document:
    """The segment X-Ray infers for an untraced downstream call: same timing, http and aws."""
    doc: Document = {
        "id": draws.hex_id(),
        "name": call["name"],
        "start_time": call["start_time"],
        "end_time": call["end_time"],
        "parent_id": call["id"],
        "inferred": True,
    }
    for flag in ("error", "throttle", "fault"):
        if call.get(flag):
            doc[flag] = True
    if "http" in call:
        doc["http"] = call["http"]
    if "aws" in call:
        doc["aws"] = call["aws"]
    doc["trace_id"] = trace_id
    if origin is not None:
        doc["origin"] = origin
    return doc


class CallOptions(TypedDict, total=False):
    """How an :func:`aws_call` went, besides its service, operation, resource and timing."""

    status: int
    retries: int
    throttle: bool
    error: tuple[str, str] | None
    content_length: int


def aws_call(
    site: Site,
    service: str,
    operation: str,
    resource: str,
    start_s: float,
    duration_ms: float,
    *,
    status: int = 200,
    retries: int = 0,
    throttle: bool = False,
    error: tuple[str, str] | None = None,
    content_length: int = 0,
) -> Document:
    """One outermost AWS SDK call subsegment, its inferred segment, and its ledger entry.

    ``resource`` is the table, queue or topic name; ``error`` is (exception type, message).
    """
    draws = site.draws
    doc = subsegment(draws, service, start_s, start_s + duration_ms / 1000)
    doc.update(status_flags(status, throttle=throttle))
    if error is not None:
        doc["cause"] = {"exceptions": [exception(draws, *error)]}
    doc["http"] = {"response": {"status": status, "content_length": content_length}}
    doc["aws"] = _aws_fields(draws, service, operation, resource, retries)
    doc["namespace"] = "aws"
    node_name = "SNS" if service == "SNS" else resource
    site.world.ledger.call(
        site.node,
        NodeRef(node_name, INFERRED_ORIGIN[service]),
        trace_id=site.trace.trace_id,
        duration_ms=duration_ms,
        status=status,
        throttle=throttle,
    )
    site.trace.documents.append(
        inferred_segment(draws, doc, site.trace.trace_id, INFERRED_ORIGIN[service])
    )
    return doc


def _aws_fields(
    draws: Draws, service: str, operation: str, resource: str, retries: int
) -> Document:
    fields: Document = {"operation": operation, "region": REGION}
    if service == "DynamoDB":
        fields["request_id"] = draws.dynamo_request_id()
        fields["retries"] = retries
        fields["table_name"] = resource
        fields["resource_names"] = [resource]
    elif service == "SQS":
        fields["request_id"] = draws.request_id()
        fields["retries"] = retries
        fields["queue_url"] = queue_url(resource)
        fields["message_id"] = draws.request_id()
    else:
        fields["request_id"] = draws.request_id()
        fields["retries"] = retries
        fields["topic_arn"] = topic_arn(resource)
    return fields


def invoke_subsegment(
    draws: Draws,
    subsegment_id: str,
    function_name: str,
    request_id: str,
    start_s: float,
    end_s: float,
    *,
    status: int,
    url: str | None = None,
) -> Document:
    """The caller's ``Lambda`` subsegment for a synchronous ``Invoke`` (429 when throttled)."""
    doc: Document = {
        "id": subsegment_id,
        "name": "Lambda",
        "start_time": epoch_us(start_s),
        "end_time": epoch_us(end_s),
    }
    doc.update(status_flags(status))
    if status == 429:
        doc["cause"] = {
            "exceptions": [exception(draws, "TooManyRequestsException", "Rate Exceeded.")]
        }
    http: Document = {"response": {"status": status, "content_length": 0 if status == 429 else 96}}
    if url is not None:
        http = {"request": {"url": url, "method": "POST"}, **http}
    doc["http"] = http
    doc["aws"] = {
        "function_name": function_name,
        "invocation_type": "RequestResponse",
        "operation": "Invoke",
        "region": REGION,
        "request_id": request_id,
        "retries": 0,
        "resource_names": [function_name],
    }
    doc["namespace"] = "aws"
    return doc
