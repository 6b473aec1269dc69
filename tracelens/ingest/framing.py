"""Stage 2 of ingest, framing: split an opened input into candidate documents and hand each to
the decoders (decoders/registry.py).

The layout is told by content, never by file name:

- newline-delimited (the X-Ray daemon's capture, or any values one per line): each line is a
  candidate, tried first on the decoders' fast paths and otherwise parsed and claimed; after a
  daemon header, a document may span several lines (up to the next line that is a whole
  object or array);
- anything else is one JSON value (a BatchGetTraces response, one segment document, or a JSON
  array of them), parsed whole and claimed by a decoder.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson

from tracelens.ingest.decoders.base import Located, Reading, ReadStats, invalid_json
from tracelens.ingest.decoders.registry import ACCEPTED_FORMATS, FROM_BYTES, decode_value
from tracelens.ingest.decoders.xray_daemon import is_header as is_daemon_header
from tracelens.ingest.opening.file_parts import looks_line_delimited
from tracelens.ingest.opening.sources import Source
from tracelens.ingest.rejections import RejectionSink
from tracelens.limits import MAX_VALUE_BYTES, OVERSIZE_LINE


class _Lines:
    """The numbered lines of ``data``, one at a time, with one line of look-back."""

    def __init__(self, data: bytes, first_line: int) -> None:
        # NOTE: lines are taken one at a time (BytesIO iterates lazily): splitting the whole
        # input at once would hold a second copy of it.
        self._lines = enumerate(io.BytesIO(data), start=first_line)
        self._back: tuple[int, bytes] | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> tuple[int, bytes]:
        if self._back is not None:
            line, self._back = self._back, None
            return line
        return next(self._lines)

    def put_back(self, line: tuple[int, bytes]) -> None:
        self._back = line


def _is_whole_line(line: bytes) -> bool:
    """Whether ``line`` is a whole object or array: a document, a header or a page of its own,
    never a line inside a pretty-printed document."""
    text = line.strip()
    if not text.startswith((b"{", b"[")):
        return False
    try:
        return type(orjson.loads(text)) in (dict, list)
    except orjson.JSONDecodeError:
        return False


def _multi_line_document(
    first: bytes, number: int, lines: _Lines, reading: Reading
) -> Iterator[Located]:
    """A document written over several lines after a daemon header, from its ``first`` line
    (``number``) to the line before the next line that is a whole object or array (a header,
    a document) or the end; refused as one, at its first line, when it is not JSON."""
    block, size, last = [first], len(first), number
    for line in lines:
        if _is_whole_line(line[1]):
            lines.put_back(line)
            break
        block.append(line[1])
        size += len(line[1])
        last = line[0]
        if size > MAX_VALUE_BYTES:
            reading.refuse(f"line {number}", OVERSIZE_LINE)
            return
    position = f"line {number}"
    try:
        value = orjson.loads(b"".join(block))
    except orjson.JSONDecodeError as exc:
        over = f" (a document over lines {number}-{last})" if last > number else ""
        reading.refuse(position, invalid_json(exc) + over)
        return
    yield from decode_value(value, position, reading)


def _line_documents(data: bytes, reading: Reading, first_line: int = 1) -> Iterator[Located]:
    lines = _Lines(data, first_line)
    after_header = False  # documents may span lines after an X-Ray daemon header
    for number, line in lines:
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
                if after_header and line.lstrip().startswith(b"{"):
                    yield from _multi_line_document(line, number, lines, reading)
                else:
                    reading.refuse(position, invalid_json(exc))
                continue
            after_header = after_header or is_daemon_header(value)
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
