"""Find the segment documents in an input, whatever shape AWS tools exported them in.

The format is told by content, never by file name:

- a BatchGetTraces response (``{"Traces": [{"Id", "Segments": [{"Id", "Document"}]}]}``), the
  documents being JSON strings inside it;
- one segment document, or a JSON array of documents (or of BatchGetTraces responses);
- newline-delimited documents as the X-Ray daemon receives them, each optionally preceded by the
  daemon's ``{"format": "json", "version": 1}`` header line.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from tracelens.ingest.rejections import RejectionSink
from tracelens.ingest.segment_model import NestedTooDeep, Node, convert_node, decode_node
from tracelens.ingest.sources import Source

Located = tuple[str, Node]  # (position inside the source, validated document)

ACCEPTED_FORMATS = (
    'expected a BatchGetTraces response ({"Traces": [...]}), a segment document, '
    "a JSON array of segment documents, or newline-delimited segment documents"
)


@dataclass
class ReadStats:
    """What the readers saw besides documents: traces AWS could not return in full."""

    unprocessed_trace_ids: list[str] = field(default_factory=list)
    limit_exceeded_traces: int = 0

    def extend(self, other: ReadStats) -> None:
        """Add what another reader saw."""
        self.unprocessed_trace_ids.extend(other.unprocessed_trace_ids)
        self.limit_exceeded_traces += other.limit_exceeded_traces


# Other AWS responses people pass by mistake: the key that tells each one, what it is and what
# to do with it instead.
_OTHER_RESPONSES: tuple[tuple[str, str], ...] = (
    (
        "TraceSummaries",
        "a GetTraceSummaries response lists trace ids, not segments: fetch the traces with "
        "`aws xray batch-get-traces --trace-ids ...` and analyze that output",
    ),
    ("Services", "a service graph response holds no segments: export traces with batch-get-traces"),
    ("MetricDataResults", "a GetMetricData response: pass it with --metrics"),
    ("Functions", "a ListFunctions response: pass it with --functions"),
    ("events", "a filter-log-events response: pass it with --logs"),
    ("results", "a Logs Insights GetQueryResults response: pass it with --logs"),
)


def _unrecognized(value: Any) -> str:
    if type(value) is dict:
        for key, hint in _OTHER_RESPONSES:
            if key in value:
                return f"not trace data: {hint}"
    return f"unrecognized input: {ACCEPTED_FORMATS}"


def _is_daemon_header(value: Any) -> bool:
    return type(value) is dict and value.keys() == {"format", "version"}


def _invalid_json(exc: Exception) -> str:
    # NOTE: orjson and msgspec are strict RFC 8259 — NaN, Infinity, trailing commas and
    # truncation all fail, exactly the inputs the X-Ray service itself refuses.
    return f"invalid JSON: {exc}"


def schema_problem(exc: msgspec.ValidationError) -> str:
    """``missing required field: `name` at $.subsegments[0]`` from msgspec's wording."""
    text = str(exc)
    if isinstance(exc, NestedTooDeep):
        return text
    detail, _, where = text.partition(" - at `")
    where = where.rstrip("`")
    if detail.startswith("Object missing required field "):
        field_name = detail.removeprefix("Object missing required field ")
        return f"missing required field: {field_name} at {where or '$'}"
    return f"wrong type: {detail[0].lower()}{detail[1:]} at {where or '$'}"


def _decode(
    text: str | bytes, source: str, position: str, rejections: RejectionSink
) -> Node | None:
    try:
        return decode_node(text)
    except msgspec.ValidationError as exc:
        rejections.add(source, position, schema_problem(exc))
    except msgspec.DecodeError as exc:
        rejections.add(source, position, _invalid_json(exc))
    return None


