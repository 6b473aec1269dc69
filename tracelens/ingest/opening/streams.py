"""Reading each input a piece at a time when it holds one document per line.

A large plain file is cut at line starts (file_parts.py). A gzip file or standard input cannot
be cut at byte offsets, but read in order it can be: each piece ends at a line end and is
numbered from its first line. Either way memory holds one piece of the text, not all of it.
"""

from __future__ import annotations

import codecs
import gzip
import io
import stat
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from tracelens.ingest.opening import file_parts
from tracelens.ingest.opening.file_parts import piece_ends, read_line_by_line
from tracelens.ingest.opening.sources import (
    GZIP_ERRORS,
    GZIP_MAGIC,
    STDIN,
    STDIN_NAME,
    FilePart,
    InputError,
    Item,
    Source,
    UnreadableContentError,
    as_utf8,
    display_name,
    expand_paths,
    lines_before,
    read_source,
)
from tracelens.ingest.rejections import RejectionSink
from tracelens.limits import MAX_VALUE_BYTES, OVERSIZE_LINE, OVERSIZE_VALUE


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# NOTE: a gzip stream that breaks loses what the failing read had decompressed: reading in
# small steps keeps that loss to one step, not a whole piece.
_STEP_BYTES = 64 * 1024


class _SteppedReader:
    """Reads ``stream`` a step at a time; a gzip fault ends the data and is kept in ``fault``."""

    def __init__(self, stream: _Readable) -> None:
        # NOTE: read1 (one read of the stream below) where there is one: a buffered read
        # loses what it had gathered when a later read inside it fails, such as the data of
        # a whole gzip stream followed by trailing garbage.
        self._read = getattr(stream, "read1", stream.read)
        self.fault: BaseException | None = None

    def read(self, size: int = -1, /) -> bytes:
        size = sys.maxsize if size < 0 else size
        steps: list[bytes] = []
        while size > 0 and self.fault is None:
            try:
                step = self._read(min(size, _STEP_BYTES))
            except GZIP_ERRORS as exc:
                self.fault = exc
                break
            if not step:
                break
            steps.append(step)
            size -= len(step)
        return b"".join(steps)


def _read_or_refuse(name: str, stream: _Readable, size: int = -1) -> bytes:
    """``stream.read(size)``; a gzip fault there refuses the whole input ``name``."""
    try:
        return stream.read(size)
    except GZIP_ERRORS as exc:
        raise UnreadableContentError(name, exc) from exc


class _Prefixed:
    """``head`` followed by the rest of ``rest``: a stream whose start was read already."""

    def __init__(self, head: bytes, rest: _Readable) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        return data


def _value_or_refuse(
    name: str, head: bytes, rest: _SteppedReader, rejections: RejectionSink
) -> bytes | None:
    """``head`` and the rest of ``rest`` when they make at most ``MAX_VALUE_BYTES``; None,
    refused, when they make more: the rest is then left unread.

    Blanks before and after the value are not counted (nor held, past the cap).
    """
    data: list[bytes] = []
    size = 0
    blanks: list[bytes] = []  # blanks after the text so far: its end, or not
    blank_size = 0
    block = head
    while True:
        if not size:
            block = block.lstrip()
        text = block.rstrip()
        if text:
            size += blank_size + len(text)
            if size > MAX_VALUE_BYTES:
                rejections.add(name, "whole file", OVERSIZE_VALUE)
                return None
            data += [*blanks, text]
            blanks, blank_size = [], 0
        if len(text) < len(block):
            blank_size += len(block) - len(text)
            if blank_size <= MAX_VALUE_BYTES:
                blanks.append(block[len(text) :])
        block = rest.read(_STEP_BYTES * 16)
        if not block:
            return b"".join(data)


def _skip_line(reader: _SteppedReader) -> bytes | None:
    """Read on to the end of the current line; what follows that end, or None at the end of
    the input."""
    while block := reader.read(_STEP_BYTES * 16):
        end = block.find(b"\n")
        if end >= 0:
            return block[end + 1 :]
    return None


def _after_whole_stream(fault: BaseException) -> bool:
    """Whether a gzip ``fault`` came after a whole, checked gzip stream (trailing garbage):
    the text before it is then whole."""
    return isinstance(fault, gzip.BadGzipFile) and str(fault).startswith("Not a gzipped file")


