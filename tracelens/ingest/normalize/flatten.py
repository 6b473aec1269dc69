"""Flatten decoded segment documents into columns: the only per-node Python in ingest.

A chunk of documents is walked once, depth first, collecting each node and its depth. Every
column is then built from that list in bulk: the structs are transposed at C speed, and each
nested field (http, aws, cause, annotations) takes one comprehension. Parent ids, owning
segments and trace ids follow column-wise from the depth-first order (see spans.py), so
the walk itself costs two appends per node.
"""

from __future__ import annotations

from typing import Any

import msgspec
import polars as pl

from tracelens.ingest.normalize.document_rules import status_number
from tracelens.ingest.segment_model import AwsFields, Cause, Http, Node
from tracelens.limits import CUT_MARK, MAX_ANNOTATIONS_CHARS, MAX_STRING_CHARS, cut_string

# Attribute keys that name the remote host, as X-Ray SDKs and OpenTelemetry exporters write them.
HOST_KEYS: tuple[str, ...] = (
    "dns.question.name",
    "server.address",
    "net.peer.name",
    "peer.hostname",
    "peer.name",
    "http.host",
    "hostname",
    "host",
    # NOTE: OpenTelemetry Go's httptrace puts the looked-up host of `http.dns` here.
    "net.host.name",
)

# Struct fields that become columns as they are.
_DIRECT: dict[str, pl.DataType] = {
    "id": pl.String(),
    "parent_id": pl.String(),
    "type": pl.String(),
    "name": pl.String(),
    "origin": pl.String(),
    "namespace": pl.String(),
    "start_time": pl.Float64(),
    "end_time": pl.Float64(),
    "in_progress": pl.Boolean(),
    "error": pl.Boolean(),
    "fault": pl.Boolean(),
    "throttle": pl.Boolean(),
    "inferred": pl.Boolean(),
    "resource_arn": pl.String(),
}

# Text columns cut to MAX_STRING_CHARS where they enter (ids are checked, never cut).
_CUT_COLUMNS = (
    "type",
    "name",
    "origin",
    "namespace",
    "resource_arn",
    "http_method",
    "http_url",
    "aws_operation",
    "aws_resource",
    "function_ref",
    "aws_request_id",
    "exception_type",
    "exception_message",
    "cause_ref",
    "attr_host",
    "trigger",
)
_NODE_FIELDS: tuple[str, ...] = Node.__struct_fields__
_json = msgspec.json.Encoder().encode
_NO_AWS: tuple[Any, ...] = (None,) * 9
# Attribute keys naming the region (OpenTelemetry resource attributes, as exporters copy them).
REGION_KEYS: tuple[str, ...] = ("cloud.region", "aws.region")
# Metadata keys holding the addresses a DNS lookup returned (older ADOT exporters name such a
# lookup after the host, so these keys are what marks it as a lookup).
DNS_ANSWER_KEYS: tuple[str, ...] = ("http.dns.addrs", "http.dns.addresses")
_NO_CAUSE: tuple[Any, ...] = (None, None, 0, None)
# Attribute keys saying what invoked a span (OpenTelemetry's, as exporters copy them).
TRIGGER_KEY = "faas.trigger"
MESSAGING_SYSTEM_KEY = "messaging.system"
# The attribute of an X-Ray trace link naming its direction.
LINK_REFERENCE_KEY = "aws.xray.reserved.reference_type"


