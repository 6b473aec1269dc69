"""Where a large newline-delimited file can be cut so that several processes read it.

A file is cut only at the start of a line, and only when it is read line by line as a whole
(its first line is one JSON value, see ``looks_line_delimited``) and is not compressed: each
part then yields exactly the documents, in the same order and with the same line numbers, that
reading the whole file would.
"""

from __future__ import annotations

from pathlib import Path

from tracelens.ingest.documents import looks_line_delimited
from tracelens.ingest.sources import GZIP_MAGIC

# The first line must end within this much of the file's start for the file to be cut.
HEAD_BYTES = 1024 * 1024
_SEARCH_BYTES = 1024 * 1024


def _read_line_by_line(head: bytes) -> bool:
    if head.startswith(GZIP_MAGIC) or b"\n" not in head.lstrip():
        return False
    # NOTE: the head's first line is the file's first line, and more after it in the head
    # means more after it in the file: the same decision the reader takes on the whole file.
    return looks_line_delimited(head)


def line_start_after(path: Path, offset: int) -> int | None:
    """The start of the first line beginning after byte ``offset`` of ``path``, when ``path``
    can be cut there; None when it cannot (not line by line, compressed, no later line, or
    unreadable: the reader then reports it)."""
    try:
        with path.open("rb") as file:
            if not _read_line_by_line(file.read(HEAD_BYTES)):
                return None
            file.seek(offset)
            while block := file.read(_SEARCH_BYTES):
                newline = block.find(b"\n")
                if newline >= 0:
                    start = offset + newline + 1
                    return start if file.seek(0, 2) > start else None
                offset += len(block)
    except OSError:
        return None
    return None
