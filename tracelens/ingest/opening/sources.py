"""Reading input paths: files, directories (recursively), gzip files and standard input."""

from __future__ import annotations

import codecs
import gzip
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tracelens.ingest.rejections import RejectionSink

GZIP_MAGIC = b"\x1f\x8b"
# What a gzip stream that is corrupt or cut short raises while it is read.
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class InputError(Exception):
    """An input path cannot be read at all (missing, unreadable, not a regular file)."""


class UnreadableContentError(Exception):
    """A readable input whose bytes cannot be decoded: a corrupt or truncated gzip stream.

    Unlike :class:`InputError` this does not end the run: the input is refused from
    ``position`` on, like any malformed document, and what was read before it stands.
    """

    def __init__(
        self, name: str, cause: BaseException, *, from_line: int = 1, from_byte: int = 0
    ) -> None:
        self.name = name
        if from_byte > 0:
            self.position = f"byte {from_byte:,} of its text"
            lost = "what follows was not read (the text before it was)"
        elif from_line > 1:
            self.position = f"line {from_line}"
            lost = "this line and the rest of the file were not read (the lines before it were)"
        else:
            self.position, lost = "whole file", "nothing in it was read"
        self.reason = (
            f"unreadable gzip: {str(cause) or type(cause).__name__}; {lost}: "
            "re-export or re-download the file"
        )
        super().__init__(f"{name} ({self.position}): {self.reason}")

    def refuse(self, rejections: RejectionSink) -> None:
        rejections.add(self.name, self.position, self.reason)


