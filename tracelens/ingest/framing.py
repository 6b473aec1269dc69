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

import codecs
import io
import re
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


_UTF8_STEP = 1024 * 1024


def _utf8_problem(data: bytes) -> str | None:
    """Why ``data`` is not UTF-8 text, or None when it is."""
    # NOTE: a step at a time, so that checking a piece never holds a second copy of it.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _UTF8_STEP):
            decoder.decode(view[start : start + _UTF8_STEP])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        at = start + exc.start
        return f"invalid UTF-8 at byte {at} of the line: JSON text is UTF-8 (RFC 8259)"
    return None


def _line_documents(data: bytes, reading: Reading, first_line: int = 1) -> Iterator[Located]:
    lines = _Lines(data, first_line)
    after_header = False  # documents may span lines after an X-Ray daemon header
    # NOTE: the decoders' fast path skips the fields tracelens does not read without checking
    # their text: the whole piece is checked at once, each line only when that fails.
    all_utf8 = _utf8_problem(data) is None
    for number, line in lines:
        if not line.strip():
            continue
        position = f"line {number}"
        if len(line) > MAX_VALUE_BYTES:
            reading.refuse(position, OVERSIZE_LINE)
            continue
        if not all_utf8 and (problem := _utf8_problem(line)) is not None:
            reading.refuse(position, problem)
            continue
        for path, from_bytes in FROM_BYTES:
            node = from_bytes(line)
            if node is not None:
                reading.stats.count_path(path)
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
        yield from _recovered(data, exc, reading)
        return
    yield from decode_value(value, "", reading)


# A few bad escapes are read as backslashes; past this many the input is refused whole.
_MAX_REPAIRS = 100
_ARRAY_SYNTAX = re.compile(rb'[\\"\[\]{},]')


def _array_items(data: bytes) -> list[bytes] | None:
    """The text of each item of the JSON array ``data`` (told apart by its brackets, commas and
    strings only, so that an item that is not JSON costs only itself); None when ``data`` is
    not an array that ends."""
    start = len(data) - len(data.lstrip())
    if data[start : start + 1] != b"[":
        return None
    items: list[bytes] = []
    depth, in_string, escaped_at, item_start = 0, False, -1, start + 1
    for match in _ARRAY_SYNTAX.finditer(data, start):
        at = match.start()
        char = data[at]
        if in_string:
            if at == escaped_at:
                continue
            if char == 0x5C:  # a backslash: the next character is escaped
                escaped_at = at + 1
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in b"[{":
            depth += 1
        elif char in b"]}":
            depth -= 1
            if depth == 0:
                if data[item_start:at].strip() or items:
                    items.append(data[item_start:at])
                return items if not data[at + 1 :].strip() else None
        elif char == 0x2C and depth == 1:
            items.append(data[item_start:at])
            item_start = at + 1
    return None


def _recovered(data: bytes, error: orjson.JSONDecodeError, reading: Reading) -> Iterator[Located]:
    """The documents that can be kept from an input that is not JSON as a whole: each item of
    an array on its own, or a value whose only faults are bad escapes, read as backslashes
    (the document holding one is then refused by its own parse)."""
    items = _array_items(data)
    if items is not None:
        for index, text in enumerate(items):
            position = f"[{index}]"
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                reading.refuse(position, invalid_json(exc))
                continue
            yield from decode_value(value, position, reading)
        return
    repairs: list[str] = []
    while error.msg.startswith("invalid escape") and len(repairs) < _MAX_REPAIRS:
        at = len(error.doc[: error.pos].encode())
        if data[at : at + 1] != b"\\":
            break
        repairs.append(f"byte {at - len(repairs):,}")  # in the input as given
        data = data[:at] + b"\\" + data[at:]
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            error = exc
            continue
        for position in repairs:
            reading.refuse(position, "invalid JSON: a bad escape, read as a backslash")
        yield from decode_value(value, "", reading)
        return
    reading.refuse("whole file", f"{invalid_json(error)}; {ACCEPTED_FORMATS}")
