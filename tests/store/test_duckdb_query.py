"""The lake is plain Hive-partitioned Parquet: DuckDB (as Athena or Spark would) reads the same
answer from the files as tracelens does (the query of docs/store-layout.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from collectors.base import Window
from tests.builders.results import ACCOUNT, REGION, T0, lambda_trace, trace_id, xray_result
from tracelens.store import Store

duckdb = pytest.importorskip("duckdb")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "store-layout.md"


def _fill(store: Store) -> None:
    """Traces of three functions over two days, each window stored twice (a re-run)."""
    for day in range(2):
        start = T0 + timedelta(days=day)
        traces = []
        for n in range(30):
            at = start + timedelta(seconds=13 * n)
            tid = trace_id(at, day * 1000 + n + 1)
            function = ("orders", "pay", "ship")[n % 3]
            documents = lambda_trace(tid, at, function=function)
            for document in documents:  # NOTE: as the Lambda service names its function
                document.setdefault("aws", {})["function_name"] = function
            traces.append((tid, documents))
        window = Window(start, start + timedelta(minutes=10))
        for revision in (1, 2):
            store.persist(xray_result(traces, window=window, revision=revision), **_where())


def _where() -> dict[str, str]:
    return {"account": ACCOUNT, "region": REGION}


def _tracelens_answer(store: Store) -> dict[str, int]:
    spans = store.load_inputs()[0].traces.spans
    counts = spans.group_by("function_name").len().drop_nulls("function_name")
    return dict(counts.iter_rows())


def _query(sql: str, root: Path) -> dict[str, int]:
    rows = duckdb.sql(sql.replace("DIR", root.as_posix())).fetchall()
    return {name: count for name, count in rows if name is not None}


def _documented(title: str) -> str:
    """The SQL block that follows ``title`` in docs/store-layout.md."""
    text = DOCS.read_text()
    block = text[text.index(title) :].split("```sql\n", 1)[1]
    return block.split("```", 1)[0]


def test_duckdb_reads_the_spans_tracelens_reads(tmp_path: Path, store: Store) -> None:
    _fill(store)
    answer = _tracelens_answer(store)
    assert sorted(answer) == ["orders", "pay", "ship"]
    root = Path(store.url)

    # Before compaction the files hold each re-run's copy: the documented query keeps one.
    naive = _query(_documented("Spans per function"), root)
    assert naive == {name: 2 * count for name, count in answer.items()}
    assert _query(_documented("Spans per function, copies kept once"), root) == answer

    store.compact()
    assert _query(_documented("Spans per function"), root) == answer
    by_day = duckdb.sql(_documented("Traces per day").replace("DIR", root.as_posix())).fetchall()
    loaded = store.load_inputs()[0].traces.spans
    expected = (
        loaded.group_by(pl.col("start_time").min().over("trace_id").dt.date().alias("day"))
        .agg(pl.col("trace_id").n_unique())
        .sort("day")
    )
    assert [(str(day), n) for day, n in by_day] == [
        (str(day), n) for day, n in expected.iter_rows()
    ]