class NodeChunk:
    """The nodes of a run of documents in depth-first order, ready to become columns."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.depths: list[int] = []
        self.roots: list[Node] = []  # one per document, in order
        self.sizes: list[int] = []  # nodes per document

    def add(self, document: Node) -> None:
        """Append one document (its ``trace_id`` already checked) and its subsegments."""
        nodes, depths = self.nodes, self.depths
        before = len(nodes)
        nodes.append(document)
        depths.append(0)
        if document.subsegments:
            _walk(document.subsegments, 1, nodes, depths)
        self.roots.append(document)
        self.sizes.append(len(nodes) - before)


def _walk(children: list[Node], depth: int, nodes: list[Node], depths: list[int]) -> None:
    for child in children:
        nodes.append(child)
        depths.append(depth)
        if child.subsegments:
            _walk(child.subsegments, depth + 1, nodes, depths)


def raw_frame(chunk: NodeChunk) -> pl.DataFrame:
    """One row per node of ``chunk``: its fields, its nested fields flattened, and more.

    The added columns are ``doc`` (the chunk's document number, from 0), ``trace_id`` (the
    document's), ``depth`` and ``bad_status`` (an HTTP status sent as a string that is not a
    number the frame can hold).
    """
    if not chunk.nodes:
        columns: dict[str, Any] = {name: () for name in _NODE_FIELDS}
    else:
        transposed = zip(*map(msgspec.structs.astuple, chunk.nodes), strict=True)
        columns = dict(zip(_NODE_FIELDS, transposed, strict=True))
    docs = (
        pl.Series("doc", range(len(chunk.sizes)), dtype=pl.UInt32)
        .repeat_by(pl.Series(chunk.sizes, dtype=pl.UInt32))
        .explode()
    )
    trace_ids = pl.Series([root.trace_id for root in chunk.roots], dtype=pl.String)
    series = [
        docs,
        trace_ids.gather(docs).alias("trace_id"),
        pl.Series("depth", chunk.depths, dtype=pl.Int16),
        *(pl.Series(name, columns[name], dtype=dtype) for name, dtype in _DIRECT.items()),
        *_http_series(columns["http"]),
        *_aws_series(columns["aws"]),
        *_cause_series(columns["cause"]),
        pl.Series(
            "attr_host", _attr_hosts(columns["annotations"], columns["metadata"]), dtype=pl.String
        ),
        *_attr_extras(columns["annotations"], columns["metadata"], columns["links"]),
        pl.Series(
            "annotations",
            # NOTE: msgspec, not orjson: it writes integers beyond 64 bits, which JSON allows.
            [_annotations_text(bag) if bag else None for bag in columns["annotations"]],
            dtype=pl.String,
        ),
    ]
    return pl.DataFrame(series).with_columns(
        pl.when(pl.col(name).str.len_chars() > MAX_STRING_CHARS)
        .then(
            pl.format(
                "{}" + CUT_MARK.format(kept="{}", length="{}"),
                pl.col(name).str.slice(0, MAX_STRING_CHARS),
                pl.lit(MAX_STRING_CHARS),
                pl.col(name).str.len_chars(),
            )
        )
        .otherwise(pl.col(name))
        .alias(name)
        for name in _CUT_COLUMNS
    )


def _annotations_text(bag: dict[str, Any]) -> str:
    """The annotations as JSON text, their long string values cut (see tracelens/limits.py)."""
    text = _json(bag).decode()
    if len(text) <= MAX_ANNOTATIONS_CHARS:
        return text
    cut = {key[:MAX_STRING_CHARS]: cut_string(v) if type(v) is str else v for key, v in bag.items()}
    text = _json(cut).decode()
    return text if len(text) <= MAX_ANNOTATIONS_CHARS else _json({"cut": cut_string(text)}).decode()


def _http_series(https: tuple[Http | None, ...]) -> list[pl.Series]:
    requests = [h.request if h is not None else None for h in https]
    statuses = [h.response.status if h is not None and h.response else None for h in https]
    bad_status = [False] * len(statuses)
    if any(type(value) is str for value in statuses):
        # NOTE: some SDKs send the status as a string; digits count as the number, anything
        # else refuses the document (see document_rules).
        for index, value in enumerate(statuses):
            if type(value) is str:
                statuses[index] = number = status_number(value)
                bad_status[index] = number is None
    return [
        pl.Series("http_method", [r.method if r else None for r in requests], dtype=pl.String),
        pl.Series("http_url", [r.url if r else None for r in requests], dtype=pl.String),
        pl.Series("http_status", statuses, dtype=pl.Int32),
        pl.Series("bad_status", bad_status, dtype=pl.Boolean),
    ]


def _aws_values(aws: AwsFields) -> tuple[Any, ...]:
    names = aws.resource_names
    resource = (
        aws.table_name
        or aws.queue_url
        or aws.topic_arn
        or aws.function_name
        or (names[0] if names else None)
    )
    function = aws.function_name or aws.function_arn
    # The resource's type and raw name (URL, ARN): spans.py derives the name column-wise.
    identity: tuple[str | None, str | None]
    bucket = aws.bucket_name or aws.bucket
    table = aws.table_name or (aws.table_names[0] if aws.table_names else None)
    if bucket:
        identity = ("AWS::S3::Bucket", bucket)
    elif aws.queue_url:
        identity = ("AWS::SQS::Queue", aws.queue_url)
    elif aws.topic_arn:
        identity = ("AWS::SNS::Topic", aws.topic_arn)
    elif table:
        identity = ("AWS::DynamoDB::Table", table)
    elif function:
        identity = ("AWS::Lambda::Function", function)
    else:
        identity = (None, names[0] if names else None)
    region = aws.region if type(aws.region) is str else None
    return (
        aws.operation,
        resource,
        function,
        aws.request_id,
        aws.retries,
        *identity,
        region,
        aws.function_arn,
    )


def _aws_series(awss: tuple[AwsFields | None, ...]) -> list[pl.Series]:
    values = [_aws_values(aws) if aws is not None else _NO_AWS for aws in awss]
    names = (
        "aws_operation",
        "aws_resource",
        "function_ref",
        "aws_request_id",
        "aws_retries",
        "raw_resource_type",
        "raw_resource_id",
        "aws_region",
        "function_arn",
    )
    types = (pl.String,) * 4 + (pl.Int32,) + (pl.String,) * 4
    transposed = zip(*values, strict=True) if values else ((),) * len(names)
    return [
        pl.Series(name, column, dtype=dtype)
        for name, dtype, column in zip(names, types, transposed, strict=True)
    ]


def _cause_values(cause: Cause | str) -> tuple[Any, ...]:
    if type(cause) is str:
        return (None, None, 0, cause)
    exceptions = cause.exceptions  # type: ignore[union-attr]
    if not exceptions:
        return _NO_CAUSE
    return (exceptions[0].type, exceptions[0].message, len(exceptions), None)


def _cause_series(causes: tuple[Cause | str | None, ...]) -> list[pl.Series]:
    values = [_cause_values(cause) if cause is not None else _NO_CAUSE for cause in causes]
    names = ("exception_type", "exception_message", "exception_count", "cause_ref")
    types = (pl.String, pl.String, pl.Int32, pl.String)
    transposed = zip(*values, strict=True) if values else ((),) * len(names)
    return [
        pl.Series(name, column, dtype=dtype)
        for name, dtype, column in zip(names, types, transposed, strict=True)
    ]


def _host_of(annotations: dict[str, Any] | None, metadata: Any) -> str | None:
    default = metadata.default if metadata is not None else None
    for bag in (annotations, default):
        if type(bag) is dict:
            for key in HOST_KEYS:
                value = bag.get(key)
                if type(value) is str and value:
                    return value
    return None


def _attr_hosts(annotations: tuple[Any, ...], metadata: tuple[Any, ...]) -> list[str | None]:
    return [
        _host_of(bag, meta) if bag or meta is not None else None
        for bag, meta in zip(annotations, metadata, strict=True)
    ]


def _extras_of(
    annotations: dict[str, Any] | None, metadata: Any
) -> tuple[str | None, bool, str | None]:
    default = metadata.default if metadata is not None else None
    region = None
    for bag in (annotations, default):
        if type(bag) is dict:
            for key in REGION_KEYS:
                value = bag.get(key)
                if type(value) is str and value:
                    region = value
                    break
            if region is not None:
                break
    answered = type(default) is dict and any(key in default for key in DNS_ANSWER_KEYS)
    return region, answered, _trigger_of(annotations, default)


def _attr_extras(
    annotations: tuple[Any, ...], metadata: tuple[Any, ...], links: tuple[Any, ...]
) -> list[pl.Series]:
    """``attr_region`` (a region attribute), ``dns_answer`` (DNS answer metadata) and
    ``trigger`` (see ``SPAN_SCHEMA``: ``sqs`` for an X-Ray trace link of reference type
    ``parent``, else the ``faas.trigger`` attribute, ``sqs`` when its ``messaging.system``
    names SQS)."""
    regions: list[str | None] = [None] * len(annotations)
    answers: list[bool | None] = [None] * len(annotations)
    triggers: list[str | None] = [None] * len(annotations)
    for index, (bag, meta) in enumerate(zip(annotations, metadata, strict=True)):
        if bag or meta is not None:
            region, answered, trigger = _extras_of(bag, meta)
            regions[index] = region
            answers[index] = answered or None
            triggers[index] = trigger
    for index, link in enumerate(links):
        if link is not None and _linked_from_parent(link):
            triggers[index] = "sqs"
    return [
        pl.Series("attr_region", regions, dtype=pl.String),
        pl.Series("dns_answer", answers, dtype=pl.Boolean),
        pl.Series("trigger", triggers, dtype=pl.String),
    ]


def _linked_from_parent(links: Any) -> bool:
    """Whether X-Ray trace links hold one of reference type ``parent`` (odd shapes: no)."""
    if type(links) is not list:
        return False
    for link in links:
        if type(link) is dict:
            attributes = link.get("attributes")
            if type(attributes) is dict and attributes.get(LINK_REFERENCE_KEY) == "parent":
                return True
    return False


def _trigger_of(annotations: dict[str, Any] | None, default: Any) -> str | None:
    for bag in (annotations, default):
        if type(bag) is dict:
            trigger = bag.get(TRIGGER_KEY)
            if type(trigger) is str and trigger:
                system = bag.get(MESSAGING_SYSTEM_KEY)
                if type(system) is str and "sqs" in system.lower():
                    return "sqs"
                return trigger.lower()
    return None
