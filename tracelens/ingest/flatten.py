"""Flatten one segment document into row tuples: the only per-document Python in ingest.

Everything here runs once per segment and subsegment, so it reads each field once, with plain
dict access, and leaves every derivation that can be vectorized (hosts from URLs, function names
from ARNs, timestamps) to :mod:`tracelens.ingest.normalize`.
"""

from __future__ import annotations

from typing import Any

import orjson

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
)

Row = tuple[Any, ...]


class DocumentError(ValueError):
    """A document breaks the segment document schema; the message names the field."""


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _want(container: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str) -> Any:
    """Return ``container[key]`` if absent-or-right-type; raise naming the field otherwise."""
    value = container.get(key)
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise DocumentError(f"wrong type: {path}{key} is {_type_name(value)}")


def _section(node: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = node.get(key)
    if value is None:
        return {}
    if type(value) is not dict:
        raise DocumentError(f"wrong type: {path}{key} is {_type_name(value)}, expected object")
    return value


def _status(response: dict[str, Any], path: str) -> int | None:
    status = response.get("status")
    if status is None or (type(status) is int):
        return status
    # NOTE: some SDKs send numbers as strings (content_length too); X-Ray accepts them.
    if type(status) is str and status.isdigit():
        return int(status)
    raise DocumentError(f"wrong type: {path}http.response.status is {_type_name(status)}")


def _attr_host(node: dict[str, Any]) -> str | None:
    for bag in (node.get("annotations"), (node.get("metadata") or {}).get("default")):
        if type(bag) is dict:
            for key in HOST_KEYS:
                value = bag.get(key)
                if type(value) is str and value:
                    return value
    return None


def _cause(node: dict[str, Any], path: str) -> tuple[str | None, str | None, int, str | None]:
    cause = node.get("cause")
    if cause is None:
        return None, None, 0, None
    if type(cause) is str:
        return None, None, 0, cause
    if type(cause) is not dict:
        raise DocumentError(f"wrong type: {path}cause is {_type_name(cause)}")
    exceptions = cause.get("exceptions") or []
    if type(exceptions) is not list:
        raise DocumentError(f"wrong type: {path}cause.exceptions is {_type_name(exceptions)}")
    if not exceptions or type(exceptions[0]) is not dict:
        return None, None, len(exceptions), None
    first = exceptions[0]
    kind, message = first.get("type"), first.get("message")
    return (
        kind if type(kind) is str else None,
        message if type(message) is str else None,
        len(exceptions),
        None,
    )


def _aws_fields(aws: dict[str, Any], path: str) -> tuple[Any, Any, Any, Any, Any]:
    names = aws.get("resource_names")
    first_name = names[0] if type(names) is list and names and type(names[0]) is str else None
    function_ref = aws.get("function_name") or aws.get("function_arn")
    resource = (
        aws.get("table_name")
        or aws.get("queue_url")
        or aws.get("topic_arn")
        or aws.get("function_name")
        or first_name
    )
    retries = _want(aws, "retries", int, path + "aws.")
    return aws.get("operation"), resource, function_ref, aws.get("request_id"), retries


def _required(node: dict[str, Any], path: str) -> tuple[str, str, float, float | None, bool]:
    node_id, name = node.get("id"), node.get("name")
    start, end = node.get("start_time"), node.get("end_time")
    for key, value in (("id", node_id), ("name", name), ("start_time", start)):
        if value is None:
            raise DocumentError(f"missing required field: {path}{key}")
    if type(node_id) is not str or type(name) is not str:
        bad = "id" if type(node_id) is not str else "name"
        raise DocumentError(f"wrong type: {path}{bad} is {_type_name(node.get(bad))}")
    if type(start) not in (float, int):
        raise DocumentError(f"wrong type: {path}start_time is {_type_name(start)}")
    in_progress = node.get("in_progress") is True
    if end is None and not in_progress:
        raise DocumentError(f"missing required field: {path}end_time (or in_progress: true)")
    if end is not None and type(end) not in (float, int):
        raise DocumentError(f"wrong type: {path}end_time is {_type_name(end)}")
    return node_id, name, float(start), (None if end is None else float(end)), in_progress


def _node_row(
    node: dict[str, Any],
    path: str,
    trace_id: str,
    parent_id: str | None,
    segment_id: str | None,
    kind: str,
    depth: int,
    doc_index: int,
) -> tuple[Row, str]:
    node_id, name, start, end, in_progress = _required(node, path)
    http = _section(node, "http", path)
    request = _section(http, "request", path + "http.") if http else {}
    response = _section(http, "response", path + "http.") if http else {}
    aws = _section(node, "aws", path)
    operation, resource, function_ref, request_id, retries = (
        _aws_fields(aws, path) if aws else (None, None, None, None, None)
    )
    exc_type, exc_message, exc_count, cause_ref = _cause(node, path)
    annotations = node.get("annotations")
    row = (
        trace_id,
        node_id,
        parent_id,
        segment_id or node_id,
        kind,
        depth,
        name,
        node.get("origin"),
        node.get("namespace"),
        start,
        end,
        in_progress,
        node.get("error") is True,
        node.get("fault") is True,
        node.get("throttle") is True,
        node.get("inferred") is True,
        request.get("method"),
        request.get("url"),
        _status(response, path) if response else None,
        operation,
        resource,
        function_ref or node.get("resource_arn"),
        request_id,
        retries,
        _attr_host(node) if annotations or "metadata" in node else None,
        exc_type,
        exc_message,
        exc_count,
        cause_ref,
        orjson.dumps(annotations).decode() if type(annotations) is dict and annotations else None,
        doc_index,
    )
    return row, node_id


def flatten_document(doc: Any, doc_index: int) -> list[Row]:
    """Rows for a segment document and every subsegment nested in it, depth first.

    Raises
    ------
    DocumentError
        When the document misses a required field or a field has the wrong type; the whole
        document is then refused, as X-Ray itself would refuse it.
    """
    if type(doc) is not dict:
        raise DocumentError(f"wrong type: document is {_type_name(doc)}, expected object")
    trace_id = doc.get("trace_id")
    if trace_id is None:
        raise DocumentError("missing required field: trace_id")
    if type(trace_id) is not str:
        raise DocumentError(f"wrong type: trace_id is {_type_name(trace_id)}")
    kind = "subsegment" if doc.get("type") == "subsegment" else "segment"
    parent = doc.get("parent_id")
    if parent is not None and type(parent) is not str:
        raise DocumentError(f"wrong type: parent_id is {_type_name(parent)}")
    rows: list[Row] = []
    row, segment_id = _node_row(doc, "", trace_id, parent, None, kind, 0, doc_index)
    rows.append(row)
    _flatten_children(doc, "", trace_id, segment_id, segment_id, 1, doc_index, rows)
    return rows


def _flatten_children(
    node: dict[str, Any],
    path: str,
    trace_id: str,
    parent_id: str,
    segment_id: str,
    depth: int,
    doc_index: int,
    rows: list[Row],
) -> None:
    children = node.get("subsegments")
    if not children:
        return
    if type(children) is not list:
        raise DocumentError(f"wrong type: {path}subsegments is {_type_name(children)}")
    for position, child in enumerate(children):
        child_path = f"{path}subsegments[{position}]."
        if type(child) is not dict:
            raise DocumentError(f"wrong type: {child_path[:-1]} is {_type_name(child)}")
        row, child_id = _node_row(
            child, child_path, trace_id, parent_id, segment_id, "subsegment", depth, doc_index
        )
        rows.append(row)
        _flatten_children(
            child, child_path, trace_id, child_id, segment_id, depth + 1, doc_index, rows
        )
