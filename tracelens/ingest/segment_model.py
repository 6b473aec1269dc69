"""The X-Ray segment document schema as typed msgspec structs.

Decoding straight into these structs validates types and required fields in the same pass that
parses the JSON (faster than parsing to dicts and checking afterwards), and its errors name the
field: ``Expected `str`, got `int` - at `$.subsegments[0].name```. Fields tracelens does not
read are skipped by the decoder, so unknown extra fields are accepted and cost nothing.
"""

from __future__ import annotations

from typing import Any

import msgspec


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


class Metadata(msgspec.Struct, gc=False):
    # Only the default namespace can hold host attributes (OpenTelemetry exporters put
    # non-indexed span attributes there); the others are skipped without being built.
    default: dict[str, Any] | None = None


class Node(msgspec.Struct, gc=False):
    """A segment, an independent subsegment document, or a nested subsegment."""

    # NOTE: id formats are checked column-wise after flattening (tracelens.ingest.normalize).
    id: str
    name: str
    start_time: float
    end_time: float | None = None
    trace_id: str | None = None
    parent_id: str | None = None
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
    metadata: Metadata | None = None
    subsegments: list[Node] | None = None


NODE_DECODER = msgspec.json.Decoder(Node)


def convert_node(value: Any) -> Node:
    """Validate an already-parsed document (from a JSON array or a single-document file)."""
    return msgspec.convert(value, Node)