def _pieces(name: str, head: bytes, rest: _Readable, rejections: RejectionSink) -> Iterator[Source]:
    """``head`` and what follows it in ``rest``: in line-ending pieces when line by line.

    A line, or an input that is one JSON value, longer than ``MAX_VALUE_BYTES`` is refused
    in ``rejections`` without being held: the lines after such a line are still read.

    Raises
    ------
    UnreadableContentError
        When ``rest`` is a gzip stream that turns out corrupt or cut short: from the first
        line not handed out whole (the lines before it are).
    """
    head = head.removeprefix(codecs.BOM_UTF8)
    reader = rest if isinstance(rest, _SteppedReader) else _SteppedReader(rest)
    if not read_line_by_line(head):
        value = _value_or_refuse(name, head, reader, rejections)
        whole = reader.fault is None or _after_whole_stream(reader.fault)
        if whole and value is not None:
            yield Source(name, as_utf8(value))
        if reader.fault is not None:
            from_byte = len(value or b"") if _after_whole_stream(reader.fault) else 0
            raise UnreadableContentError(name, reader.fault, from_byte=from_byte)
        return
    yield from _line_pieces(name, head, reader, 1, rejections)


def _line_pieces(
    name: str, pending: bytes, reader: _SteppedReader, first_line: int, rejections: RejectionSink
) -> Generator[Source, None, int]:
    """``pending`` and the rest of ``reader`` in line-ending pieces, numbered from
    ``first_line``; a line longer than ``MAX_VALUE_BYTES`` refused unheld (see _pieces).
    Returns the number of the line after them."""
    while True:
        block = reader.read(file_parts.PIECE_BYTES)
        if not block and len(pending) <= MAX_VALUE_BYTES:
            break
        text = pending + block
        cut = text.rfind(b"\n") + 1
        piece, pending = text[:cut], text[cut:]
        if piece:
            yield Source(name, piece, first_line=first_line, lines=True)
            first_line += piece.count(b"\n")
        if len(pending) > MAX_VALUE_BYTES:
            rejections.add(name, f"line {first_line}", OVERSIZE_LINE)
            after = _skip_line(reader)
            pending = after if after is not None else b""
            first_line += 1
    if reader.fault is not None:
        # The text after the last line end is part of a line the fault cut short.
        cut = pending.rfind(b"\n") + 1
        if cut:
            yield Source(name, pending[:cut], first_line=first_line, lines=True)
            first_line += pending.count(b"\n", 0, cut)
        raise UnreadableContentError(name, reader.fault, from_line=first_line)
    if pending:
        yield Source(name, pending, first_line=first_line, lines=True)
        first_line += pending.count(b"\n") + (not pending.endswith(b"\n"))
    return first_line


def _regular_size(path: Path) -> int | None:
    """The size of ``path`` when it is a regular file; None otherwise (a pipe) or unknown."""
    try:
        status = path.stat()
    except OSError:
        return None  # the reader reports it
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def is_gzip_file(path: Path) -> bool:
    """Whether ``path`` starts as a gzip file does (False when it cannot be read)."""
    try:
        with path.open("rb") as file:
            return file.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    except OSError:
        return False


def stream_sources(name: str, raw: _Readable, rejections: RejectionSink) -> Iterator[Source]:
    """The text of the stream ``raw`` (decompressed when it is gzip), a piece at a time when
    it is line by line; at most ``MAX_VALUE_BYTES`` held at once either way.

    Raises
    ------
    UnreadableContentError
        When it is not a whole gzip stream (after the pieces read before the fault).
    """
    head = raw.read(file_parts.HEAD_BYTES)
    if head.startswith(GZIP_MAGIC):
        prefixed: Any = _Prefixed(head, raw)  # gzip asks only for read()
        stream = _SteppedReader(gzip.GzipFile(fileobj=prefixed, mode="rb"))
        head = stream.read(file_parts.HEAD_BYTES)
        yield from _pieces(name, head, stream, rejections)
    else:
        yield from _pieces(name, head, raw, rejections)


def gzip_sources(path: Path, rejections: RejectionSink) -> Iterator[Source]:
    """The decompressed text of ``path`` (or its plain text), as :func:`stream_sources`.

    Raises
    ------
    InputError
        When the file cannot be read.
    UnreadableContentError
        When it is not a whole gzip stream (after the pieces read before the fault).
    """
    yield from _file_sources(path, stream_sources, rejections)


