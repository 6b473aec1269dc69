"""OTLP JSON (``ExportTraceServiceRequest``), as the Collector's file exporter (one request per
line) and OTLP/HTTP JSON clients (one per file) write it.

OTLP JSON keeps attributes as ``[{"key", "value": {"stringValue" | "intValue" | ...}}]``, the
kind and status code as numbers, times and 64-bit integers as decimal strings, and ids as hex.
Each span becomes the flat ``SpanRecord`` an ``aws/spans`` record is (otel_mapping.py), so one
mapping serves both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from tracelens.ingest.decoders.base import Decoder, Located, Reading, invalid_json
from tracelens.ingest.decoders.otel_mapping import (
    Event,
    Resource,
    SpanError,
    SpanFields,
    SpanRecord,
    attributes_of,
    event_attributes_of,
    resource_of,
    span_node,
)
from tracelens.ingest.segment_model import schema_problem


class AnyValue(msgspec.Struct, gc=False):
    stringValue: str | None = None  # noqa: N815 - OTLP's field names
    boolValue: bool | None = None  # noqa: N815
    intValue: int | str | None = None  # noqa: N815
    doubleValue: float | None = None  # noqa: N815
    arrayValue: ArrayValue | None = None  # noqa: N815
    kvlistValue: KeyValueList | None = None  # noqa: N815
    bytesValue: str | None = None  # noqa: N815


class ArrayValue(msgspec.Struct, gc=False):
    values: list[AnyValue] | None = None


class KeyValue(msgspec.Struct, gc=False):
    key: str
    value: AnyValue | None = None


class KeyValueList(msgspec.Struct, gc=False):
    values: list[KeyValue] | None = None


class OtlpEvent(msgspec.Struct, gc=False):
    name: str | None = None
    attributes: list[KeyValue] | None = None


class OtlpSpan(SpanFields, gc=False):
    """An OTLP JSON span: the shared fields, attributes as ``[{"key", "value"}]``."""

    attributes: list[KeyValue] | None = None
    events: list[OtlpEvent] | None = None


class OtlpResource(msgspec.Struct, gc=False):
    attributes: list[KeyValue] | None = None


class ScopeSpans(msgspec.Struct, gc=False):
    spans: list[msgspec.Raw] | None = None


class ResourceSpans(msgspec.Struct, gc=False):
    resource: OtlpResource | None = None
    scopeSpans: list[ScopeSpans] | None = None  # noqa: N815
    # NOTE: OTLP before 1.0 named it instrumentationLibrarySpans.
    instrumentationLibrarySpans: list[ScopeSpans] | None = None  # noqa: N815


class ExportRequest(msgspec.Struct, gc=False):
    resourceSpans: list[ResourceSpans]  # noqa: N815


_REQUEST = msgspec.json.Decoder(ExportRequest)
_SPAN = msgspec.json.Decoder(OtlpSpan)


_SCALARS = ("stringValue", "boolValue", "doubleValue", "bytesValue")


def value_of(value: AnyValue | None) -> Any:
    """The plain value of an OTLP ``AnyValue`` (an int64 string becomes an int)."""
    if value is None:
        return None
    number = value.intValue
    if number is not None:
        text = number.removeprefix("-") if type(number) is str else ""
        return int(number) if text.isascii() and text.isdigit() else number
    if value.arrayValue is not None:
        return [value_of(item) for item in value.arrayValue.values or ()]
    if value.kvlistValue is not None:
        return attribute_map(value.kvlistValue.values)
    for name in _SCALARS:
        scalar = getattr(value, name)
        if scalar is not None:
            return scalar
    return None


def attribute_map(pairs: list[KeyValue] | None) -> dict[str, Any] | None:
    """``[{"key", "value"}]`` as a flat map."""
    if not pairs:
        return None
    return {pair.key: value_of(pair.value) for pair in pairs}


def span_record(span: OtlpSpan, resource: Resource | None) -> SpanRecord:
    """An OTLP span as the flat record the mapping reads: the shared fields as they are,
    attributes and events flattened."""
    shared = {name: getattr(span, name) for name in SpanFields.__struct_fields__}
    shared["links"] = span.links or None
    events = [
        Event(e.name, event_attributes_of(attribute_map(e.attributes))) for e in span.events or ()
    ]
    return SpanRecord(
        **shared,
        attributes=attributes_of(attribute_map(span.attributes)),
        resource=resource,
        events=events or None,
    )


def decode_request(data: str | bytes) -> ExportRequest:
    """Parse an ``ExportTraceServiceRequest`` (spans left raw, decoded one at a time so that a
    broken span is refused alone)."""
    return _REQUEST.decode(data)


def convert_request(value: Any) -> ExportRequest:
    """Validate an already-parsed ``ExportTraceServiceRequest``."""
    raw = msgspec.json.encode(value)
    return _REQUEST.decode(raw)


def request_spans(
    request: ExportRequest,
) -> Iterator[tuple[str, bytes | None, SpanRecord | None, Exception | None]]:
    """``(position, raw span, record or None, problem or None)`` for every span of ``request``."""
    for r, group in enumerate(request.resourceSpans):
        resource = resource_of(attribute_map(group.resource.attributes)) if group.resource else None
        scopes = group.scopeSpans or group.instrumentationLibrarySpans or ()
        for s, scope in enumerate(scopes):
            for p, raw in enumerate(scope.spans or ()):
                position = f"resourceSpans[{r}].scopeSpans[{s}].spans[{p}]"
                try:
                    span = _SPAN.decode(raw)
                except msgspec.DecodeError as exc:
                    yield position, bytes(raw), None, exc
                    continue
                yield position, None, span_record(span, resource), None


def is_otlp_request(value: Any) -> bool:
    """Whether a parsed JSON value is an ``ExportTraceServiceRequest``."""
    return type(value) is dict and "resourceSpans" in value


def _refusal(exc: Exception) -> str:
    if isinstance(exc, msgspec.ValidationError):
        return schema_problem(exc)
    return invalid_json(exc)


def request_documents(request: ExportRequest, prefix: str, reading: Reading) -> Iterator[Located]:
    """The documents of every span of ``request``; a span that cannot be read is refused alone
    (``resourceSpans[i].scopeSpans[j].spans[k]``)."""
    for position, _, record, problem in request_spans(request):
        where = prefix + position
        if record is None:
            reading.refuse(where, _refusal(problem or ValueError("unreadable span")))
            continue
        try:
            yield where, span_node(record)
        except SpanError as error:
            reading.refuse(where, str(error))


def _decode(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    try:
        request = convert_request(value)
    except msgspec.DecodeError as exc:
        reading.refuse(position or "document", _refusal(exc))
        return
    yield from request_documents(request, f"{position}." if position else "", reading)


REQUEST = Decoder("OTLP JSON ExportTraceServiceRequest", is_otlp_request, _decode, path="otlp")
