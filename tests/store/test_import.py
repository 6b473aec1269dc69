"""`tracelens import`: exported files into the store, idempotent, de-duplicated, rebuildable."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tests.builders.results import BUCKET, T0, lambda_trace, trace_id, traces_at
from tracelens.cli import main
from tracelens.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_traces"
SIDE = ["--logs", "logs", "--metrics", "metrics", "--functions", "functions"]


def _invoke(*arguments: str) -> Any:
    result = CliRunner().invoke(main, list(arguments))
    assert result.exit_code == 0, result.output
    return result


def _analysis(*arguments: str, out: Path) -> dict[str, Any]:
    _invoke("analyze", *arguments, "--json", "-q", "--out", str(out))
    return dict(json.loads(out.read_text()))


def _rounded(value: Any) -> Any:
    """``value`` with floats rounded and example trace ids left out.

    NOTE: an example is the first of equally slow traces in input order, and the store returns
    traces by trace-id bucket, not in the files' order; which traces tie is compared by the
    other fields.
    """
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    if isinstance(value, dict):
        return {k: _rounded(item) for k, item in value.items() if k != "example_trace_id"}
    return value


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}


def test_imported_samples_analyze_as_the_files_do(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(SAMPLES)
    store = tmp_path / "store"

    result = _invoke("import", "xray", *SIDE, "--store", str(store))

    assert "imported 68 file(s)" in result.output and "0 record(s) refused" in result.output
    from_files = _analysis("xray", *SIDE, out=tmp_path / "files.json")
    from_store = _analysis("--store", str(store), out=tmp_path / "store.json")
    for key in ("functions", "throttles", "dns", "bottlenecks", "service_map", "findings"):
        # NOTE: sums over rows in another order may differ in the last digit
        assert _rounded(from_store[key]) == _rounded(from_files[key]), key
    assert from_store["input"]["traces"] == from_files["input"]["traces"]


def test_importing_again_rewrites_the_same_files(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _invoke("import", str(SAMPLES / "xray"), "--store", str(store), "-q")
    first = _files(store)
    before, _ = open_store(store).load_inputs()

    _invoke("import", str(SAMPLES / "xray"), "--store", str(store), "-q")

    assert _files(store).keys() == first.keys()  # the same files (stamped with a later time)
    after, _ = open_store(store).load_inputs()
    assert after.traces.spans.equals(before.traces.spans)
    assert after.traces.duplicates == 0


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

    _invoke("import", str(tmp_path / "daemon.ndjson.gz"), "--store", str(store_dir), "-q")
    _invoke("import", str(tmp_path / "batch.json"), "--store", str(store_dir), "-q")

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

    result = _invoke("import", str(tmp_path / "segments.ndjson"), "--store", str(store_dir))

    assert "1 record(s) refused" in result.output
    assert "segments.ndjson" in result.output and "line 2" in result.output
    inputs, _ = open_store(store_dir).load_inputs()
    assert inputs.traces.segments == len(good)


def test_imported_runs_rebuild_to_the_same_parts(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    _invoke(
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
    from tracelens.store import importing

    report = importing.import_paths(
        store, traces=[str(SAMPLES / "xray")], account="123456789012", region="us-east-1"
    )

    assert report.runs == 1 and report.rows["spans"] > 0
    inputs, problems = store.load_inputs()
    assert problems == [] and inputs.traces.traces == 300
    assert inputs.region == "us-east-1"
