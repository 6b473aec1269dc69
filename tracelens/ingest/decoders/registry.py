"""The registry of input formats the detector consults, and the detector itself.

To add a format, write its decoder module (see decoders/__init__.py) and add its decoder to
``DECODERS`` below, before any decoder that would also claim its values; name it in
``ACCEPTED_FORMATS`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tracelens.ingest.decoders import (
    aws_spans,
    batch_get_traces,
    otlp_json,
    retrieved_traces,
    xray_daemon,
    xray_segment,
)
from tracelens.ingest.decoders.base import Decoder, Located, Reading
from tracelens.ingest.segment_model import Node

# In the order they are asked: the first that claims a value decodes it.
DECODERS: tuple[Decoder, ...] = (
    retrieved_traces.RESPONSE,
    retrieved_traces.TRACE,
    batch_get_traces.PAGE,
    batch_get_traces.TRACE,
    xray_daemon.HEADER,
    otlp_json.REQUEST,
    # NOTE: ahead of segment documents: its fast path rejects a non-span line on one
    # substring test, where a failed segment decode would parse the whole line first.
    aws_spans.RECORD,
    xray_segment.DOCUMENT,
    aws_spans.LOG_EVENTS,
    aws_spans.QUERY_RESULTS,
)

# The fast paths tried on each line of a newline-delimited input before it is parsed, each
# with the trace path of its documents.
FROM_BYTES: tuple[tuple[str, Callable[[bytes], Node | None]], ...] = tuple(
    (decoder.path, decoder.from_bytes) for decoder in DECODERS if decoder.from_bytes is not None
)

ACCEPTED_FORMATS = (
    'expected a BatchGetTraces or ListRetrievedTraces response ({"Traces": [...]}), a segment '
    "document, a JSON array of segment documents, newline-delimited segment documents, "
    "aws/spans records (one per line, or in filter-log-events / GetQueryResults output) or "
    "OTLP JSON (resourceSpans)"
)

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
    ("events", "a filter-log-events response of Lambda logs, not aws/spans: pass it with --logs"),
    (
        "results",
        "a Logs Insights GetQueryResults response without aws/spans records in @message: "
        "pass it with --logs",
    ),
)


def _unrecognized(value: Any) -> str:
    if type(value) is dict:
        for key, hint in _OTHER_RESPONSES:
            if key in value:
                return f"not trace data: {hint}"
    return f"unrecognized input: {ACCEPTED_FORMATS}"


def decode_value(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    """The documents inside one parsed JSON value at ``position`` (``""`` for a whole input):
    decoded by the first decoder claiming it, or each item's when it is an array."""
    if type(value) is list:
        for index, item in enumerate(value):
            yield from decode_value(item, f"{position}[{index}]", reading)
        return
    for decoder in DECODERS:
        if decoder.claims(value):
            count = reading.stats.count_path
            for located in decoder.decode(value, position, reading):
                count(decoder.path)
                yield located
            return
    reading.refuse(position or "whole file", _unrecognized(value))
