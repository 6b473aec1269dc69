"""Spans loaded from a store for analysis (fewer columns read, a few categorical) give the
same analysis and report as all of them."""

from __future__ import annotations

import ast
import math
import re
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import networkx as nx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analyses import rollups
from tests.builders.results import ACCOUNT, REGION
from tracelens.analysis import AnalysisResult, Rankings, run_analysis
from tracelens.contract import to_contract
from tracelens.inputs import Inputs
from tracelens.report import render_report
from tracelens.samples.generate import SampleConfig, generate
from tracelens.samples.otel import write_otel
from tracelens.schema import CATEGORICAL_SPAN_COLUMNS, SPAN_SCHEMA, UNANALYSED_SPAN_COLUMNS
from tracelens.store import open_store
from tracelens.store.importing import import_paths

ROOT = Path(__file__).resolve().parent.parent.parent

# Where span columns are written and stored (and where the list itself lives).
WRITERS = ("tracelens/ingest", "tracelens/store", "tracelens/samples", "tracelens/schema.py")


def _readers() -> list[Path]:
    files = [*ROOT.joinpath("analyses").rglob("*.py"), *ROOT.joinpath("tracelens").rglob("*.py")]
    return [
        path
        for path in files
        if not any(path.relative_to(ROOT).as_posix().startswith(w) for w in WRITERS)
    ]


def test_no_analysis_report_or_contract_names_an_unanalysed_column() -> None:
    named = []
    for path in _readers():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in UNANALYSED_SPAN_COLUMNS:
                named.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert named == [], (
        "these read a column the store leaves unread for analysis; take it off "
        f"tracelens.schema.UNANALYSED_SPAN_COLUMNS: {named}"
    )


SAMPLES = ROOT / "sample_traces"


@pytest.fixture(scope="module")
def both_loads(tmp_path_factory: pytest.TempPathFactory) -> tuple[Inputs, Inputs]:
    """The same store loaded with every column (plain) and with ``analysed_columns_only``.

    The store holds the generated shop with its logs, metrics and configuration, every
    hand-written real-world sample (SQS event sources, asynchronous retries, DNS forms,
    throttles, loops, incomplete traces, several regions) and traces of another seed as
    OpenTelemetry (OTLP JSON) spans.
    """
    root = tmp_path_factory.mktemp("analysed")
    otel = generate(SampleConfig(seed=7, traces=60))
    otlp = [path for path in write_otel(otel.traces, root / "otel") if "otlp" in path.parts]
    store = open_store(root / "store")
    report = import_paths(
        store,
        traces=[str(SAMPLES / "xray"), str(SAMPLES / "real_world"), *map(str, otlp)],
        logs=[str(SAMPLES / "logs")],
        metrics=[str(SAMPLES / "metrics")],
        functions=[str(SAMPLES / "functions")],
        account=ACCOUNT,
        region=REGION,
    )
    assert report.rows["spans"] > 0
    plain, problems = store.load_inputs()
    narrow, narrow_problems = store.load_inputs(analysed_columns_only=True)
    assert problems == narrow_problems == []
    return plain, narrow


def test_the_load_gives_the_columns_as_declared(both_loads: tuple[Inputs, Inputs]) -> None:
    plain, narrow = both_loads
    spans, full = narrow.traces.spans, plain.traces.spans
    assert spans.columns == list(SPAN_SCHEMA)
    assert full.schema == pl.Schema(SPAN_SCHEMA)
    for name in CATEGORICAL_SPAN_COLUMNS:
        assert spans.schema[name] == pl.Categorical()
    kept = [name for name in SPAN_SCHEMA if name not in UNANALYSED_SPAN_COLUMNS]
    as_text = {name: pl.String() for name in CATEGORICAL_SPAN_COLUMNS}
    assert spans.select(kept).cast(as_text).equals(full.select(kept))
    assert full["annotations"].null_count() < full.height
    for name in UNANALYSED_SPAN_COLUMNS:
        assert spans[name].null_count() == spans.height
    # The sample reaches the code paths of every categorical column.
    for name in CATEGORICAL_SPAN_COLUMNS:
        assert full[name].null_count() < full.height, name
    assert "sqs" in full["trigger"].to_list()


def test_every_analysis_and_the_rollup_give_the_same_frames(
    both_loads: tuple[Inputs, Inputs],
) -> None:
    plain, narrow = both_loads
    full_result, narrow_result = run_analysis(plain), run_analysis(narrow)
    # The result's frames, and the report's rankings of them (computed on first use).
    frames = [(False, f.name) for f in fields(AnalysisResult) if f.type == "pl.DataFrame"]
    frames += [(True, f.name) for f in fields(Rankings) if f.type == "pl.DataFrame"]
    assert len(frames) == 30
    for ranked, name in frames:
        full, narrow_ = (r.ranked if ranked else r for r in (full_result, narrow_result))
        expected, got = getattr(full, name), getattr(narrow_, name)
        # NOTE: a value of a categorical column is plain text in every result.
        assert got.schema == expected.schema, name
        assert_frame_equal(got, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)
    for name in ("dns", "async_events", "invocation_throttles", "downstream_throttles", "loops"):
        assert not getattr(full_result, name).is_empty(), f"the sample has no {name}"
    assert nx.utils.graphs_equal(narrow_result.service_graph, full_result.service_graph)
    assert narrow_result.cycles == full_result.cycles
    assert narrow_result.trace_origin == full_result.trace_origin
    partials, expected = rollups.rollup(narrow.traces.spans), rollups.rollup(plain.traces.spans)
    assert partials.schema == expected.schema
    assert_frame_equal(partials, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.slow
def test_the_contract_and_the_report_are_the_same(both_loads: tuple[Inputs, Inputs]) -> None:
    plain, narrow = both_loads
    narrow_result, full_result = run_analysis(narrow), run_analysis(plain)
    # NOTE: shares summed in a different order differ in the last digit from run to run.
    assert _close(to_contract(narrow_result), to_contract(full_result))
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert _digits(render_report(narrow_result, generated_at=at)) == _digits(
        render_report(full_result, generated_at=at)
    )


def _digits(html: str) -> str:
    """``html`` with every decimal number rounded to 6 decimals: a sum in another order differs
    in its last digit (2155.9225 against 2155.922499999999)."""
    return re.sub(r"\d+\.\d+", lambda number: f"{float(number[0]):.6f}", html)


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
