"""Every part has a checksum: bytes changed inside it are found, reported, and repaired."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from tests.builders.results import ACCOUNT, REGION, SPANS_PER_TRACE, T0, traces_at, xray_result
from tracelens.cli import main
from tracelens.store import Store, layout
from tracelens.store.parts import part_keys
from tracelens.store.tables import TABLES

T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


def _two_runs(store: Store) -> tuple[str, str]:
    first = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    second = store.persist(xray_result(traces_at([T2], first=9)), account=ACCOUNT, region=REGION)
    return first.part_keys[0], second.part_keys[0]


def _overwrite_inside(store: Store, key: str) -> None:
    """Bytes changed in the middle of the file, its size kept (a disk or copy fault)."""
    data = bytearray(store.backend.read_bytes(key))
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0x5A for b in data[middle : middle + 8])
    store.backend.write_bytes(key, bytes(data))


def test_each_part_is_written_with_its_manifest(store: Store) -> None:
    _two_runs(store)
    parts = [key for table in TABLES for key in part_keys(store.backend, table, None, None)]

    assert len(parts) == 4  # spans and trace_reads of each run
    assert store.backend.list_keys(layout.MANIFESTS) == sorted(
        layout.manifest_key(key) for key in parts
    )


def test_a_part_whose_bytes_changed_is_skipped_with_a_problem(store: Store) -> None:
    bad, _ = _two_runs(store)
    _overwrite_inside(store, bad)

    inputs, problems = store.load_inputs()

    assert [p.location for p in problems] == [store.backend.location(bad)]
    assert problems[0].reason.startswith("checksum mismatch")
    assert "tracelens store verify --repair" in problems[0].reason
    assert inputs.traces.spans.height == SPANS_PER_TRACE


def test_a_part_cut_short_is_told_by_its_size(store: Store) -> None:
    bad, _ = _two_runs(store)
    store.backend.write_bytes(bad, store.backend.read_bytes(bad)[:-10])

    _, problems = store.load_inputs()

    assert "bytes where" in problems[0].reason


def test_verify_lists_damaged_parts_and_repair_rebuilds_them(store: Store) -> None:
    bad, _ = _two_runs(store)
    before, _ = store.load_inputs()
    _overwrite_inside(store, bad)

    found = store.verify()
    repaired = store.verify(repair=True)

    assert found.checked == 4 and found.unchecked == []
    assert [p.location for p in found.damaged] == [store.backend.location(bad)]
    assert found.rebuilt == []
    assert repaired.rebuilt == [bad] and repaired.unrepaired == []
    after, problems = store.load_inputs()
    assert problems == []
    assert after.traces.spans.equals(before.traces.spans)


def test_a_part_whose_raw_run_is_gone_is_not_repaired(store: Store) -> None:
    bad, _ = _two_runs(store)
    _overwrite_inside(store, bad)
    for key in store.backend.list_keys(layout.RAW):
        if layout.raw_digest(key) == layout.part_digest(bad):
            store.backend.delete(key)

    report = store.verify(repair=True)

    assert [p.location for p in report.unrepaired] == [store.backend.location(bad)]


def test_store_verify_command(store: Store, tmp_path: Path) -> None:
    bad, _ = _two_runs(store)
    _overwrite_inside(store, bad)
    runner = CliRunner()

    found = runner.invoke(main, ["store", "verify", "--store", store.url])
    repaired = runner.invoke(main, ["store", "verify", "--store", store.url, "--repair"])
    clean = runner.invoke(main, ["store", "verify", "--store", store.url])

    assert found.exit_code == 1
    assert f"damaged {store.backend.location(bad)}: checksum mismatch" in found.output
    assert "run again with --repair" in found.output
    assert repaired.exit_code == 0, repaired.output
    assert f"rebuilt {store.backend.location(bad)}" in repaired.output
    assert clean.exit_code == 0
    assert "checked 4 part(s)" in clean.output and "0 damaged" in clean.output
