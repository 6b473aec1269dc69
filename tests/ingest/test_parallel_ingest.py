"""Reading a large input in several processes gives exactly what one process gives."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from pathlib import Path

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from tests.builders.ingest import OTHER_TRACE, TRACE, batch_page, same_input, segment, write
from tracelens.cli import main
from tracelens.ingest import worker
from tracelens.ingest.loader import load_traces
from tracelens.ingest.opening import shards
from tracelens.ingest.opening.sources import InputError, expand_paths

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces" / "xray"


@pytest.fixture
def split_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let even a small input be split across processes."""
    monkeypatch.setattr(shards, "PARALLEL_MIN_BYTES", 0)


def _export_with_trouble(directory: Path) -> Path:
    """The sample traces plus, in later files, copies, supersessions and bad documents."""
    shutil.copytree(SAMPLES, directory / "a-samples")
    in_progress = segment("c" * 16, trace_id=OTHER_TRACE, in_progress=True)
    del in_progress["end_time"]
    first = segment("f" * 16, name="first copy")
    early = [orjson.dumps(in_progress), b"{not json}", orjson.dumps(first)]
    write(directory / "b-early.ndjson", b"\n".join(early) + b"\n")
    late = directory / "z-late"
    late.mkdir()
    # The complete copy, read by another process, supersedes the in-progress one.
    write(late / "complete.json", orjson.dumps(batch_page([segment("c" * 16, OTHER_TRACE)])))
    first_page = sorted(SAMPLES.glob("*.json"))[0]
    write(late / "again.json", first_page.read_bytes())  # every document a duplicate
    write(late / "second.json", orjson.dumps(segment("f" * 16, name="second copy")))
    bad = [segment("d" * 16, start_time="soon"), segment("not-an-id"), segment("e" * 16)]
    write(late / "bad.ndjson", b"\n".join(orjson.dumps(doc) for doc in bad) + b"\n")
    return directory


def test_parallel_read_equals_sequential(tmp_path: Path, split_anything: None) -> None:
    export = _export_with_trouble(tmp_path)
    assert len(shards.split_items(expand_paths([export]), 3)) == 3
    sequential = load_traces([export], processes=1)
    parallel = load_traces([export], processes=3)
    same_input(parallel, sequential)
    assert sequential.duplicates >= 1 and sequential.rejections.count == 3
    reasons = [rejection.reason for rejection in parallel.rejections.listed]
    assert reasons[0].startswith("invalid JSON")  # b-early, read here
    assert "start_time" in reasons[1] and "invalid id" in reasons[2]  # z-late, by a worker
    assert parallel.spans.filter(pl.col("id") == "f" * 16)["name"].to_list() == ["first copy"]
    superseded = parallel.spans.filter(pl.col("id") == "c" * 16)
    assert superseded.height == 1 and not superseded["in_progress"].item()


def test_worker_refuses_a_damaged_gzip_file_and_reads_the_rest(
    tmp_path: Path, split_anything: None
) -> None:
    shutil.copytree(SAMPLES, tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "broken.json.gz").write_bytes(gzip.compress(b"{}")[:12])
    parallel = load_traces([tmp_path], processes=2)
    same_input(parallel, load_traces([tmp_path], processes=1))
    assert parallel.segments == load_traces([tmp_path / "a"], processes=1).segments
    (refused,) = parallel.rejections.listed
    assert refused.source.endswith("broken.json.gz") and refused.position == "whole file"


# A path that exists but cannot be read, even by root: reading a process's memory from
# address 0 fails with EIO.
FAILS_TO_READ = Path("/proc/self/mem")


@pytest.mark.skipif(not FAILS_TO_READ.exists(), reason="needs Linux's /proc")
def test_worker_reports_unreadable_input(tmp_path: Path, split_anything: None) -> None:
    shutil.copytree(SAMPLES, tmp_path / "a")
    runs = shards.split_items(expand_paths([tmp_path, FAILS_TO_READ]), 2)
    assert FAILS_TO_READ in runs[-1]  # read by the worker
    with pytest.raises(InputError, match=r"cannot read /proc/self/mem: Input/output error"):
        load_traces([tmp_path, FAILS_TO_READ], processes=2)


@pytest.mark.parametrize(
    ("executable", "detail"),
    [(shutil.which("false"), "no message"), ("/nonexistent/python", "cannot start")],
)
def test_failed_worker_has_its_files_read_here(
    tmp_path: Path,
    split_anything: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    executable: str,
    detail: str,
) -> None:
    export = _export_with_trouble(tmp_path)
    sequential = load_traces([export], processes=1)
    monkeypatch.setattr(worker.sys, "executable", executable)
    with caplog.at_level(logging.WARNING, logger=worker.__name__):
        parallel = load_traces([export], processes=2)
    same_input(parallel, sequential)
    assert "an ingest worker failed" in caplog.text and detail in caplog.text


