"""Stage 2 of ingest, framing: split an opened input into candidate documents and hand each to
the decoders (decoders/registry.py).

The layout is told by content, never by file name:

- newline-delimited (the X-Ray daemon's capture, or any values one per line): each line is a
  candidate, tried first on the decoders' fast paths and otherwise parsed and claimed;
- anything else is one JSON value (a BatchGetTraces response, one segment document, or a JSON
  array of them), parsed whole and claimed by a decoder.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson

from tracelens.ingest.decoders.base import Located, Reading, ReadStats, invalid_json
from tracelens.ingest.decoders.registry import ACCEPTED_FORMATS, FROM_BYTES, decode_value
from tracelens.ingest.opening.file_parts import looks_line_delimited
from tracelens.ingest.opening.sources import Source
from tracelens.ingest.rejections import RejectionSink
from tracelens.limits import MAX_VALUE_BYTES, OVERSIZE_LINE


def _line_documents(data: bytes, reading: Reading, first_line: int = 1) -> Iterator[Located]:
    # NOTE: lines are taken one at a time (BytesIO iterates lazily): splitting the whole input
    # at once would hold a second copy of it.
    for number, line in enumerate(io.BytesIO(data), start=first_line):
        if not line.strip():
            continue
        position = f"line {number}"
        if len(line) > MAX_VALUE_BYTES:
            reading.refuse(position, OVERSIZE_LINE)
            continue
        for from_bytes in FROM_BYTES:
            node = from_bytes(line)
            if node is not None:
                yield position, node
                break
        else:
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reading.refuse(position, invalid_json(exc))
                continue
            yield from decode_value(value, position, reading)


def iter_documents(
    source: Source, rejections: RejectionSink, stats: ReadStats
) -> Iterator[Located]:
    """Yield ``(position, document)`` for every segment document in ``source``.

    What cannot be read is added to ``rejections`` with its position; nothing raises.
    """
    data = source.data
    reading = Reading(source.name, rejections, stats)
    if source.lines:  # a part of a file already found to be newline-delimited
        yield from _line_documents(data, reading, source.first_line)
        return
    if not data.strip():
        reading.refuse("byte 0", "empty input: no segment documents")
        return
    if looks_line_delimited(data):
        yield from _line_documents(data, reading)
        return
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reading.refuse("whole file", f"{invalid_json(exc)}; {ACCEPTED_FORMATS}")
        return
    yield from decode_value(value, "", reading)
