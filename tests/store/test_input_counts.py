"""The input counts of an analysis of a store say what they count: no field contradicts another.

A store keeps the documents accepted, once: what its runs read (records refused, copies dropped
on the way in) is not the figure of the traces it holds, so ``documents``, ``duplicates`` and the
documents per trace path are unknown (null), never 0 nor a figure of other data.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from tests.builders.results import ACCOUNT, REGION, T0, lambda_trace, trace_id
from tracelens.analysis import run_analysis
from tracelens.contract import to_contract
from tracelens.inputs import load_inputs
from tracelens.store import Store
from tracelens.store.importing import import_paths


def _files(tmp_path: Path, start: Any) -> Path:
    """Two traces; the second file repeats one document (a duplicate)."""
    tid1, tid2 = trace_id(start, 1), trace_id(start + timedelta(minutes=1), 2)
    one, two = lambda_trace(tid1, start), lambda_trace(tid2, start + timedelta(minutes=1))
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.ndjson").write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in one))
    (folder / "b.ndjson").write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in [*two, one[0]]))
    return folder


def _input(store: Store) -> dict[str, Any]:
    inputs, problems = store.load_inputs()
    assert problems == []
    return dict(to_contract(run_analysis(inputs))["input"])


def test_a_store_says_unknown_for_what_it_cannot_know(tmp_path: Path, store: Store) -> None:
    folder = _files(tmp_path, T0)
    files = dict(to_contract(run_analysis(load_inputs([folder])))["input"])
    import_paths(store, traces=[str(folder)], account=ACCOUNT, region=REGION)

    stored = _input(store)

    assert files["documents"] == 5 and files["duplicates"] == 1
    assert files["trace_path"]["documents"] == {"xray": 5}
    assert stored["documents"] is None and stored["duplicates"] is None
    assert stored["trace_path"]["documents"] == {"xray": None}
    assert stored["trace_path"]["paths"] == ["xray"]
    assert (stored["traces"], stored["segments"]) == (files["traces"], files["segments"]) == (2, 4)
    inputs, _ = store.load_inputs()
    top_level = inputs.traces.spans.filter(pl.col("depth") == 0).height
    assert stored["segments"] == top_level


def test_after_a_prune_no_figure_of_the_pruned_days_remains(tmp_path: Path, store: Store) -> None:
    folder = _files(tmp_path, T0 - timedelta(days=20))
    import_paths(store, traces=[str(folder)], account=ACCOUNT, region=REGION)

    store.prune(older_than=timedelta(days=10))
    stored = _input(store)

    assert stored["traces"] == stored["segments"] == 0
    assert stored["trace_path"]["paths"] == [] and stored["trace_path"]["documents"] == {}
    assert store.backend.list_keys("trace_reads") == []


def test_the_traces_x_ray_left_out_of_its_pages_are_unknown_from_a_store(
    tmp_path: Path, store: Store
) -> None:
    tid = trace_id(T0, 1)
    page = {
        "Traces": [
            {
                "Id": tid,
                "Duration": 0.5,
                "LimitExceeded": True,
                "Segments": [
                    {"Id": doc["id"], "Document": orjson.dumps(doc).decode()}
                    for doc in lambda_trace(tid, T0)
                ],
            }
        ],
        "UnprocessedTraceIds": ["1-66322f00-000000000000000000000abc"],
    }
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "page.json").write_bytes(orjson.dumps(page))
    files = dict(to_contract(run_analysis(load_inputs([folder])))["input"])
    import_paths(store, traces=[str(folder)], account=ACCOUNT, region=REGION)

    stored = _input(store)

    assert files["limit_exceeded_traces"] == 1
    assert files["unprocessed_trace_ids"] == ["1-66322f00-000000000000000000000abc"]
    # the store keeps the documents, not the pages' lists of traces left out: unknown, not 0
    assert stored["limit_exceeded_traces"] is None
    assert stored["unprocessed_trace_ids"] is None
    assert stored["traces"] == files["traces"] == 1
