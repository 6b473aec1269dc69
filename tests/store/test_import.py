"""`tracelens import`: exported files into the store, idempotent, de-duplicated, rebuildable."""

from __future__ import annotations

import gzip
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from collectors.base import RawPage
from tests.builders.imports import analysis, assert_same_answers, files, invoke
from tests.builders.results import BUCKET, T0, Ticker, lambda_trace, trace_id, traces_at
from tracelens.cli import main
from tracelens.store import Store, importing, open_store, raw
from tracelens.store.errors import CorruptFileError

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_traces"
SIDE = ["--logs", "logs", "--metrics", "metrics", "--functions", "functions"]
SIDE_FILES = [f"--{name}={SAMPLES / name}" for name in ("logs", "metrics", "functions")]


def test_imported_samples_analyze_as_the_files_do(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(SAMPLES)
    store = tmp_path / "store"

    result = invoke("import", "xray", *SIDE, "--store", str(store))

    assert "imported 68 file(s)" in result.output and "0 record(s) refused" in result.output
    from_files = analysis("xray", *SIDE, out=tmp_path / "files.json")
    from_store = analysis("--store", str(store), out=tmp_path / "store.json")
    assert_same_answers(from_store, from_files)


def test_importing_again_rewrites_the_same_files_byte_for_byte(tmp_path: Path) -> None:
    store = tmp_path / "store"
    invoke("import", str(SAMPLES / "xray"), *SIDE_FILES, "--store", str(store), "-q")
    first = files(store)
    before, _ = open_store(store).load_inputs()

    invoke("import", str(SAMPLES / "xray"), *SIDE_FILES, "--store", str(store), "-q")

    assert files(store) == first
    after, _ = open_store(store).load_inputs()
    assert after.traces.spans.equals(before.traces.spans)
    assert after.traces.duplicates == 0


def test_a_run_imported_again_days_later_keeps_its_first_stored_time(tmp_path: Path) -> None:
    paths = {"traces": [str(SAMPLES / "xray")], "functions": [str(SAMPLES / "functions")]}
    first_day = open_store(tmp_path / "store", clock=Ticker(T0 + timedelta(days=10)))
    importing.import_paths(first_day, **paths, account="123456789012", region="us-east-1")
    first = files(tmp_path / "store")
    # the configuration and the raw objects are dated by the day they were first stored
    assert any("/date=2026-11-30/" in key for key in first)

    days_later = open_store(tmp_path / "store", clock=Ticker(T0 + timedelta(days=40)))
    report = importing.import_paths(days_later, **paths, account="123456789012", region="us-east-1")

    assert report.runs == 2 and report.rows["spans"] > 0
    assert files(tmp_path / "store") == first

    other_account = importing.import_paths(
        days_later, **paths, account="210987654321", region="us-east-1"
    )
    assert other_account.runs == 2
    added = files(tmp_path / "store").keys() - first.keys()
    assert any("/date=2026-12-30/" in key for key in added)  # another run: stored now


def test_a_run_imported_again_takes_its_first_stored_time_without_decoding_its_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = {"traces": [str(SAMPLES / "xray")], "functions": [str(SAMPLES / "functions")]}
    first_day = open_store(tmp_path / "store", clock=Ticker(T0 + timedelta(days=10)))
    importing.import_paths(first_day, **paths, account="123456789012", region="us-east-1")
    first = files(tmp_path / "store")
    objects = {key: data for key, data in first.items() if key.endswith(".json.gz")}
    for key, data in objects.items():
        assert raw.stored_at(data, key) == raw.decode(data, key).stored_at
    decoded: list[str] = []
    decode = raw.decode

    def counting(data: bytes, location: str) -> raw.RawRun:
        decoded.append(location)
        return decode(data, location)

    monkeypatch.setattr(raw, "decode", counting)

    days_later = open_store(tmp_path / "store", clock=Ticker(T0 + timedelta(days=40)))
    importing.import_paths(days_later, **paths, account="123456789012", region="us-east-1")

    assert files(tmp_path / "store") == first
    assert objects and decoded == []  # before: a run stored already was decoded whole


@pytest.mark.parametrize(
    "damage", [lambda data: data[: len(data) // 2], lambda data: b"not gzip", lambda _: b""]
)
def test_a_damaged_raw_object_has_no_stored_time(damage: Any) -> None:
    # a page with keys named as the envelope's: not taken for them
    page = RawPage("traces", "import", {}, {"region": "x", "pages": [], "stored_at": "x"})
    run = raw.RawRun("import", "a", "r", None, complete=True, stored_at=T0, pages=(page,))
    data = raw.encode(run).data()
    assert raw.stored_at(data, "x") == T0
    with pytest.raises(CorruptFileError):
        raw.stored_at(damage(data), "x")
    not_a_run = gzip.compress(b'{"format":2,"pages":[],"region":"r","stored_at":"2026-01-01"}')
    with pytest.raises(CorruptFileError, match="format 1"):
        raw.stored_at(not_a_run, "x")


def _ndjson(documents: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in documents)


def test_formats_gzip_and_overlapping_files_are_kept_once(tmp_path: Path) -> None:
    traces = traces_at([T0], first=1) + traces_at([T0], first=2)
    documents = [d for _, docs in traces for d in docs]
    page = {
        "Traces": [
            {"Id": tid, "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in docs]}
            for tid, docs in traces
        ],
        "UnprocessedTraceIds": [],
    }
    (tmp_path / "daemon.ndjson.gz").write_bytes(gzip.compress(_ndjson(documents)))
    (tmp_path / "batch.json").write_text(json.dumps(page))  # the same segments again
    store_dir = tmp_path / "store"

    invoke("import", str(tmp_path / "daemon.ndjson.gz"), "--store", str(store_dir), "-q")
    invoke("import", str(tmp_path / "batch.json"), "--store", str(store_dir), "-q")

    inputs, problems = open_store(store_dir).load_inputs()
    assert problems == []
    assert inputs.traces.traces == 2
    assert inputs.traces.segments == len(documents)
    assert inputs.traces.duplicates == len(documents)


def test_a_bad_record_is_refused_by_file_and_line_and_the_rest_stored(tmp_path: Path) -> None:
    tid = trace_id(T0, 7)
    good = lambda_trace(tid, T0)
    (tmp_path / "segments.ndjson").write_bytes(
        _ndjson(good[:1]) + b"{not json\n" + _ndjson(good[1:])
    )
    store_dir = tmp_path / "store"

    result = invoke("import", str(tmp_path / "segments.ndjson"), "--store", str(store_dir))

    assert "1 record(s) refused" in result.output
    assert "segments.ndjson" in result.output and "line 2" in result.output
    inputs, _ = open_store(store_dir).load_inputs()
    assert inputs.traces.segments == len(good)


def test_imported_runs_rebuild_to_the_same_parts(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    invoke(
        "import",
        str(SAMPLES / "xray"),
        "--logs",
        str(SAMPLES / "logs"),
        "--store",
        str(store_dir),
        "-q",
    )
    store = open_store(store_dir)
    parts = {k: store.backend.read_bytes(k) for k in store.backend.list_keys("spans")}
    for key in parts:
        store.backend.delete(key)

    report = store.rebuild()

    assert report.problems == []
    assert {k: store.backend.read_bytes(k) for k in store.backend.list_keys("spans")} == parts


def test_nothing_to_import_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_text("[]")
    result = CliRunner().invoke(
        main, ["import", str(tmp_path / "empty.json"), "--store", str(tmp_path / "s")]
    )
    assert result.exit_code != 0
    assert "nothing was stored" in result.output


@pytest.mark.integration
def test_import_into_s3(s3: Any, monkeypatch: Any) -> None:
    url = f"s3://{BUCKET}/imports"
    store: Store = open_store(url, s3_client=s3)
    report = importing.import_paths(
        store, traces=[str(SAMPLES / "xray")], account="123456789012", region="us-east-1"
    )

    assert report.runs == 1 and report.rows["spans"] > 0
    inputs, problems = store.load_inputs()
    assert problems == [] and inputs.traces.traces == 300
    assert inputs.region == "us-east-1"


def _objects(s3: Any, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    assert not listed["IsTruncated"]
    return {
        item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listed["Contents"]
    }


@pytest.mark.integration
def test_the_cli_imports_into_s3_twice_and_analyzes_it_as_the_files(
    s3: Any, aws_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_url)
    monkeypatch.chdir(SAMPLES)
    url = f"s3://{BUCKET}/team/imports"

    first = invoke("import", "xray", *SIDE, "--store", url, "--account", "123456789012")

    assert f"imported 68 file(s) into {url} in " in first.stderr
    # the traces' day, and the import's: the day of the sample's REPORTs without a time
    assert "0 record(s) refused" in first.stderr and "rolled up 2 day(s)" in first.stderr
    stored = _objects(s3, "team/imports/")
    assert any(key.startswith("team/imports/spans/date=2026-11-20/") for key in stored)

    again = invoke("import", "xray", *SIDE, "--store", url, "--account", "123456789012")

    assert "rolled up 0 day(s), 2 already current" in again.stderr
    assert _objects(s3, "team/imports/") == stored
    from_files = analysis("xray", *SIDE, out=tmp_path / "files.json")
    from_store = analysis("--store", url, out=tmp_path / "store.json")
    assert from_store["input"]["traces"] == 300
    assert_same_answers(from_store, from_files)


def _rows_stored(store: Path, table: str) -> int:
    return sum(pl.read_parquet(part).height for part in (store / table).rglob("part-*.parquet"))


def test_progress_names_each_stored_run_and_the_summary_adds_them_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "RUN_BYTES", 1)  # each file a run of its own
    xray = SAMPLES / "xray"
    traces = [xray / "batch-get-traces-001.json", xray / "batch-get-traces-003.json.gz"]
    functions = SAMPLES / "functions" / "list-functions.json"
    store = tmp_path / "store"

    result = invoke(
        "import", *map(str, traces), "--functions", str(functions), "--store", str(store)
    )

    assert result.stdout == ""  # progress and summary go to stderr
    lines = result.stderr.splitlines()
    progress = [
        re.fullmatch(r"stored run (\d+): (\d+) file\(s\), ([\d,]+) rows \(\d+\.\ds\)", line)
        for line in lines[:3]
    ]
    assert all(progress), lines
    runs = [(int(m[1]), int(m[2]), int(m[3].replace(",", ""))) for m in progress if m]
    assert [(run, pieces) for run, pieces, _ in runs] == [(1, 1), (2, 2), (3, 3)]
    rows = [rows for _, _, rows in runs]
    assert rows == sorted(set(rows))  # each run adds rows
    stored = {t: _rows_stored(store, t) for t in ("functions", "spans", "trace_reads")}
    assert rows[-1] == sum(stored.values())
    assert stored["spans"] == open_store(store).load_inputs()[0].traces.spans.height
    assert lines[3] == (
        f"imported 3 file(s) into {store} in 3 run(s): {stored['functions']:,} functions, "
        f"{stored['spans']:,} spans, {stored['trace_reads']:,} trace_reads; 0 record(s) refused"
    )
    assert re.fullmatch(r"rolled up 1 day\(s\), 0 already current \(\d+\.\ds\)", lines[4])
    assert len(lines) == 5

    quiet = invoke("import", *map(str, traces), "--store", str(store), "-q")

    assert quiet.stderr.splitlines() == [
        f"imported 2 file(s) into {store} in 2 run(s): {stored['spans']:,} spans, "
        f"{stored['trace_reads']:,} trace_reads; 0 record(s) refused"
    ]
