"""Spans loaded from a store for analysis (fewer columns read, a few categorical) give the
same analysis and report as all of them."""

from __future__ import annotations

import ast
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.builders.results import ACCOUNT, REGION, xray_result
from tracelens.analysis import run_analysis
from tracelens.contract import to_contract
from tracelens.report import render_report
from tracelens.schema import CATEGORICAL_SPAN_COLUMNS, SPAN_SCHEMA, UNANALYSED_SPAN_COLUMNS
from tracelens.store import Store

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


def test_analysed_columns_only_changes_no_analysis_and_no_report(store: Store) -> None:
    samples = pytest.importorskip("tracelens.samples.generate")
    sample = samples.generate(samples.SampleConfig(traces=60))
    traces = [(tid, list(docs)) for tid, docs in sample.traces]
    store.persist(xray_result(traces), account=ACCOUNT, region=REGION)

    full, _ = store.load_inputs()
    narrow, _ = store.load_inputs(analysed_columns_only=True)

    spans, plain = narrow.traces.spans, full.traces.spans
    assert spans.columns == list(SPAN_SCHEMA)
    for name in CATEGORICAL_SPAN_COLUMNS:
        assert spans.schema[name] == pl.Categorical()
    kept = [name for name in SPAN_SCHEMA if name not in UNANALYSED_SPAN_COLUMNS]
    as_text = {name: pl.String() for name in CATEGORICAL_SPAN_COLUMNS}
    assert spans.select(kept).cast(as_text).equals(plain.select(kept))
    assert plain["annotations"].null_count() < plain.height
    for name in UNANALYSED_SPAN_COLUMNS:
        assert spans[name].null_count() == spans.height
    narrow_result, full_result = run_analysis(narrow), run_analysis(full)
    # NOTE: shares summed in a different order differ in the last digit from run to run.
    assert _close(to_contract(narrow_result), to_contract(full_result))
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert _digits(render_report(narrow_result, generated_at=at)) == _digits(
        render_report(full_result, generated_at=at)
    )


def _digits(html: str) -> str:
    """``html`` with every number of 12 or more decimals cut to 10 (last-digit noise)."""
    return re.sub(r"(\d+\.\d{10})\d{2,}", r"\1", html)


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
