"""Reading each input a piece at a time when it holds one document per line.

A large plain file is cut at line starts (file_parts.py). A gzip file or standard input cannot
be cut at byte offsets, but read in order it can be: each piece ends at a line end and is
numbered from its first line. Either way memory holds one piece of the text, not all of it.
"""

from __future__ import annotations

import codecs
import gzip
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

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
    decompress,
    display_name,
    read_source,
)
from tracelens.ingest.rejections import RejectionSink


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# NOTE: a gzip stream that breaks loses what the failing read had decompressed: reading in
# small steps keeps that loss to one step, not a whole piece.
_STEP_BYTES = 64 * 1024


class _SteppedReader:
    """Reads ``stream`` a step at a time; a gzip fault ends the data and is kept in ``fault``."""

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self.fault: BaseException | None = None

    def read(self, size: int) -> bytes:
        steps: list[bytes] = []
        while size > 0 and self.fault is None:
            try:
                step = self._stream.read(min(size, _STEP_BYTES))
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


def _pieces(name: str, head: bytes, rest: _Readable) -> Iterator[Source]:
    """``head`` and what follows it in ``rest``: in line-ending pieces when line by line.

    Raises
    ------
    UnreadableContentError
        When ``rest`` is a gzip stream that turns out corrupt or cut short: from the first
        line not handed out whole (the lines before it are).
    """
    head = head.removeprefix(codecs.BOM_UTF8)
    if not read_line_by_line(head):
        yield Source(name, as_utf8(head + _read_or_refuse(name, rest)))
        return
    reader = _SteppedReader(rest)
    first_line, pending = 1, head
    while block := reader.read(file_parts.PIECE_BYTES):
        text = pending + block
        cut = text.rfind(b"\n") + 1
        piece, pending = text[:cut], text[cut:]
        if piece:
            yield Source(name, piece, first_line=first_line, lines=True)
            first_line += piece.count(b"\n")
    if reader.fault is not None:
        # The text after the last line end is part of a line the fault cut short.
        raise UnreadableContentError(name, reader.fault, from_line=first_line)
    if pending:
        yield Source(name, pending, first_line=first_line, lines=True)


def _worth_pieces(path: Path) -> bool:
    """Whether ``path`` may be large enough to read in pieces (a small file is read whole)."""
    try:
        status = path.stat()
    except OSError:
        return False  # the reader reports it
    # NOTE: a pipe (`<(zcat export.gz)`) can be read once only: no peeking at its start.
    # A gzip file of a quarter piece may hold several pieces of text; smaller ones are pages.
    return stat.S_ISREG(status.st_mode) and status.st_size >= file_parts.PIECE_BYTES // 4


def is_gzip_file(path: Path) -> bool:
    """Whether ``path`` starts as a gzip file does (False when it cannot be read)."""
    try:
        with path.open("rb") as file:
            return file.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    except OSError:
        return False


def gzip_sources(path: Path) -> Iterator[Source]:
    """The decompressed text of ``path``, a piece at a time when it is line by line.

    Raises
    ------
    InputError
        When the file cannot be read.
    UnreadableContentError
        When it is not a whole gzip stream (after the pieces read before the fault).
    """
    name = display_name(path)
    try:
        with gzip.open(path, "rb") as stream:
            head = _read_or_refuse(name, stream, file_parts.HEAD_BYTES)
            yield from _pieces(name, head, stream)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc


def stdin_sources() -> Iterator[Source]:
    """Standard input, a piece at a time when it is line by line (whole when compressed).

    Raises
    ------
    InputError
        When standard input cannot be read.
    UnreadableContentError
        When it is compressed and not a whole gzip stream.
    """
    name = STDIN_NAME
    stream = sys.stdin.buffer
    try:
        head = stream.read(file_parts.HEAD_BYTES)
        if head.startswith(GZIP_MAGIC):
            yield Source(name, as_utf8(decompress(name, head + stream.read())))
            return
        yield from _pieces(name, head, stream)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc


def item_sources(item: Item, rejections: RejectionSink) -> Iterator[Source]:
    """The sources of ``item``: itself, or a large line-by-line input one piece at a time
    (standard input and gzip files too).

    A gzip stream that is corrupt or cut short is refused in ``rejections`` from where the
    fault is found; the pieces before it have been handed out already.

    Raises
    ------
    InputError
        When ``item`` cannot be read at all.
    """
    try:
        yield from _item_sources(item)
    except UnreadableContentError as problem:
        problem.refuse(rejections)


def _item_sources(item: Item) -> Iterator[Source]:
    if item == STDIN:
        yield from stdin_sources()
        return
    if not isinstance(item, FilePart) and not _worth_pieces(Path(item)):
        yield read_source(item)
        return
    pieces = piece_ends(item)
    if pieces is None:
        if not isinstance(item, FilePart) and is_gzip_file(Path(item)):
            yield from gzip_sources(Path(item))
        else:
            yield read_source(item)
        return
    path, start, ends = pieces
    first_line = item.first_line if isinstance(item, FilePart) else 1
    for end in ends:
        source = read_source(FilePart(path, start, end, first_line))
        yield source
        first_line = source.first_line + source.data.count(b"\n")
        start = end
