"""The X-Ray segment document schema as typed msgspec structs.

Decoding straight into these structs validates types and required fields in the same pass that
parses the JSON (faster than parsing to dicts and checking afterwards), and its errors name the
field: ``Expected `str`, got `int` - at `$.subsegments[0].name```. Fields tracelens does not
read are skipped by the decoder, so unknown extra fields are accepted and cost nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

SegmentId = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]
TraceId = Annotated[str, msgspec.Meta(pattern="^1-[0-9a-f]{8}-[0-9a-f]{24}$")]


class HttpRequest(msgspec.Struct, gc=False):
    method: str | None = None
    url: str | None = None


class HttpResponse(msgspec.Struct, gc=False):
    # NOTE: some SDKs send numbers as strings; X-Ray accepts both.
    status: int | str | None = None


class Http(msgspec.Struct, gc=False):
    request: HttpRequest | None = None
    response: HttpResponse | None = None


class AwsFields(msgspec.Struct, gc=False):
    operation: str | None = None
    table_name: str | None = None
    queue_url: str | None = None
    topic_arn: str | None = None
    function_name: str | None = None
    function_arn: str | None = None
    request_id: str | None = None
    retries: int | None = None
    resource_names: list[str] | None = None


class ExceptionRecord(msgspec.Struct, gc=False):
    type: str | None = None
    message: str | None = None


class Cause(msgspec.Struct, gc=False):
    exceptions: list[ExceptionRecord] | None = None


class Node(msgspec.Struct, gc=False):
    """A segment, an independent subsegment document, or a nested subsegment."""

    id: SegmentId
    name: str
    start_time: float
    end_time: float | None = None
    trace_id: TraceId | None = None
    parent_id: SegmentId | None = None
    type: str | None = None
    origin: str | None = None
    namespace: str | None = None
    in_progress: bool = False
    error: bool = False
    fault: bool = False
    throttle: bool = False
    inferred: bool = False
    resource_arn: str | None = None
    http: Http | None = None
    aws: AwsFields | None = None
    # A cause is an object, or the 16-hex id of an exception recorded on another subsegment.
    cause: Cause | str | None = None
    annotations: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    subsegments: list[Node] | None = None


NODE_DECODER = msgspec.json.Decoder(Node)


def convert_node(value: Any) -> Node:
    """Validate an already-parsed document (from a JSON array or a single-document file)."""
    return msgspec.convert(value, Node)
