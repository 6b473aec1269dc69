"""Writing files: a reader sees the old file or the new one, never half of one.

Every file tracelens writes for a user (reports, status files, store files, sample data) goes
through :func:`replace_atomically`, which follows one rule: a path that does not exist or holds
a regular file is replaced atomically; anything else at the path (a symbolic link, a directory,
a device, a named pipe, a socket) is left as it is and the write is refused with
:class:`NotRegularFileError`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"


class NotRegularFileError(OSError):
    """The target path exists and is not a regular file; nothing was written to it."""

    def __str__(self) -> str:
        return str(self.args[0])


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kind(path: Path, mode: int) -> str:
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link (to {path.readlink()})"
        except OSError:
            return "a symbolic link"
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def refuse_unless_replaceable(path: Path) -> None:
    """Raise :class:`NotRegularFileError` when ``path`` exists and is not a regular file.

    A symbolic link is refused even when it points at a regular file: replacing it would turn
    the link into a file, and writing through it would write somewhere the path does not name.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    raise NotRegularFileError(
        f"cannot write {path}: it is {_kind(path, mode)}; tracelens replaces only regular "
        "files (and never writes through a link): remove it or choose another path"
    )


def replace_atomically(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory.

    The temp file is renamed over ``path``; with ``durable`` (the default) it is fsynced first
    and the directory after, so the rename itself survives a power loss. A writer killed
    part-way leaves only a hidden ``.<name>.*.tmp`` file, which readers ignore. The file gets
    the permissions a plain ``open()`` would give it (mkstemp's are owner-only).

    Raises
    ------
    NotRegularFileError
        When ``path`` exists and is not a regular file (see the module docstring); it is
        checked before the write and again just before the rename.
    """
    refuse_unless_replaceable(path)
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as temp:
            temp.write(data)
            if durable:
                temp.flush()
                os.fsync(temp.fileno())
        Path(temp_name).chmod(0o666 & ~_current_umask())
        refuse_unless_replaceable(path)
        Path(temp_name).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp_name).unlink()
        raise
    if durable:
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # NOTE: Windows cannot open a directory for fsync; there the rename is synchronous enough.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