def _file_sources(
    path: Path,
    read: Callable[[str, _Readable, RejectionSink], Iterator[Source]],
    rejections: RejectionSink,
) -> Iterator[Source]:
    """``read`` over the open file ``path``; InputError naming it when it cannot be read."""
    name = display_name(path)
    try:
        with path.open("rb") as raw:
            yield from read(name, raw, rejections)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc


def stdin_sources(rejections: RejectionSink) -> Iterator[Source]:
    """Standard input, as :func:`stream_sources`.

    Raises
    ------
    InputError
        When standard input cannot be read.
    UnreadableContentError
        When it is compressed and not a whole gzip stream.
    """
    try:
        yield from stream_sources(STDIN_NAME, sys.stdin.buffer, rejections)
    except OSError as exc:
        raise InputError(f"cannot read {STDIN_NAME}: {exc.strerror or exc}") from exc


def item_sources(item: Item, rejections: RejectionSink) -> Iterator[Source]:
    """The sources of ``item``: itself, or a large line-by-line input one piece at a time
    (standard input, pipes and gzip files too).

    A gzip stream that is corrupt or cut short is refused in ``rejections`` from where the
    fault is found; the pieces before it have been handed out already.

    Raises
    ------
    InputError
        When ``item`` cannot be read at all.
    """
    try:
        yield from _item_sources(item, rejections)
    except UnreadableContentError as problem:
        problem.refuse(rejections)


def _item_sources(item: Item, rejections: RejectionSink) -> Iterator[Source]:
    if item == STDIN:
        yield from stdin_sources(rejections)
        return
    if not isinstance(item, FilePart):
        path = Path(item)
        size = _regular_size(path)
        if size is not None and size < file_parts.PIECE_BYTES // 4:
            # A small file (an export page): read whole, decompressed a piece at a time.
            source = read_source(item, decompress_gzip=False)
            if not source.data.startswith(GZIP_MAGIC):
                yield source
                return
            yield from stream_sources(source.name, io.BytesIO(source.data), rejections)
            return
        if size is None or is_gzip_file(path):
            # NOTE: a pipe (`<(zcat export.gz)`) can be read once only: no peeking at its start.
            yield from gzip_sources(path, rejections)
            return
    pieces = piece_ends(item)
    if pieces is not None:
        yield from _file_pieces(*pieces, item, rejections)
        return
    if isinstance(item, FilePart) or (_regular_size(Path(item)) or 0) <= MAX_VALUE_BYTES:
        yield read_source(item)  # a file or part too small to cut
    else:
        # A large plain file not cut in parts: streamed (one value is held if not too large).
        yield from gzip_sources(Path(item), rejections)


class _Bounded:
    """The next ``size`` bytes of ``file``."""

    def __init__(self, file: _Readable, size: int) -> None:
        self._file, self._left = file, size

    def read(self, size: int = -1, /) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size)
        self._left -= len(data)
        return data


def _file_pieces(
    path: Path, start: int, ends: list[int], item: Item, rejections: RejectionSink
) -> Iterator[Source]:
    """The pieces of a large line-by-line file (or part), ending at ``ends``."""
    first_line = item.first_line if isinstance(item, FilePart) else 1
    for end in ends:
        if end - start <= file_parts.PIECE_BYTES + MAX_VALUE_BYTES:
            source = read_source(FilePart(path, start, end, first_line))
            yield source
            first_line = source.first_line + source.data.count(b"\n")
        else:
            # NOTE: a piece ends at the first line end after its size: a line far longer than
            # any document must not be held whole to be refused.
            if first_line is None:
                first_line = lines_before(path, start) + 1
            name = display_name(path)
            try:
                with path.open("rb") as file:
                    file.seek(start)
                    reader = _SteppedReader(_Bounded(file, end - start))
                    first_line = yield from _line_pieces(name, b"", reader, first_line, rejections)
            except OSError as exc:
                raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
        start = end


# NOTE: a text log read a piece at a time is cut before a line that starts an invocation
# (`START RequestId:`), so that the lines of one request (its END, REPORT and the XRAY line
# after it) are read together; a piece with no such line in reach ends at a line end.
_INVOCATION_START = b"START RequestId:"


