"""Every file tracelens writes is a regular file replaced atomically; a symbolic link, device,
named pipe or directory at the path is left as it is and the write is refused."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracelens.agent.status import write_status_file
from tracelens.atomic import NotRegularFileError, replace_atomically
from tracelens.cli import main
from tracelens.store import LocalBackend, StoreError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces" / "xray"
DEV_NULL = Path("/dev/null")


def _symlink_to_file(folder: Path, name: str) -> Path:
    (folder / "real.txt").write_bytes(b"keep me")
    link = folder / name
    link.symlink_to(folder / "real.txt")
    return link


def _symlink_to_dev_null(folder: Path, name: str) -> Path:
    link = folder / name
    link.symlink_to(DEV_NULL)
    return link


def _fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def _directory(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir()
    return path


SPECIAL: dict[str, tuple[Callable[[Path, str], Path], str]] = {
    "symlink to a file": (_symlink_to_file, "a symbolic link (to "),
    "symlink to /dev/null": (_symlink_to_dev_null, "a symbolic link (to /dev/null)"),
    "named pipe": (_fifo, "a named pipe"),
    "directory": (_directory, "a directory"),
}


def _unchanged(path: Path, kind: str) -> None:
    mode = path.lstat().st_mode
    if kind.startswith("symlink"):
        assert stat.S_ISLNK(mode)
        if kind == "symlink to a file":
            assert path.read_bytes() == b"keep me"
    elif kind == "named pipe":
        assert stat.S_ISFIFO(mode)
    else:
        assert stat.S_ISDIR(mode)


def _no_temp_left(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_replace_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    make, says = SPECIAL[kind]
    target = make(tmp_path, "out.html")
    with pytest.raises(NotRegularFileError, match="tracelens replaces only regular") as raised:
        replace_atomically(target, b"<html>")
    assert says in str(raised.value) and str(target) in str(raised.value)
    _unchanged(target, kind)
    _no_temp_left(tmp_path)


def test_replace_still_replaces_a_regular_file_and_creates_a_new_one(tmp_path: Path) -> None:
    old = tmp_path / "old.html"
    old.write_bytes(b"old")
    replace_atomically(old, b"new")
    replace_atomically(tmp_path / "new.html", b"fresh", durable=False)
    assert old.read_bytes() == b"new"
    assert (tmp_path / "new.html").read_bytes() == b"fresh"
    _no_temp_left(tmp_path)


@pytest.mark.parametrize("command", ["report", "analyze"])
@pytest.mark.parametrize("kind", ["symlink to a file", "named pipe"])
def test_an_out_that_is_not_a_regular_file_stops_the_command_before_any_work(
    tmp_path: Path, command: str, kind: str
) -> None:
    make, says = SPECIAL[kind]
    target = make(tmp_path, "out.file")
    args = [command, str(tmp_path / "no-such-input"), "--out", str(target), "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "--out" in result.output and says in result.output
    assert "no such file" not in result.output
    _unchanged(target, kind)


def test_store_and_status_files_follow_the_same_rule(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "checkpoints").mkdir(parents=True)
    link = _symlink_to_dev_null(store / "checkpoints", "xray.json")
    with pytest.raises(StoreError, match="a symbolic link"):
        LocalBackend(store).write_bytes("checkpoints/xray.json", b"{}")
    assert link.is_symlink()

    status = _symlink_to_dev_null(tmp_path, "status.json")
    with pytest.raises(NotRegularFileError):
        write_status_file(status, {"ok": True})
    assert status.is_symlink()
