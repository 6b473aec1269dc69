"""The sample application as OpenTelemetry spans: ``aws/spans`` records and OTLP JSON.

The spans are what OpenTelemetry instrumentation of the same functions records (the ADOT Lambda
layer and the AWS SDK, HTTP and DNS instrumentations), written from the X-Ray form:

- a function's ``AWS::Lambda::Function`` segment becomes its handler's ``SERVER`` span
  (``faas.invocation_id``, ``faas.coldstart``, resource ``cloud.platform: aws_lambda``,
  ``faas.name``, ``cloud.resource_id``); Lambda's ``Initialization``/``Restore`` phase stays a
  span of that name under it;
- AWS SDK subsegments become ``CLIENT`` spans (``rpc.system: aws-api``, ``rpc.service``,
  ``rpc.method``, ``aws.dynamodb.table_names``, ``aws.sqs.queue_url``, ``aws.sns.topic.arn``,
  ``faas.invoked_name``, ``aws.request_id``); remote calls ``CLIENT`` spans with the HTTP
  attributes; other subsegments ``INTERNAL`` spans; exceptions become ``exception`` events.

Segments only AWS services record (the ``AWS::Lambda`` service segment, the API Gateway stage,
and X-Ray's inferred segments) have no OpenTelemetry counterpart: they are left out, and a span
under one hangs from that segment's own parent instead, as OpenTelemetry context propagation
links a handler to its caller. :func:`instrumented_documents` applies the same reduction to
the X-Ray form, so that both forms can be compared on the same information.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tracelens.samples.world import Document

SERVICE_ORIGINS = frozenset({"AWS::Lambda", "AWS::ApiGateway::Stage"})
FUNCTION_ORIGIN = "AWS::Lambda::Function"
INIT_NAMES = ("Initialization", "Restore")
_PLATFORMS = {
    "AWS::EC2::Instance": "aws_ec2",
    "AWS::ECS::Container": "aws_ecs",
    "AWS::EKS::Container": "aws_eks",
}


def _dropped(doc: Document) -> bool:
    return bool(doc.get("inferred")) or doc.get("origin") in SERVICE_ORIGINS


def instrumented_documents(documents: Iterable[Document]) -> tuple[list[Document], dict[str, Any]]:
    """``documents`` without the segments only AWS services record, re-parented.

    Returns the documents (copies where changed) and, per function segment id, the request id
    its ``AWS::Lambda`` parent carried.
    """
    docs = list(documents)
    dropped = {doc["id"]: doc for doc in docs if _dropped(doc)}
    request_ids: dict[str, Any] = {}
    kept = []
    for doc in docs:
        if doc["id"] in dropped:
            continue
        parent = doc.get("parent_id")
        service = dropped.get(parent) if parent is not None else None
        if service is not None and service.get("origin") == "AWS::Lambda":
            request_ids[doc["id"]] = (service.get("aws") or {}).get("request_id")
        while parent is not None and parent in dropped:
            parent = dropped[parent].get("parent_id")
        if parent != doc.get("parent_id"):
            moved = {key: value for key, value in doc.items() if key != "parent_id"}
            if parent is not None:
                moved["parent_id"] = parent
            kept.append(moved)
        else:
            kept.append(doc)
    return kept, request_ids


def _ns(seconds: float) -> int:
    return round(seconds * 1_000_000) * 1000


# X-Ray field -> OpenTelemetry attribute, copied when present (in this order).
_HTTP_REQUEST_ATTRIBUTES = (("method", "http.request.method"), ("url", "url.full"))
_HTTP_RESPONSE_ATTRIBUTES = (("status", "http.response.status_code"),)
_AWS_ATTRIBUTES = (
    ("operation", "rpc.method"),
    ("request_id", "aws.request_id"),
    ("table_name", "aws.dynamodb.table_names"),  # a list of one
    ("queue_url", "aws.sqs.queue_url"),
    ("topic_arn", "aws.sns.topic.arn"),
    ("function_name", "faas.invoked_name"),
    ("retries", "aws.xray.retries"),
)
_LIST_ATTRIBUTES = frozenset({"aws.dynamodb.table_names"})


def _copy_attributes(
    fields: Document, names: tuple[tuple[str, str], ...], attrs: dict[str, Any]
) -> None:
    for field, attribute in names:
        value = fields.get(field)
        if value is not None:
            attrs[attribute] = [value] if attribute in _LIST_ATTRIBUTES else value


def _http_attributes(node: Document, attrs: dict[str, Any]) -> None:
    http = node.get("http") or {}
    _copy_attributes(http.get("request") or {}, _HTTP_REQUEST_ATTRIBUTES, attrs)
    _copy_attributes(http.get("response") or {}, _HTTP_RESPONSE_ATTRIBUTES, attrs)


def _aws_attributes(node: Document, attrs: dict[str, Any]) -> None:
    attrs["rpc.system"] = "aws-api"
    attrs["rpc.service"] = node["name"]
    _copy_attributes(node.get("aws") or {}, _AWS_ATTRIBUTES, attrs)


def _events(node: Document) -> list[dict[str, Any]]:
    cause = node.get("cause")
    if not isinstance(cause, dict):
        return []
    return [
        {
            "name": "exception",
            "timeUnixNano": _ns(node.get("end_time") or node["start_time"]),
            "attributes": {
                "exception.type": exc.get("type"),
                "exception.message": exc.get("message"),
            },
        }
        for exc in cause.get("exceptions") or ()
    ]


def _status(node: Document) -> dict[str, Any]:
    status = ((node.get("http") or {}).get("response") or {}).get("status")
    if node.get("fault") and not (isinstance(status, int) and status >= 500):
        return {"code": "ERROR"}
    if node.get("fault") or node.get("error"):
        return {"code": "ERROR"}
    return {"code": "UNSET"}


def _records(
    node: Document,
    trace_id: str,
    parent_id: str | None,
    resource: dict[str, Any],
    *,
    segment: bool,
    request_id: Any,
) -> Iterator[dict[str, Any]]:
    """The record of ``node``, then those of its subsegments (depth first)."""
    attrs: dict[str, Any] = {}
    metadata = (node.get("metadata") or {}).get("default") or {}
    attrs.update({k: v for k, v in metadata.items() if not isinstance(v, (dict, list))})
    attrs.update(node.get("annotations") or {})
    _http_attributes(node, attrs)
    name = node["name"]
    if segment:
        kind = "SERVER"
        attrs["aws.span.kind"] = "LOCAL_ROOT"
        if node.get("origin") == FUNCTION_ORIGIN:
            if request_id is not None:
                attrs["faas.invocation_id"] = request_id
            children = [child["name"] for child in node.get("subsegments") or ()]
            attrs["faas.coldstart"] = any(child in INIT_NAMES for child in children)
        else:
            attrs["aws.local.service"] = name
    elif node.get("namespace") == "aws":
        kind = "CLIENT"
        _aws_attributes(node, attrs)
        operation = (node.get("aws") or {}).get("operation")
        name = f"{node['name']}.{operation}" if operation else node["name"]
    elif node.get("namespace") == "remote":
        kind = "CLIENT"
    else:
        kind = "INTERNAL"
    record: dict[str, Any] = {
        "resource": {"attributes": resource},
        "scope": {"name": "tracelens.samples", "version": "1"},
        "traceId": trace_id,
        "spanId": node["id"],
        "parentSpanId": parent_id or "",
        "flags": 256,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": _ns(node["start_time"]),
    }
    if not node.get("in_progress") and node.get("end_time") is not None:
        record["endTimeUnixNano"] = _ns(node["end_time"])
        record["durationNano"] = record["endTimeUnixNano"] - record["startTimeUnixNano"]
    record["attributes"] = attrs
    record["status"] = _status(node)
    events = _events(node)
    if events:
        record["events"] = events
    yield record
    for child in node.get("subsegments") or ():
        yield from _records(child, trace_id, node["id"], resource, segment=False, request_id=None)


def _resource(doc: Document) -> dict[str, Any]:
    resource: dict[str, Any] = {"service.name": doc["name"], "cloud.provider": "aws"}
    if doc.get("origin") == FUNCTION_ORIGIN:
        aws = doc.get("aws") or {}
        resource["cloud.platform"] = "aws_lambda"
        resource["faas.name"] = doc["name"]
        if aws.get("function_arn") is not None:
            resource["cloud.resource_id"] = aws["function_arn"]
    elif doc.get("origin") in _PLATFORMS:
        resource["cloud.platform"] = _PLATFORMS[doc["origin"]]
    return resource


def span_records(documents: Iterable[Document]) -> Iterator[dict[str, Any]]:
    """``aws/spans`` records for the instrumented documents of one trace, in document order."""
    docs, request_ids = instrumented_documents(documents)
    resources: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc.get("type") != "subsegment":
            resources[doc["id"]] = _resource(doc)
    for doc in docs:
        trace_id = doc["trace_id"].replace("-", "")[1:]
        segment = doc.get("type") != "subsegment"
        resource = resources.get(doc["id"]) or resources.get(doc.get("parent_id", ""), {})
        request_id = request_ids.get(doc["id"])
        parent_id = doc.get("parent_id")
        yield from _records(
            doc, trace_id, parent_id, resource, segment=segment, request_id=request_id
        )


def _otlp_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_otlp_value(item) for item in value]}}
    return {"stringValue": str(value)}


def _otlp_attributes(bag: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _otlp_value(value)} for key, value in bag.items()]


_KIND_NUMBERS = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}
_STATUS_NUMBERS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def otlp_request(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One OTLP JSON ``ExportTraceServiceRequest`` holding ``records``, grouped by resource."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for record in records:
        resource = record["resource"]["attributes"]
        key = json.dumps(resource, sort_keys=True)
        span: dict[str, Any] = {
            "traceId": record["traceId"],
            "spanId": record["spanId"],
            "parentSpanId": record["parentSpanId"],
            "name": record["name"],
            "kind": _KIND_NUMBERS[record["kind"]],
            "startTimeUnixNano": str(record["startTimeUnixNano"]),
        }
        if "endTimeUnixNano" in record:
            span["endTimeUnixNano"] = str(record["endTimeUnixNano"])
        span["attributes"] = _otlp_attributes(record["attributes"])
        if record.get("events"):
            span["events"] = [
                {
                    "timeUnixNano": str(event["timeUnixNano"]),
                    "name": event["name"],
                    "attributes": _otlp_attributes(event["attributes"]),
                }
                for event in record["events"]
            ]
        span["status"] = {"code": _STATUS_NUMBERS[record["status"]["code"]]}
        groups.setdefault(key, (resource, []))[1].append(span)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _otlp_attributes(resource)},
                "scopeSpans": [
                    {"scope": {"name": "tracelens.samples", "version": "1"}, "spans": spans}
                ],
            }
            for resource, spans in groups.values()
        ]
    }


def write_otel(traces: Iterable[tuple[str, Iterable[Document]]], out_dir: Path) -> list[Path]:
    """Write the traces as ``aws-spans/spans.jsonl`` (one ``aws/spans`` record per line, as a
    subscription export holds them) and ``otlp/traces.jsonl`` (one OTLP JSON request per trace,
    as the Collector's file exporter writes them)."""
    records_lines: list[str] = []
    otlp_lines: list[str] = []
    for _, documents in traces:
        records = list(span_records(documents))
        records_lines.extend(json.dumps(record, separators=(",", ":")) for record in records)
        otlp_lines.append(json.dumps(otlp_request(records), separators=(",", ":")))
    spans_path = out_dir / "aws-spans" / "spans.jsonl"
    otlp_path = out_dir / "otlp" / "traces.jsonl"
    for path, lines in ((spans_path, records_lines), (otlp_path, otlp_lines)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))
    return [spans_path, otlp_path]
