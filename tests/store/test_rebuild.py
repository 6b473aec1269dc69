"""The normalized tables can always be rebuilt from the raw runs."""

from __future__ import annotations

from datetime import timedelta

from tests.builders.results import (
    ACCOUNT,
    REGION,
    T0,
    lambda_result,
    metric_series,
    metrics_result,
    traces_at,
    xray_result,
)
from tracelens.store import Store

T1 = T0 + timedelta(minutes=1)


def _fill(store: Store) -> None:
    store.persist(xray_result(traces_at([T0, T1])), account=ACCOUNT, region=REGION)
    store.persist(
        metrics_result([metric_series("orders Duration p95", {T1: 210.0})]),
        account=ACCOUNT,
        region=REGION,
    )
    store.persist(lambda_result({"orders": 256}), account=ACCOUNT, region=REGION)


def _snapshot(store: Store) -> tuple[object, ...]:
    inputs, problems = store.load_inputs()
    assert problems == []
    assert inputs.metrics is not None and inputs.functions is not None
    return (
        inputs.traces.spans.sort("trace_id", "id").rows(),
        inputs.metrics.rows(),
        inputs.functions.functions.rows(),
        inputs.functions.account_concurrency_limit,
    )


def test_lost_parts_come_back_identical(store: Store) -> None:
    _fill(store)
    before = _snapshot(store)
    parts = [
        key
        for table in ("spans", "trace_reads", "metrics", "functions")
        for key in store.backend.list_keys(table)
    ]
    for key in parts:
        store.backend.delete(key)

    report = store.rebuild()

    assert report.raw_runs == 3
    assert sorted(report.part_keys) == sorted([*parts, *store.backend.list_keys("account_limits")])
    assert _snapshot(store) == before


def test_rebuild_of_one_source_touches_only_its_tables(store: Store) -> None:
    _fill(store)

    report = store.rebuild(sources=["cloudwatch"])

    assert report.raw_runs == 1
    assert [key.split("/")[0] for key in report.part_keys] == ["metrics"]


def test_orphan_parts_are_deleted_only_when_asked(store: Store) -> None:
    _fill(store)
    (metrics_raw,) = store.backend.list_keys("raw/cloudwatch")
    store.backend.delete(metrics_raw)

    kept = store.rebuild()
    assert kept.deleted_keys == []

    cleaned = store.rebuild(delete_orphans=True)
    assert [key.split("/")[0] for key in cleaned.deleted_keys] == ["metrics"]
    assert store.load_inputs()[0].metrics is None