def test_small_inputs_and_stdin_are_read_in_one_process(tmp_path: Path) -> None:
    files = [write(tmp_path / f"{n}.json", orjson.dumps(segment())) for n in range(4)]
    assert shards.split_items(files, 4) == [files]  # under PARALLEL_MIN_BYTES
    assert shards.split_items([*files, "-"], 4) == [[*files, "-"]]
    assert shards.split_items(files, 1) == [files]


def test_runs_are_contiguous_and_sized_by_bytes(tmp_path: Path, split_anything: None) -> None:
    files = [write(tmp_path / f"{n:03d}.json", b"x" * 10) for n in range(100)]
    for processes in (2, 3):
        runs = shards.split_items(files, processes)
        assert [item for run in runs for item in run] == files
        # This process's run is FIRST_RUN_WEIGHT times a worker's; the workers' are equal.
        share = shards.FIRST_RUN_WEIGHT / (shards.FIRST_RUN_WEIGHT + processes - 1)
        assert len(runs) == processes and len(runs[0]) == pytest.approx(100 * share, abs=1)
        assert max(map(len, runs[1:])) - min(map(len, runs[1:])) <= 1
    uneven = [write(tmp_path / f"u{n}.json", b"x" * size) for n, size in enumerate([500, 1, 1])]
    assert shards.split_items(uneven, 2) == [uneven[:1], uneven[1:]]


def test_the_process_count_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACELENS_INGEST_PROCESSES", "3")
    assert shards.reading_processes() == 3
    monkeypatch.setenv("TRACELENS_INGEST_PROCESSES", "zero")
    with pytest.raises(InputError, match="TRACELENS_INGEST_PROCESSES='zero'"):
        shards.reading_processes()
    monkeypatch.delenv("TRACELENS_INGEST_PROCESSES")
    assert 1 <= shards.reading_processes() <= shards.MAX_PROCESSES


def test_documents_in_one_trace_across_runs_link_up(tmp_path: Path, split_anything: None) -> None:
    root = segment("a" * 16)
    child = segment("b" * 16, name="worker", parent_id="a" * 16)
    write(tmp_path / "1.ndjson", orjson.dumps(root) + b"\n")
    write(tmp_path / "2.ndjson", orjson.dumps(child) + b"\n")
    spans = load_traces([tmp_path], processes=2).spans
    assert spans.height == 2 and set(spans["trace_id"]) == {TRACE}
    assert spans.filter(pl.col("id") == "b" * 16)["parent_id"].item() == "a" * 16


def _analyze_json(monkeypatch: pytest.MonkeyPatch, processes: str) -> tuple[int, str]:
    monkeypatch.setenv("TRACELENS_INGEST_PROCESSES", processes)
    result = CliRunner().invoke(main, ["analyze", str(SAMPLES.parent), "--json", "-q"])
    return result.exit_code, result.output


def _close(left: object, right: object) -> bool:
    """Equal, floats to 12 significant digits (sums taken over other chunks differ in the last
    bits)."""
    if isinstance(left, float) and isinstance(right, float):
        return left == pytest.approx(right, rel=1e-12)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_close(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_close, left, right))
    return left == right


def test_analyze_gives_the_same_json_read_by_several_processes(
    monkeypatch: pytest.MonkeyPatch, split_anything: None
) -> None:
    (code_3, parallel), (code_1, sequential) = (
        _analyze_json(monkeypatch, "3"),
        _analyze_json(monkeypatch, "1"),
    )
    assert code_3 == code_1 == 0
    assert _close(orjson.loads(parallel), orjson.loads(sequential))


def test_a_bad_process_count_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _analyze_json(monkeypatch, "-2")
    assert code == 1
    assert "TRACELENS_INGEST_PROCESSES='-2': expected a whole number >= 1" in output
    assert "Traceback" not in output


def test_file_names_that_are_not_utf8_reach_a_worker(
    tmp_path: Path, split_anything: None, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(SAMPLES, tmp_path / "a")
    odd = tmp_path / os.fsdecode(b"z-caf\xe9\nline.ndjson")
    write(odd, orjson.dumps(segment("e" * 16)) + b"\n{broken\n")
    sequential = load_traces([tmp_path], processes=1)
    assert sequential.spans.filter(pl.col("id") == "e" * 16).height == 1
    assert sequential.rejections.listed[0].source == str(tmp_path / "z-caf\\xe9\nline.ndjson")
    with caplog.at_level(logging.WARNING, logger=worker.__name__):
        same_input(load_traces([tmp_path], processes=2), sequential)
    assert "worker failed" not in caplog.text  # the worker read it, not this process
