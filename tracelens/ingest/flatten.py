"""Flatten one decoded segment document into row tuples: the only per-node Python in ingest.

Everything here runs once per segment and subsegment, so it reads each attribute once and leaves
every derivation that can run column-wise (hosts from URLs, function names from ARNs,
timestamps, id formats) to :mod:`tracelens.ingest.normalize`.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracelens.ingest.segment_model import Node

# The order of values in a row tuple; normalize.py builds its frame from these names.
ROW_FIELDS: tuple[str, ...] = (
    "trace_id",
    "id",
    "parent_id",
    "segment_id",
    "kind",
    "depth",
    "name",
    "origin",
    "namespace",
    "start_s",
    "end_s",
    "in_progress",
    "error",
    "fault",
    "throttle",
    "inferred",
    "http_method",
    "http_url",
    "http_status",
    "aws_operation",
    "aws_resource",
    "function_ref",
    "aws_request_id",
    "aws_retries",
    "attr_host",
    "exception_type",
    "exception_message",
    "exception_count",
    "cause_ref",
    "annotations",
    "doc_index",
)

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

Row = tuple[Any, ...]


class DocumentError(ValueError):
    """A document breaks the segment document schema; the message names the field."""

    def __init__(self, problem: str, field: str) -> None:
        super().__init__(f"{problem}: {field}")
        self.problem, self.field = problem, field

    def inside(self, prefix: str) -> DocumentError:
        """The same error, located inside the subsegment at ``prefix``."""
        return DocumentError(self.problem, prefix + self.field)


def _attr_host(node: Node) -> str | None:
    default = node.metadata.default if node.metadata is not None else None
    for bag in (node.annotations, default):
        if type(bag) is dict:
            for key in HOST_KEYS:
                value = bag.get(key)
                if type(value) is str and value:
                    return value
    return None


def _status(status: int | str | None) -> int | None:
    if status is None or type(status) is int:
        return status
    if type(status) is str and status.isdigit():
        return int(status)
    raise DocumentError("wrong type", f"http.response.status is {str(status)[:20]!r}")


def _node_row(
    node: Node,
    trace_id: str,
    parent_id: str | None,
    segment_id: str | None,
    kind: str,
    depth: int,
    doc_index: int,
) -> Row:
    if node.end_time is None and not node.in_progress:
        raise DocumentError("missing required field", "end_time (or in_progress: true)")
    method = url = status = None
    http = node.http
    if http is not None:
        if http.request is not None:
            method, url = http.request.method, http.request.url
        if http.response is not None:
            status = _status(http.response.status)
    operation = resource = function_ref = request_id = retries = None
    aws = node.aws
    if aws is not None:
        names = aws.resource_names
        operation, request_id, retries = aws.operation, aws.request_id, aws.retries
        function_ref = aws.function_name or aws.function_arn
        resource = (
            aws.table_name
            or aws.queue_url
            or aws.topic_arn
            or aws.function_name
            or (names[0] if names else None)
        )
    exc_type = exc_message = cause_ref = None
    exc_count = 0
    cause = node.cause
    if cause is not None:
        if type(cause) is str:
            cause_ref = cause
        elif cause.exceptions:  # type: ignore[union-attr]
            exceptions = cause.exceptions  # type: ignore[union-attr]
            exc_type, exc_message, exc_count = (
                exceptions[0].type,
                exceptions[0].message,
                len(exceptions),
            )
    annotations = node.annotations
    return (
        trace_id,
        node.id,
        parent_id,
        segment_id or node.id,
        kind,
        depth,
        node.name,
        node.origin,
        node.namespace,
        node.start_time,
        node.end_time,
        node.in_progress,
        node.error,
        node.fault,
        node.throttle,
        node.inferred,
        method,
        url,
        status,
        operation,
        resource,
        function_ref or node.resource_arn,
        request_id,
        retries,
        _attr_host(node) if annotations or node.metadata is not None else None,
        exc_type,
        exc_message,
        exc_count,
        cause_ref,
        orjson.dumps(annotations).decode() if annotations else None,
        doc_index,
    )


def flatten_document(doc: Node, doc_index: int) -> list[Row]:
    """Rows for a segment document and every subsegment nested in it, depth first.

    Raises
    ------
    DocumentError
        When the document breaks a rule its type cannot express (``trace_id`` on a top-level
        document, ``end_time`` or ``in_progress``); the whole document is then refused, as
        X-Ray itself would refuse it.
    """
    trace_id = doc.trace_id
    if trace_id is None:
        raise DocumentError("missing required field", "trace_id")
    kind = "subsegment" if doc.type == "subsegment" else "segment"
    rows = [_node_row(doc, trace_id, doc.parent_id, None, kind, 0, doc_index)]
    if doc.subsegments:
        _flatten_children(doc, trace_id, doc.id, 1, doc_index, rows)
    return rows


def _flatten_children(
    node: Node, trace_id: str, segment_id: str, depth: int, doc_index: int, rows: list[Row]
) -> None:
    for position, child in enumerate(node.subsegments or ()):
        try:
            rows.append(
                _node_row(child, trace_id, node.id, segment_id, "subsegment", depth, doc_index)
            )
            if child.subsegments:
                _flatten_children(child, trace_id, segment_id, depth + 1, doc_index, rows)
        except DocumentError as exc:
            raise exc.inside(f"subsegments[{position}].") from None
