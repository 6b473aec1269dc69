"""The decoder interface: what one input format implements (see decoders/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tracelens.ingest.rejections import RejectionSink
from tracelens.ingest.segment_model import Node

Located = tuple[str, Node]  # (position inside the source, validated document)


@dataclass
class ReadStats:
    """What the readers saw besides documents: traces AWS could not return in full."""

    unprocessed_trace_ids: list[str] = field(default_factory=list)
    limit_exceeded_traces: int = 0
    # Inputs passed over without being read, each with why (not refusals: no documents lost).
    skipped: list[str] = field(default_factory=list)
    # Documents decoded per trace path (``tracelens.tracepaths``: "xray", "aws_spans", ...),
    # accepted or not: which forms the traces came in.
    paths: dict[str, int] = field(default_factory=dict)

    def extend(self, other: ReadStats) -> None:
        """Add what another reader saw."""
        self.unprocessed_trace_ids.extend(other.unprocessed_trace_ids)
        self.limit_exceeded_traces += other.limit_exceeded_traces
        self.skipped.extend(other.skipped)
        for path, count in other.paths.items():
            self.count_path(path, count)

    def count_path(self, path: str, documents: int = 1) -> None:
        """Note ``documents`` decoded from the trace path ``path``."""
        self.paths[path] = self.paths.get(path, 0) + documents


@dataclass(frozen=True)
class Reading:
    """The input a decoder is reading: where its refusals and read statistics go."""

    source: str  # the input's name, as messages show it
    rejections: RejectionSink
    stats: ReadStats

    def refuse(self, position: str, reason: str) -> None:
        """Record that what sits at ``position`` in this input is refused, and why."""
        self.rejections.add(self.source, position, reason)


def invalid_json(exc: Exception) -> str:
    """The refusal reason for text that is not JSON."""
    # NOTE: orjson and msgspec are strict RFC 8259 — NaN, Infinity, trailing commas and
    # truncation all fail, exactly the inputs the X-Ray service itself refuses.
    return f"invalid JSON: {exc}"


@dataclass(frozen=True)
class Decoder:
    """One input format.

    - ``claims(value)``: whether a parsed JSON value (a whole input, one line of a
      newline-delimited input, or an item of a JSON array) is in this format. Decoders are
      asked in the registry's order; the first that claims a value decodes it.
    - ``decode(value, position, reading)``: the documents inside ``value`` as
      ``(position, node)``, each position prefixed with ``position`` (where ``value`` sits:
      ``""`` for a whole input, ``line 3``, ``[2]``); what cannot be read is refused with
      ``reading.refuse(position, reason)``. It never raises for bad input.
    - ``path``: the trace path it reads (``tracelens.tracepaths``: ``"xray"`` segments,
      ``"aws_spans"`` records, ``"otlp"``, ``"retrieved_traces"``), counted per document.
    - ``from_bytes(data)`` (optional): a fast path tried on each line of a newline-delimited
      input before it is parsed: the document decoded straight from the bytes, or None to
      have the line parsed and claimed as a value.
    """

    name: str
    claims: Callable[[Any], bool]
    decode: Callable[[Any, str, Reading], Iterator[Located]]
    from_bytes: Callable[[bytes], Node | None] | None = None
    # The trace path its documents come from (``tracelens.tracepaths``).
    path: str = "xray"
