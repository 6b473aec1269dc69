"""`tracelens import` of every trace format `analyze` reads: the store answers as the files do,
and importing the files again changes no byte of the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders.imports import (
    FORMS,
    Trace,
    analysis,
    assert_same_answers,
    files,
    invoke,
    sample_traces,
    write_form,
)


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    return sample_traces()


@pytest.mark.parametrize("form", FORMS)
def test_each_format_imports_to_the_same_answers_once(
    form: str, traces: list[Trace], tmp_path: Path
) -> None:
    exported = write_form(form, traces, tmp_path / form)
    store = tmp_path / "store"

    first = invoke("import", str(exported), "--store", str(store))

    assert "0 record(s) refused" in first.stderr
    stored = files(store)
    from_files = analysis(str(exported), "--strict", out=tmp_path / "files.json")
    from_store = analysis("--store", str(store), out=tmp_path / "store.json")
    # NOTE: the OpenTelemetry forms hold no trace of a function that was only throttled
    assert 0.8 * len(traces) <= from_files["input"]["traces"] <= len(traces)
    assert from_store["functions"] and from_store["service_map"] and from_store["findings"]
    assert_same_answers(from_store, from_files)

    invoke("import", str(exported), "--store", str(store), "-q")

    assert files(store) == stored