def _side_cut(text: bytes) -> int:
    """Where a piece of side-input lines ends in ``text``: 0 to read on."""
    if len(text) < file_parts.PIECE_BYTES:
        return 0
    start = text.find(_INVOCATION_START, file_parts.PIECE_BYTES // 2)
    if start >= 0:
        cut = text.rfind(b"\n", 0, start) + 1
        if cut > 0:
            return cut
    if len(text) < 2 * file_parts.PIECE_BYTES:
        return 0
    return text.rfind(b"\n") + 1


def _side_line_pieces(
    name: str, pending: bytes, reader: _SteppedReader, rejections: RejectionSink
) -> Iterator[Source]:
    """The lines of a side input in pieces (see ``_side_cut``); a line longer than
    ``MAX_VALUE_BYTES`` is refused unheld and the lines after it are read. Pieces of blanks
    only are passed over."""
    first_line = 1

    def piece(data: bytes) -> Iterator[Source]:
        nonlocal first_line
        if data and not data.isspace():
            yield Source(name, data, first_line=first_line, lines=True)
        first_line += data.count(b"\n")

    while True:
        block = reader.read(file_parts.PIECE_BYTES // 4)
        text = pending + block
        while cut := _side_cut(text):
            yield from piece(text[:cut])
            text = text[cut:]
        last = text.rfind(b"\n") + 1
        oversize = len(text) - last > MAX_VALUE_BYTES
        ends = not block
        if oversize or (ends and reader.fault is not None):
            yield from piece(text[:last])
            pending = text[last:]
        elif ends:
            yield from piece(text)
            break
        else:
            pending = text
            continue
        if not oversize:
            break
        rejections.add(name, f"line {first_line}", OVERSIZE_LINE)
        after = None if ends else _skip_line(reader)
        if after is None:
            break
        pending = after
        first_line += 1
    if reader.fault is not None:
        raise UnreadableContentError(name, reader.fault, from_line=first_line)


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_JSON_VALUE_STARTS = b'{["-0123456789tfn'


def _starts_as_json(head: bytes) -> bool:
    """Whether text starting with ``head`` starts as a JSON object or array (``[INFO]`` and
    other bracketed words of a text log do not)."""
    text = head.lstrip()
    if text[:1] == b"[":
        return text[1:].lstrip()[:1] in (b"", *(bytes([c]) for c in _JSON_VALUE_STARTS))
    return text[:1] == b"{"


def _side_stream(name: str, raw: _Readable, rejections: RejectionSink) -> Iterator[Source]:
    head = raw.read(file_parts.HEAD_BYTES)
    if head.startswith(GZIP_MAGIC):
        prefixed: Any = _Prefixed(head, raw)  # gzip asks only for read()
        reader = _SteppedReader(gzip.GzipFile(fileobj=prefixed, mode="rb"))
        head = reader.read(file_parts.HEAD_BYTES)
    else:
        reader = _SteppedReader(raw)
    head = head.removeprefix(codecs.BOM_UTF8)
    if head.startswith(_UTF16_BOMS):
        # NOTE: UTF-16 (Windows PowerShell's `>`) is read whole, within the cap, and recoded.
        data = head + reader.read(MAX_VALUE_BYTES + 1 - len(head))
        if len(data) > MAX_VALUE_BYTES:
            rejections.add(name, "whole file", OVERSIZE_VALUE)
        elif reader.fault is None:
            yield Source(name, as_utf8(data))
    elif _starts_as_json(head) and not read_line_by_line(head):
        yield from _pieces(name, head, reader, rejections)
        return
    else:
        yield from _side_line_pieces(name, head, reader, rejections)
        return
    if reader.fault is not None:
        raise UnreadableContentError(name, reader.fault)


def side_sources(paths: Iterable[str | Path], rejections: RejectionSink) -> Iterator[Source]:
    """The text of side inputs (logs, metrics, configuration) with the bounds trace inputs
    have: one JSON value of at most ``MAX_VALUE_BYTES`` (refused whole past it), lines (text
    logs, JSON Lines) a piece at a time, a line past ``MAX_VALUE_BYTES`` refused with its
    position and the rest read; gzip decompressed as it is read.

    Raises
    ------
    InputError
        When a path does not exist or cannot be read; the message names the path.
    """
    for item in expand_paths(paths):
        try:
            if item == STDIN:
                yield from _side_stream(STDIN_NAME, sys.stdin.buffer, rejections)
                continue
            yield from _file_sources(Path(item), _side_stream, rejections)
        except UnreadableContentError as problem:
            problem.refuse(rejections)