def display_name(path: Path | str) -> str:
    """``path`` as text for messages, JSON and reports.

    A file name need not be valid UTF-8; its undecodable bytes are shown as ``\\xNN`` rather
    than carried as lone surrogates, which no JSON writer or HTML page accepts.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Source:
    """The bytes of one input, named for error messages.

    A part of a file (see :class:`FilePart`) is known to hold whole lines, numbered from
    ``first_line``.
    """

    name: str
    data: bytes
    first_line: int = 1
    lines: bool = False


@dataclass(frozen=True)
class FilePart:
    """Bytes ``[start, end)`` of a large newline-delimited file, cut at line starts, so that
    several processes can read one file, each a piece at a time (see file_parts.py).

    ``first_line`` is the number of the line at ``start`` when the reader knows it already;
    otherwise the lines before ``start`` are counted when the part is read.
    """

    path: Path
    start: int
    end: int
    first_line: int | None = None


Item = Path | str | FilePart  # an expanded input path, "-" for standard input, or a part


_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def as_utf8(data: bytes) -> bytes:
    """``data`` without a byte order mark, as UTF-8.

    JSON is UTF-8 without a BOM, but RFC 8259 lets a parser ignore one, and Windows tools add
    them: Windows PowerShell's ``>`` writes UTF-16 with a BOM, ``Out-File -Encoding utf8``
    UTF-8 with one. Text that does not decode is left as it is, to be refused as invalid JSON.
    """
    if data.startswith(_UTF8_BOM):
        return data[len(_UTF8_BOM) :]
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16").encode()
        except UnicodeError:
            return data
    return data


def decompress(name: str, data: bytes) -> bytes:
    """``data``, decompressed when it is gzip.

    Raises
    ------
    UnreadableContentError
        When ``data`` is gzip that is corrupt or cut short.
    """
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except GZIP_ERRORS as exc:
        raise UnreadableContentError(name, exc) from exc


def _read_file(path: Path, *, decompress_gzip: bool = True) -> Source:
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot read {display_name(path)}: {reason}") from exc
    name = display_name(path)
    if not decompress_gzip and data.startswith(GZIP_MAGIC):
        return Source(name, data)
    return Source(name, as_utf8(decompress(name, data)))


# Paths naming a descriptor this process was handed: what the shell's process substitution
# (`<(zcat export.gz)`) passes, and /dev/stdin. Such a pipe is read once, as given.
_DESCRIPTOR_PATH = re.compile(r"/(?:dev/fd|proc/(?:self|\d+)/fd)/\d+|/dev/stdin")

_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_file_kind(path: Path | str, mode: int | None = None) -> str | None:
    """What ``path`` is when it is neither a regular file nor a directory (``a named pipe``,
    ``a character device``, ...) and would block or never end if read; None to read it.

    A descriptor handed over by the shell (``<(command)``, ``/dev/stdin``) is read as given.
    ``mode`` is the path's ``st_mode`` when the caller has it already.
    """
    if _DESCRIPTOR_PATH.fullmatch(os.path.abspath(path)):  # noqa: PTH100 (no resolving)
        return None
    if mode is None:
        try:
            mode = os.stat(path).st_mode  # noqa: PTH116
        except OSError:
            return None  # the reader reports it
    for is_kind, kind in _SPECIAL_KINDS:
        if is_kind(mode):
            return kind
    return None


def not_a_file_message(name: str, kind: str) -> str:
    """The one message for a path that is neither a regular file nor a directory."""
    return (
        f"{name}: not a regular file or directory ({kind}): reading it could block or never "
        "end; give a stream on standard input (`-`) or as `<(command)`"
    )


_NAMED_OTHER_FILES = 5
_PEEK_BYTES = 64 * 1024


def _may_hold_json(path: str) -> bool:
    """Whether a file found in a directory may hold trace data: its first byte that is not a
    blank is ``{`` or ``[`` (after a byte order mark), or it is compressed, empty or all blank
    so far, or cannot be read (the reader then says why). Notes, Markdown and images do not."""
    try:
        with open(path, "rb") as file:  # noqa: PTH123 (a str path from scandir)
            head = file.read(_PEEK_BYTES)
    except OSError:
        return True
    if head.startswith((GZIP_MAGIC, *_UTF16_BOMS)):
        return True
    text = head.removeprefix(_UTF8_BOM).lstrip()
    return not text or text.startswith((b"{", b"["))


def _files_under(
    directory: Path, notes: list[str] | None = None, *, json_only: bool = False
) -> list[Path]:
    """Every file under ``directory``, in the order Paths sort in.

    Entries that are neither files nor directories (named pipes, devices, sockets) are
    skipped, each with a note in ``notes``; with ``json_only``, so are files that are clearly
    not trace data (see ``_may_hold_json``), with one note for them all.

    Raises
    ------
    InputError
        When a directory under it cannot be listed.
    """
    # NOTE: os.scandir rather than Path.rglob: an export can hold tens of thousands of pages,
    # and scandir tells files from directories without a system call per entry. Symbolic links
    # are followed, each directory listed once: a link back up the tree is not a loop.
    found: list[str] = []
    skipped: list[str] = []
    listed: set[tuple[int, int]] = set()
    pending = [str(directory)]
    while pending:
        folder = pending.pop()
        try:
            status = Path(folder).stat()
            if (status.st_dev, status.st_ino) in listed:
                continue
            listed.add((status.st_dev, status.st_ino))
            folders = []
            with os.scandir(folder) as entries:
                for entry in entries:
                    # Hidden files (editor swap files, .DS_Store) are never trace exports.
                    if entry.name.startswith("."):
                        continue
                    try:
                        is_dir, is_file = entry.is_dir(), entry.is_file()
                    except OSError as exc:  # a symbolic link loop (ELOOP), or unreadable
                        reason = exc.strerror or str(exc)
                        skipped.append(f"skipped {display_name(entry.path)}: {reason}")
                        continue
                    if is_dir:
                        folders.append(entry.path)
                    elif is_file:
                        found.append(entry.path)
                    elif kind := special_file_kind(entry.path):
                        skipped.append(f"skipped {display_name(entry.path)}: {kind}, not a file")
            # Sorted, so that of two names for one directory the same one is always kept.
            pending.extend(sorted(folders, reverse=True))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InputError(f"cannot list {display_name(folder)}: {reason}") from exc
    found.sort(key=lambda path: path.split(os.sep))  # noqa: PTH206 (the order Paths sort in)
    other = [path for path in found if json_only and not _may_hold_json(path)]
    if other:
        passed_over = set(other)
        found = [path for path in found if path not in passed_over]
        names = ", ".join(display_name(path) for path in other[:_NAMED_OTHER_FILES])
        extra = len(other) - _NAMED_OTHER_FILES
        more = f" and {extra:,} more" if extra > 0 else ""
        skipped.append(
            f"skipped {len(other):,} file(s) under {display_name(directory)} that are not trace "
            f"data (they do not start with {{ or [): {names}{more}"
        )
    if notes is not None:
        notes.extend(sorted(skipped))
    return [Path(path) for path in found]


STDIN = "-"
STDIN_NAME = "<stdin>"  # how messages name standard input


def expand_paths(
    paths: Iterable[str | Path], notes: list[str] | None = None, *, json_only: bool = False
) -> list[Path | str]:
    """Every file to read, directories expanded in sorted order; ``-`` stays for stdin.

    What a directory holds besides files and directories is skipped with a note in ``notes``;
    with ``json_only`` (trace data is JSON, side inputs may be text), so are files in it that
    are clearly not JSON.

    Raises
    ------
    InputError
        When a path does not exist, is neither a file nor a directory (see
        :func:`special_file_kind`), or names a directory holding no files.
    """
    expanded: list[Path | str] = []
    for raw in paths:
        if str(raw) == STDIN:
            expanded.append(STDIN)
            continue
        path = Path(raw)
        kind = special_file_kind(path)
        if kind is not None:
            raise InputError(not_a_file_message(display_name(path), kind))
        if path.is_dir():
            files = _files_under(path, notes, json_only=json_only)
            if not files:
                raise InputError(f"{display_name(path)}: directory holds no files")
            expanded.extend(files)
        elif path.exists():
            expanded.append(path)
        else:
            raise InputError(f"{display_name(path)}: no such file or directory")
    return expanded


_BLOCK = 16 * 1024 * 1024


def item_name(item: Item) -> str:
    """How messages name ``item``: its file (a part is named by its file)."""
    if isinstance(item, FilePart):
        return display_name(item.path)
    return STDIN_NAME if item == STDIN else display_name(item)


def lines_before(path: Path, offset: int) -> int:
    """How many line ends ``path`` holds before byte ``offset``.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    lines = 0
    with path.open("rb") as file:
        while file.tell() < offset:
            block = file.read(min(_BLOCK, offset - file.tell()))
            if not block:
                break
            lines += block.count(b"\n")
    return lines


def _read_part(part: FilePart) -> Source:
    """The lines of ``part``, numbered as in the whole file (its earlier lines are counted)."""
    try:
        first_line = part.first_line
        if first_line is None:
            first_line = lines_before(part.path, part.start) + 1
        with part.path.open("rb") as file:
            file.seek(part.start)
            data = file.read(part.end - part.start)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot read {display_name(part.path)}: {reason}") from exc
    return Source(display_name(part.path), data, first_line=first_line, lines=True)


def read_source(item: Item, *, decompress_gzip: bool = True) -> Source:
    """The (decompressed) bytes of one expanded path, or of a part of a file; gzip bytes as
    they are when ``decompress_gzip`` is False.

    Raises
    ------
    InputError
        When ``item`` cannot be read at all.
    UnreadableContentError
        When it is gzip that is corrupt or cut short.
    """
    if isinstance(item, FilePart):
        return _read_part(item)
    if item == STDIN:
        data = sys.stdin.buffer.read()
        return Source(STDIN_NAME, as_utf8(decompress(STDIN_NAME, data)))
    return _read_file(Path(item), decompress_gzip=decompress_gzip)


def iter_sources(paths: Iterable[str | Path], rejections: RejectionSink) -> Iterator[Source]:
    """Yield each input's (decompressed) bytes; ``-`` reads standard input.

    A corrupt or truncated gzip file is refused in ``rejections`` and the others are read.

    Raises
    ------
    InputError
        When a path does not exist or cannot be read; the message names the path.
    """
    for item in expand_paths(paths):
        try:
            source = read_source(item)
        except UnreadableContentError as problem:
            problem.refuse(rejections)
            continue
        yield source
