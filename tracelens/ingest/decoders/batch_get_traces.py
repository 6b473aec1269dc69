"""X-Ray BatchGetTraces responses (``{"Traces": [{"Id", "Segments": [{"Id", "Document"}]}]}``),
the documents being JSON strings inside them, and single ``Trace`` objects as found inside
them (one per line or per file, as tools that unwrap ``Traces`` write them). The X-Ray
console's raw data view holds each ``Document`` as a JSON object instead, and some tools write
the documents themselves as the ``Segments`` entries: both are read too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from tracelens.ingest.decoders.base import Decoder, Located, Reading
from tracelens.ingest.decoders.xray_segment import decode_text
from tracelens.ingest.segment_model import Node, convert_node, schema_problem


def _batch_documents(response: dict[str, Any], prefix: str, reading: Reading) -> Iterator[Located]:
    stats = reading.stats
    unprocessed = response.get("UnprocessedTraceIds") or []
    if type(unprocessed) is list:
        stats.unprocessed_trace_ids.extend(str(trace_id) for trace_id in unprocessed)
    traces = response["Traces"]
    if type(traces) is not list:
        reading.refuse(f"{prefix}Traces", "wrong type: Traces is not an array")
        return
    for t, trace in enumerate(traces):
        segments = trace.get("Segments") if type(trace) is dict else None
        if type(segments) is not list:
            reading.refuse(f"{prefix}Traces[{t}]", "wrong type: Segments missing or not an array")
            continue
        if trace.get("LimitExceeded") is True:
            stats.limit_exceeded_traces += 1
        for s, segment in enumerate(segments):
            position = f"{prefix}Traces[{t}].Segments[{s}]"
            node = _segment_document(segment, position, reading)
            if node is not None:
                yield position, node


def _segment_document(segment: Any, position: str, reading: Reading) -> Node | None:
    """The document of one ``Segments[]`` entry: ``{"Id", "Document": "<JSON text>"}``, the
    console's ``{"Id", "Document": {...}}``, or the document itself."""
    document = segment.get("Document") if type(segment) is dict else None
    if type(document) is str:
        return decode_text(document, position, reading)
    if type(document) is dict or (
        document is None
        and type(segment) is dict
        and ("id" in segment or "trace_id" in segment or "name" in segment)
    ):
        try:
            return convert_node(segment if document is None else document)
        except msgspec.ValidationError as exc:
            reading.refuse(position, schema_problem(exc))
            return None
    reading.refuse(position, "wrong type: Document missing or not a JSON string")
    return None


def _is_page(value: Any) -> bool:
    return type(value) is dict and "Traces" in value


def _page(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    return _batch_documents(value, position + "." if position else "", reading)


def _is_trace(value: Any) -> bool:
    return type(value) is dict and "Segments" in value and "Id" in value


def _trace(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    return _batch_documents({"Traces": [value]}, f"{position}." if position else "", reading)


PAGE = Decoder("BatchGetTraces response", _is_page, _page)
TRACE = Decoder("X-Ray Trace object", _is_trace, _trace)
