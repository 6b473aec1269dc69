"""Damaged store files are reported by name and reason; everything else is still read."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import timedelta

import polars as pl
import pytest

from tests.builders.results import (
    ACCOUNT,
    REGION,
    SPANS_PER_TRACE,
    T0,
    metric_series,
    metrics_result,
    traces_at,
    xray_result,
)
from tracelens.store import PersistReceipt, RunRecord, Store, layout

T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


def _raw_key(receipt: PersistReceipt) -> str:
    assert receipt.raw_key is not None
    return receipt.raw_key


def _two_runs(store: Store, *, manifests: bool = False) -> tuple[str, str]:
    """Two runs of one trace each; without ``manifests``, parts are read unchecked, as those
    of a store written before manifests (the Parquet reader's own checks then apply)."""
    first = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    second = store.persist(xray_result(traces_at([T2], first=9)), account=ACCOUNT, region=REGION)
    if not manifests:
        for key in store.backend.list_keys(layout.MANIFESTS):
            store.backend.delete(key)
    return first.part_keys[0], second.part_keys[0]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: b"this is not parquet", "not a readable Parquet file"),
        (lambda data: data[: len(data) // 2], "not a readable Parquet file"),
        (lambda data: data[:-1], "not a readable Parquet file"),
        (lambda data: b"", "not a readable Parquet file"),
    ],
    ids=["garbage", "half-written", "last-byte-missing", "empty"],
)
def test_a_damaged_part_is_reported_and_the_others_are_read(
    store: Store, damage: Callable[[bytes], bytes], reason: str
) -> None:
    bad, _ = _two_runs(store)
    store.backend.write_bytes(bad, damage(store.backend.read_bytes(bad)))

    inputs, problems = store.load_inputs()

    assert [(p.location, p.reason.split(" (")[0]) for p in problems] == [
        (store.backend.location(bad), reason)
    ]
    assert inputs.traces.spans.height == SPANS_PER_TRACE
    assert store.backend.location(bad) in problems[0].describe()


def test_a_part_of_another_table_is_reported(store: Store) -> None:
    bad, _ = _two_runs(store)
    metrics = store.persist(
        metrics_result([metric_series("orders Errors Sum", {T1: 1.0})]),
        account=ACCOUNT,
        region=REGION,
    )
    store.backend.write_bytes(bad, store.backend.read_bytes(metrics.part_keys[0]))

    inputs, problems = store.load_inputs()

    assert len(problems) == 1
    assert problems[0].reason.startswith("not a spans part: missing column(s) trace_id, id,")
    assert inputs.traces.spans.height == SPANS_PER_TRACE
    assert inputs.metrics is not None and inputs.metrics.height == 1


def test_a_part_with_a_mistyped_column_is_reported(store: Store) -> None:
    bad, _ = _two_runs(store)
    frame = pl.read_parquet(store.backend.location(bad))
    broken = frame.with_columns(pl.lit("soon").alias("start_time"))
    broken.write_parquet(store.backend.location(bad))

    _, problems = store.load_inputs()

    assert [p.reason.split(" (")[0] for p in problems] == ["a spans column has the wrong type"]


def test_a_truncated_raw_run_is_reported_by_rebuild_and_its_parts_are_kept(store: Store) -> None:
    first = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    store.persist(xray_result(traces_at([T2], first=9)), account=ACCOUNT, region=REGION)
    raw_key = _raw_key(first)
    data = store.backend.read_bytes(raw_key)
    store.backend.write_bytes(raw_key, data[: len(data) // 2])

    report = store.rebuild(delete_orphans=True)

    assert report.raw_runs == 1
    assert [(p.location, p.reason.split(" (")[0]) for p in report.problems] == [
        (store.backend.location(raw_key), "not a complete gzip file")
    ]
    assert report.deleted_keys == []
    assert store.load_inputs()[0].traces.spans.height == 2 * SPANS_PER_TRACE


def test_raw_json_that_is_not_a_run_is_reported(store: Store) -> None:
    first = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    store.backend.write_bytes(_raw_key(first), gzip.compress(b'{"format": 1, "pages": 3}'))

    report = store.rebuild()

    assert report.problems[0].reason.startswith("not a raw run object")


def test_damaged_run_records_are_reported_line_by_line(store: Store) -> None:
    record = RunRecord(
        collector="xray",
        account=ACCOUNT,
        region=REGION,
        status="ok",
        started_at=T1,
        duration_ms=1200.0,
    )
    store.record_run(record)
    store.backend.write_bytes(
        "runs/date=2026-11-20/090200000000-bad.jsonl",
        b'{"collector": "xray"}\n{"collector": "xray", "acc',
    )

    records, problems = store.runs()

    assert records == [record]
    assert [p.reason.split(":")[0] for p in problems] == ["line 1", "line 2"]


def test_a_part_written_before_the_resource_columns_reads_them_as_null(store: Store) -> None:
    older, _ = _two_runs(store)
    frame = pl.read_parquet(store.backend.location(older))
    added = ("resource_type", "resource_id", "region", "dns_answer")
    frame.drop(*added).write_parquet(store.backend.location(older))

    inputs, problems = store.load_inputs()

    assert problems == []
    assert inputs.traces.spans.height == 2 * SPANS_PER_TRACE
    assert inputs.traces.spans.get_column("resource_id").null_count() >= SPANS_PER_TRACE
    assert inputs.traces.spans.get_column("dns_answer").null_count() == 2 * SPANS_PER_TRACE
