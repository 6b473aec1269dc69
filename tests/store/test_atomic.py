"""Writes are atomic: a writer that dies midway leaves no file a reader would take."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.builders.results import ACCOUNT, REGION, SPANS_PER_TRACE, T0, traces_at, xray_result
from tracelens.store import LocalBackend, Store, StoreError


def test_a_write_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = LocalBackend(tmp_path)
    backend.write_bytes("a/b.json", b"old")

    def fail(_: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(StoreError, match=r"cannot write .*b\.json: Input/output error"):
        backend.write_bytes("a/b.json", b"new content")

    assert backend.read_bytes("a/b.json") == b"old"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.json"]  # temp removed


def test_a_writer_killed_midway_leaves_only_a_hidden_temp_file(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.write_bytes("spans/date=2026-11-20/part-1.parquet", b"old")
    script = textwrap.dedent(
        f"""
        import os
        from tracelens.store.backend import LocalBackend

        def killed(*_):
            os._exit(9)  # like SIGKILL: no cleanup runs

        os.replace = killed
        LocalBackend({str(tmp_path)!r}).write_bytes(
            "spans/date=2026-11-20/part-1.parquet", b"new" * 1000
        )
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)

    assert done.returncode == 9
    directory = tmp_path / "spans" / "date=2026-11-20"
    leftovers = sorted(p.name for p in directory.iterdir())
    assert len(leftovers) == 2 and leftovers[0].startswith(".part-1.parquet.")
    assert leftovers[0].endswith(".tmp")
    assert backend.list_keys("spans") == ["spans/date=2026-11-20/part-1.parquet"]
    assert backend.read_bytes("spans/date=2026-11-20/part-1.parquet") == b"old"


def test_temp_files_left_in_a_partition_are_never_read(store: Store, tmp_path: Path) -> None:
    store.persist(xray_result(traces_at([T0])), account=ACCOUNT, region=REGION)
    (part,) = store.backend.list_keys("spans")
    data = store.backend.read_bytes(part)
    directory = tmp_path / "store" / "spans" / "date=2026-11-20"
    (directory / ".part-deadbeef.parquet.x1y2.tmp").write_bytes(data[: len(data) // 2])

    inputs, problems = store.load_inputs()

    assert problems == []
    assert inputs.traces.spans.height == SPANS_PER_TRACE
