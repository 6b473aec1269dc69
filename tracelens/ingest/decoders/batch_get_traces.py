"""X-Ray BatchGetTraces responses (``{"Traces": [{"Id", "Segments": [{"Id", "Document"}]}]}``),
the documents being JSON strings inside them, and single ``Trace`` objects as found inside
them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracelens.ingest.decoders.base import Decoder, Located, Reading
from tracelens.ingest.decoders.xray_segment import decode_text


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
            document = segment.get("Document") if type(segment) is dict else None
            if type(document) is not str:
                reading.refuse(position, "wrong type: Document missing or not a JSON string")
                continue
            node = decode_text(document, position, reading)
            if node is not None:
                yield position, node


def _is_page(value: Any) -> bool:
    return type(value) is dict and "Traces" in value


def _page(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    return _batch_documents(value, position + "." if position else "", reading)


def _is_trace(value: Any) -> bool:
    return type(value) is dict and "Segments" in value and "Id" in value


def _trace(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    return _batch_documents({"Traces": [value]}, position, reading)


PAGE = Decoder("BatchGetTraces response", _is_page, _page)
TRACE = Decoder("X-Ray Trace object", _is_trace, _trace)
