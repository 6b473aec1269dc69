"""Where store files live: the ``Backend`` role and the local-directory backend.

Keys are relative, ``/``-separated paths (``spans/date=2026-11-20/part-ab12.parquet``). Every
write is atomic: a reader sees the old content or the new, never a part of it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from tracelens.atomic import TEMP_SUFFIX, replace_atomically
from tracelens.store.errors import ChangedKeyError, MissingKeyError, StoreError

_KEY_PART = re.compile(r"[A-Za-z0-9=._-]+")


@dataclass(frozen=True)
class Tail:
    """The last bytes of a file (:meth:`Backend.read_tail`), with what reading the rest
    needs: the file's whole size and the version the bytes are of."""

    data: bytes
    size: int
    version: str  # an S3 entity tag; a local file's inode, size and modification time

    @property
    def whole(self) -> bool:
        """Whether the tail is the whole file."""
        return len(self.data) >= self.size


class Backend(Protocol):
    """Byte storage under one root (a directory, or a bucket and prefix)."""

    @property
    def url(self) -> str:
        """The root, as the user names it (a path or ``s3://bucket/prefix``)."""
        ...

    def location(self, key: str) -> str:
        """Where ``key`` is, for messages (a path or an ``s3://`` URL)."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """The content of ``key``; :class:`MissingKeyError` when there is none."""
        ...

    def read_tail(self, key: str, size: int) -> Tail:
        """The last ``size`` bytes of ``key`` (all of it when it is shorter): a file's footer
        without the rest (an S3 ranged GET); :class:`MissingKeyError` when there is none."""
        ...

    def read_rest(self, key: str, tail: Tail) -> bytes:
        """The whole content of ``key`` whose ``tail`` was read: only the bytes before it are
        read (none when the tail is the whole file); :class:`ChangedKeyError` when ``key``
        was replaced since, :class:`MissingKeyError` when it is gone."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Replace the content of ``key`` atomically and durably."""
        ...

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (recursively), sorted; never temporary files."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens when it does not exist."""
        ...


def _version(file: BinaryIO) -> str:
    """What tells an open file from the one that replaced it: inode, size, modification."""
    stat = os.fstat(file.fileno())
    return f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"


def check_key(key: str) -> str:
    """``key`` when it is a safe relative key, else ``ValueError``."""
    parts = key.split("/")
    if not all(_KEY_PART.fullmatch(part) and part not in (".", "..") for part in parts):
        raise ValueError(f"invalid store key {key!r}: use letters, digits, '=', '.', '_', '-'")
    return key


def is_hidden(name: str) -> bool:
    """Temporary files of an unfinished write (``.<name>.<random>.tmp``) and dot files."""
    return name.startswith(".") or name.endswith(TEMP_SUFFIX)


class LocalBackend:
    """Files under a local directory (created on the first write).

    A write goes to a temporary file in the destination's directory, is flushed and fsynced,
    then renamed over the destination with ``os.replace`` (atomic on POSIX and Windows); the
    directory is fsynced so that the rename itself survives a power loss. A writer killed
    midway leaves at most a hidden ``.<name>.<random>.tmp`` file, which no reader lists.
    """

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root).expanduser()
        if self._root.exists() and not self._root.is_dir():
            raise StoreError(f"store location {self._root} exists and is not a directory")

    @property
    def url(self) -> str:
        return str(self._root)

    @property
    def root(self) -> Path:
        """The directory."""
        return self._root

    def location(self, key: str) -> str:
        return str(self._path(key))

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    def read_bytes(self, key: str) -> bytes:
        with self._reading(key) as file:
            return file.read()

    def read_tail(self, key: str, size: int) -> Tail:
        with self._reading(key) as file:
            total = file.seek(0, os.SEEK_END)
            file.seek(max(0, total - size))
            return Tail(file.read(), total, _version(file))

    def read_rest(self, key: str, tail: Tail) -> bytes:
        if tail.whole:
            return tail.data
        with self._reading(key) as file:
            # NOTE: a write replaces the file (a new inode), never changes it in place
            if _version(file) != tail.version:
                raise ChangedKeyError(f"{self._path(key)}: replaced while it was read")
            return file.read(tail.size - len(tail.data)) + tail.data

    @contextlib.contextmanager
    def _reading(self, key: str) -> Iterator[BinaryIO]:
        """The file of ``key`` open for reading, its errors as the store's."""
        path = self._path(key)
        try:
            with path.open("rb") as file:
                yield file
        except FileNotFoundError as exc:
            raise MissingKeyError(f"{path}: no such file") from exc
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            replace_atomically(path, data)
        except OSError as exc:
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def list_keys(self, prefix: str) -> list[str]:
        base = self._root.joinpath(*check_key(prefix.rstrip("/")).split("/"))
        if not base.is_dir():
            return []
        keys = [
            path.relative_to(self._root).as_posix()
            for path in base.rglob("*")
            if path.is_file() and not is_hidden(path.name)
        ]
        return sorted(keys)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()