def _batch_documents(
    response: dict[str, Any], source: str, prefix: str, rejections: RejectionSink, stats: ReadStats
) -> Iterator[Located]:
    unprocessed = response.get("UnprocessedTraceIds") or []
    if type(unprocessed) is list:
        stats.unprocessed_trace_ids.extend(str(trace_id) for trace_id in unprocessed)
    traces = response["Traces"]
    if type(traces) is not list:
        rejections.add(source, f"{prefix}Traces", "wrong type: Traces is not an array")
        return
    for t, trace in enumerate(traces):
        segments = trace.get("Segments") if type(trace) is dict else None
        if type(segments) is not list:
            rejections.add(
                source, f"{prefix}Traces[{t}]", "wrong type: Segments missing or not an array"
            )
            continue
        if trace.get("LimitExceeded") is True:
            stats.limit_exceeded_traces += 1
        for s, segment in enumerate(segments):
            position = f"{prefix}Traces[{t}].Segments[{s}]"
            document = segment.get("Document") if type(segment) is dict else None
            if type(document) is not str:
                rejections.add(
                    source, position, "wrong type: Document missing or not a JSON string"
                )
                continue
            node = _decode(document, source, position, rejections)
            if node is not None:
                yield position, node


def _value_documents(
    value: Any, source: str, prefix: str, rejections: RejectionSink, stats: ReadStats
) -> Iterator[Located]:
    """Documents inside one parsed JSON value."""
    if type(value) is list:
        for index, item in enumerate(value):
            yield from _value_documents(item, source, f"{prefix}[{index}]", rejections, stats)
    elif type(value) is dict and "Traces" in value:
        yield from _batch_documents(
            value, source, prefix + "." if prefix else "", rejections, stats
        )
    elif type(value) is dict and "Segments" in value and "Id" in value:
        # A single trace object, as found inside BatchGetTraces output.
        yield from _batch_documents({"Traces": [value]}, source, prefix, rejections, stats)
    elif _is_daemon_header(value):
        return
    elif type(value) is dict and ("id" in value or "trace_id" in value or "name" in value):
        try:
            yield prefix or "document", convert_node(value)
        except msgspec.ValidationError as exc:
            rejections.add(source, prefix or "document", schema_problem(exc))
    else:
        rejections.add(source, prefix or "whole file", _unrecognized(value))


def _line_documents(
    data: bytes, source: str, rejections: RejectionSink, stats: ReadStats, first_line: int = 1
) -> Iterator[Located]:
    # NOTE: lines are taken one at a time (BytesIO iterates lazily): splitting the whole input
    # at once would hold a second copy of it.
    for number, line in enumerate(io.BytesIO(data), start=first_line):
        if not line.strip():
            continue
        try:
            yield f"line {number}", decode_node(line)
            continue
        except msgspec.DecodeError:
            pass  # not a valid document: see what else the line holds, for the right reason
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejections.add(source, f"line {number}", _invalid_json(exc))
            continue
        yield from _value_documents(value, source, f"line {number}", rejections, stats)


def looks_line_delimited(data: bytes) -> bool:
    """True when more follows the first line and that line is a whole JSON value, or looks
    like one object (``{...}``) that is itself broken: a bad first document must not cost
    the documents on the lines after it."""
    first, _, rest = data.lstrip().partition(b"\n")
    if not rest.strip():
        return False
    first = first.strip()
    if first.startswith(b"{") and first.endswith(b"}"):
        return True
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


def iter_documents(
    source: Source, rejections: RejectionSink, stats: ReadStats
) -> Iterator[Located]:
    """Yield ``(position, document)`` for every segment document in ``source``.

    What cannot be read is added to ``rejections`` with its position; nothing raises.
    """
    data = source.data
    if source.lines:  # a part of a file already found to be newline-delimited
        yield from _line_documents(data, source.name, rejections, stats, source.first_line)
        return
    if not data.strip():
        rejections.add(source.name, "byte 0", "empty input: no segment documents")
        return
    if looks_line_delimited(data):
        yield from _line_documents(data, source.name, rejections, stats)
        return
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        rejections.add(source.name, "whole file", f"{_invalid_json(exc)}; {ACCEPTED_FORMATS}")
        return
    yield from _value_documents(value, source.name, "", rejections, stats)
