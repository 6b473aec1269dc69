"""CloudWatch Transaction Search span records (the ``aws/spans`` log group): one OpenTelemetry
span per log event, mapped to a segment document by otel_mapping.py.

They come one per line (a subscription or Firehose export), or as the messages of an
``aws logs filter-log-events --output json`` response (``events[].message``) or of a Logs
Insights ``GetQueryResults`` response (the ``@message`` field of each result). A log response
whose messages are not span records is Lambda logs: it is left to the registry, which says to
pass it with ``--logs``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from tracelens.ingest.decoders.base import Decoder, Located, Reading, invalid_json
from tracelens.ingest.decoders.otel_mapping import (
    SpanError,
    SpanRecord,
    convert_span_record,
    decode_span_record,
    is_span_record,
    span_node,
)
from tracelens.ingest.decoders.otlp_json import decode_request, request_documents
from tracelens.ingest.segment_model import Node, schema_problem


def refusal(exc: Exception) -> str:
    """The reason a span's JSON is refused."""
    if isinstance(exc, msgspec.ValidationError):
        return schema_problem(exc)
    return invalid_json(exc)


def mapped(record: SpanRecord, position: str, reading: Reading) -> Iterator[Located]:
    """The document of ``record`` at ``position`` (nothing when it is refused)."""
    try:
        yield position, span_node(record)
    except SpanError as problem:
        reading.refuse(position, str(problem))


def record_text(text: str | bytes, position: str, reading: Reading) -> Iterator[Located]:
    """The spans of one JSON text: an ``aws/spans`` record, or an OTLP JSON request."""
    otlp = b'"resourceSpans"' in text if type(text) is bytes else '"resourceSpans"' in text
    try:
        if otlp:
            yield from request_documents(decode_request(text), f"{position}.", reading)
            return
        record = decode_span_record(text)
    except msgspec.DecodeError as exc:
        reading.refuse(position, refusal(exc))
        return
    yield from mapped(record, position, reading)


def looks_like_span(message: Any) -> bool:
    """Whether a log message holds a span record (or an OTLP request)."""
    return type(message) is str and ('"traceId"' in message or '"resourceSpans"' in message)


def _record(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    where = position or "document"
    try:
        record = convert_span_record(value)
    except msgspec.ValidationError as exc:
        reading.refuse(where, refusal(exc))
        return
    yield from mapped(record, where, reading)


def _from_bytes(data: bytes) -> Node | None:
    if b'"spanId"' not in data or b'"resourceSpans"' in data:
        return None
    try:
        return span_node(decode_span_record(data))
    except (msgspec.DecodeError, SpanError):
        return None  # parsed and claimed again, to be refused with the reason


def _event_messages(value: dict[str, Any]) -> list[tuple[str, Any]]:
    events = value.get("events")
    return [
        (f"events[{i}].message", event.get("message") if type(event) is dict else None)
        for i, event in enumerate(events if type(events) is list else ())
    ]


def _result_messages(value: dict[str, Any]) -> list[tuple[str, Any]]:
    results = value.get("results")
    messages = []
    for i, row in enumerate(results if type(results) is list else ()):
        fields = row if type(row) is list else ()
        message = next(
            (f.get("value") for f in fields if type(f) is dict and f.get("field") == "@message"),
            None,
        )
        messages.append((f"results[{i}].@message", message))
    return messages


def _messages_decoder(key: str, messages_of: Any) -> tuple[Any, Any]:
    def claims(value: Any) -> bool:
        return (
            type(value) is dict
            and key in value
            and any(looks_like_span(message) for _, message in messages_of(value))
        )

    def decode(value: Any, position: str, reading: Reading) -> Iterator[Located]:
        prefix = f"{position}." if position else ""
        for where, message in messages_of(value):
            if type(message) is not str:
                reading.refuse(prefix + where, "wrong type: message missing or not a string")
                continue
            yield from record_text(message, prefix + where, reading)

    return claims, decode


RECORD = Decoder(
    "aws/spans record", is_span_record, _record, from_bytes=_from_bytes, path="aws_spans"
)
LOG_EVENTS = Decoder(
    "filter-log-events response of aws/spans records",
    *_messages_decoder("events", _event_messages),
    path="aws_spans",
)
QUERY_RESULTS = Decoder(
    "GetQueryResults response of aws/spans records",
    *_messages_decoder("results", _result_messages),
    path="aws_spans",
)
