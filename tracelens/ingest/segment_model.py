"""The X-Ray segment document schema as typed msgspec structs: what every decoder yields and
normalization reads (see tracelens/ingest/__init__.py for the stages).

Decoding straight into these structs validates types and required fields in the same pass that
parses the JSON (faster than parsing to dicts and checking afterwards), and its errors name the
field: ``Expected `str`, got `int` - at `$.subsegments[0].name```. Fields tracelens does not
read are skipped by the decoder, so unknown extra fields are accepted and cost nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from tracelens.limits import EARLIEST_TIME, LATEST_TIME, TIME_RANGE

# NOTE: bounds keep every number representable in the span frame (Int32 status and retries,
# microsecond Int64 timestamps): a value outside them refuses the document, naming the field,
# instead of failing the whole run or turning silently into null.
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
# Times outside the one valid range (tracelens/limits.py) refuse the document, naming the field.
EpochSeconds = Annotated[float, msgspec.Meta(ge=EARLIEST_TIME, lt=LATEST_TIME)]


class HttpRequest(msgspec.Struct, gc=False):
    method: str | None = None
    url: str | None = None


class HttpResponse(msgspec.Struct, gc=False):
    # NOTE: some SDKs send numbers as strings; X-Ray accepts both.
    status: Int32 | str | None = None


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
    retries: Int32 | None = None
    resource_names: list[str] | None = None
    # S3 calls: the X-Ray SDKs' parameter whitelists record the request's `Bucket` as
    # `bucket_name` (the Python SDK's CopyObject as `bucket`); DynamoDB batch calls name their
    # tables in `table_names`.
    bucket_name: str | None = None
    bucket: str | None = None
    table_names: list[str] | None = None
    # NOTE: Any, so that an odd value is ignored (read as no region) instead of refusing the
    # document.
    region: Any = None


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

    # NOTE: id formats are checked column-wise after flattening (tracelens.ingest.normalize.spans).
    id: str
    name: str
    start_time: EpochSeconds
    end_time: EpochSeconds | None = None
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
    # X-Ray trace links (``[{"trace_id", "id", "attributes": {"aws.xray.reserved.
    # reference_type": "parent" | "child"}}]``): X-Ray links the traces of SQS messages'
    # producers to the trace of the Lambda function that consumed them. NOTE: Any, so that an
    # odd value is ignored (read as no link) instead of refusing the document.
    links: Any = None


_NODE_DECODER = msgspec.json.Decoder(Node)


class NestedTooDeep(msgspec.ValidationError):
    """Subsegments nested deeper than the decoder can follow (a few hundred levels)."""

    def __init__(self) -> None:
        super().__init__(
            "too deeply nested: subsegments inside subsegments beyond a few hundred levels"
        )


def decode_node(data: str | bytes) -> Node:
    """Parse and validate one segment document.

    Raises
    ------
    msgspec.DecodeError
        Invalid JSON; its subclass ``msgspec.ValidationError`` (or ``NestedTooDeep``) for
        valid JSON that breaks the schema.
    """
    try:
        return _NODE_DECODER.decode(data)
    except RecursionError:
        raise NestedTooDeep from None


def schema_problem(exc: msgspec.ValidationError) -> str:
    """``missing required field: `name` at $.subsegments[0]`` from msgspec's wording."""
    text = str(exc)
    if isinstance(exc, NestedTooDeep):
        return text
    detail, _, where = text.partition(" - at `")
    where = where.rstrip("`")
    out_of_bounds = ("Expected `float` >", "Expected `float` <", "Number out of range")
    if where.endswith(("start_time", "end_time")) and detail.startswith(out_of_bounds):
        return f"time out of range: expected epoch seconds in {TIME_RANGE} at {where}"
    if detail.startswith("Object missing required field "):
        field_name = detail.removeprefix("Object missing required field ")
        return f"missing required field: {field_name} at {where or '$'}"
    return f"wrong type: {detail[0].lower()}{detail[1:]} at {where or '$'}"


def convert_node(value: Any) -> Node:
    """Validate an already-parsed document (from a JSON array or a single-document file)."""
    try:
        return msgspec.convert(value, Node)
    except RecursionError:
        raise NestedTooDeep from None
