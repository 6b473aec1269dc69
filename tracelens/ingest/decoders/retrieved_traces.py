"""X-Ray ``ListRetrievedTraces`` responses (traces retrieved from Transaction Search's
``aws/spans``): ``{"TraceFormat", "Traces": [{"Id", "Spans": [{"Id", "Document"}]}]}``, each
``Document`` a JSON string: a span record in the ``OTEL`` trace format, a segment document in
the ``XRAY`` one. Without a ``TraceFormat`` each document is told by its content.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracelens.ingest.decoders.aws_spans import looks_like_span, record_text
from tracelens.ingest.decoders.base import Decoder, Located, Reading
from tracelens.ingest.decoders.xray_segment import decode_text

_FORMATS = {"OTEL": True, "XRAY": False}


def _has_spans(trace: Any) -> bool:
    return type(trace) is dict and "Spans" in trace


def _trace_documents(
    trace: dict[str, Any], otel: bool | None, prefix: str, reading: Reading
) -> Iterator[Located]:
    spans = trace["Spans"]
    if type(spans) is not list:
        reading.refuse(f"{prefix}Spans", "wrong type: Spans is not an array")
        return
    for index, span in enumerate(spans):
        position = f"{prefix}Spans[{index}]"
        document = span.get("Document") if type(span) is dict else None
        if type(document) is not str:
            reading.refuse(position, "wrong type: Document missing or not a JSON string")
            continue
        if otel if otel is not None else looks_like_span(document):
            yield from record_text(document, position, reading)
            continue
        node = decode_text(document, position, reading)
        if node is not None:
            yield position, node


def _is_response(value: Any) -> bool:
    if type(value) is not dict or "Traces" not in value:
        return False
    traces = value["Traces"]
    return "TraceFormat" in value or (type(traces) is list and any(map(_has_spans, traces)))


def _response(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    prefix = f"{position}." if position else ""
    traces = value["Traces"]
    if type(traces) is not list:
        reading.refuse(f"{prefix}Traces", "wrong type: Traces is not an array")
        return
    otel = _FORMATS.get(value.get("TraceFormat"))
    for t, trace in enumerate(traces):
        if not _has_spans(trace):
            reading.refuse(f"{prefix}Traces[{t}]", "wrong type: Spans missing")
            continue
        yield from _trace_documents(trace, otel, f"{prefix}Traces[{t}].", reading)


def _is_trace(value: Any) -> bool:
    return _has_spans(value) and "Id" in value


def _trace(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    return _trace_documents(value, None, f"{position}." if position else "", reading)


RESPONSE = Decoder("ListRetrievedTraces response", _is_response, _response, path="retrieved_traces")
TRACE = Decoder("ListRetrievedTraces trace", _is_trace, _trace, path="retrieved_traces")
