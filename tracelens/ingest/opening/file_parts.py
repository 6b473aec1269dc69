"""Where a large newline-delimited file can be cut, so that several processes read it and each
holds only a piece of it in memory at a time.

A file is cut only at the start of a line, and only when it is read line by line as a whole
(its first line is one JSON value, see ``looks_line_delimited``, which framing.py asks too)
and is not compressed: each
part then yields exactly the documents, in the same order and with the same line numbers, that
reading the whole file would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import orjson

from tracelens.ingest.opening.sources import GZIP_MAGIC, FilePart, Item

# The first line must end within this much of the file's start for the file to be cut.
HEAD_BYTES = 1024 * 1024
# A file (or part) this large is read a piece at a time: the whole of it is never held.
PIECE_BYTES = 32 * 1024 * 1024
_SEARCH_BYTES = 1024 * 1024


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


def read_line_by_line(head: bytes) -> bool:
    """Whether a file starting with ``head`` is read line by line (the first line must end
    within ``head``)."""
    if head.startswith(GZIP_MAGIC) or b"\n" not in head.lstrip():
        return False
    # NOTE: the head's first line is the file's first line, and more after it in the head
    # means more after it in the file: the same decision the reader takes on the whole file.
    return looks_line_delimited(head)


def _next_line_start(file: BinaryIO, offset: int, size: int) -> int | None:
    file.seek(offset)
    while block := file.read(_SEARCH_BYTES):
        newline = block.find(b"\n")
        if newline >= 0:
            start = offset + newline + 1
            return start if start < size else None
        offset += len(block)
    return None


def line_start_after(path: Path, offset: int) -> int | None:
    """The start of the first line beginning after byte ``offset`` of ``path``, when ``path``
    can be cut there; None when it cannot (not line by line, compressed, no later line, or
    unreadable: the reader then reports it)."""
    try:
        with path.open("rb") as file:
            if not read_line_by_line(file.read(HEAD_BYTES)):
                return None
            return _next_line_start(file, offset, os.fstat(file.fileno()).st_size)
    except OSError:
        return None


def piece_ends(item: Item) -> tuple[Path, int, list[int]] | None:
    """Where the pieces of a large line-by-line file (or part of one) end; None to read it
    whole."""
    if isinstance(item, FilePart):
        path, start, end = item.path, item.start, item.end
    else:
        path, start, end = Path(item), 0, None
    try:
        with path.open("rb") as file:
            end = os.fstat(file.fileno()).st_size if end is None else end
            if end - start < 2 * PIECE_BYTES or not read_line_by_line(file.read(HEAD_BYTES)):
                return None
            ends, offset = [], start
            while (cut := _next_line_start(file, offset + PIECE_BYTES, end)) is not None:
                ends.append(cut)
                offset = cut
    except OSError:
        return None  # the reader reports it
    return path, start, [*ends, end]
