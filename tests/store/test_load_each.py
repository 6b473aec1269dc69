"""Several targets' inputs from one read of the store: each target's as a load of that target
alone gives it, with every part read once (not once per target)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tests.builders.cli import count_part_reads
from tests.builders.results import (
    T0,
    WINDOW,
    filter_events_page,
    invocation_lines,
    lambda_result,
    logs_result,
    metric_series,
    metrics_result,
)
from tests.builders.stores import persist_minutes
from tracelens.inputs import Inputs
from tracelens.store import Store

TARGETS = [
    ("prod", "us-east-1"),
    ("staging", "eu-west-1"),
    ("dev", "us-east-1"),
    ("qa", "ap-south-1"),
]


def _fill(store: Store) -> None:
    """Each target's traces (a different count each), metrics, logs and configuration, in
    parts shared by no other target; and one trace stored by two targets."""
    for n, (account, region) in enumerate(TARGETS):
        persist_minutes(store, list(range(n + 1)), first=10 * n + 1, target=(account, region))
        series = metric_series("orders Errors Sum", {T0 + timedelta(minutes=1): float(n)})
        store.persist(metrics_result([series]), account=account, region=region)
        lines = invocation_lines(f"req-{n}", 10.0 + n, init_ms=None)
        page = filter_events_page(
            "orders", [(T0 + timedelta(seconds=s), m) for s, m in enumerate(lines)]
        )
        store.persist(logs_result([page]), account=account, region=region)
        store.persist(
            lambda_result({"orders": 128 * (n + 1)}, limit=100 * (n + 1)),
            account=account,
            region=region,
        )
    # the same trace collected by prod and dev (a call across accounts): in each, once
    for target in (TARGETS[0], TARGETS[2]):
        persist_minutes(store, [5], first=99, target=target)


def _same(one: Inputs, other: Inputs) -> None:
    assert one.traces.spans.equals(other.traces.spans)
    for name in ("documents", "segments", "duplicates", "sources"):
        assert getattr(one.traces, name) == getattr(other.traces, name), name
    assert one.traces.read_stats.paths == other.traces.read_stats.paths
    assert one.region == other.region and one.trace_destinations == other.trace_destinations
    assert one.logs is not None and other.logs is not None
    assert one.logs.reports.equals(other.logs.reports) and one.logs.events.equals(other.logs.events)
    assert one.metrics is not None and other.metrics is not None
    assert one.metrics.equals(other.metrics)
    assert one.functions is not None and other.functions is not None
    assert one.functions.functions.equals(other.functions.functions)
    assert one.functions.account_concurrency_limit == other.functions.account_concurrency_limit


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    return count_part_reads(monkeypatch)


@pytest.mark.parametrize("analysed_columns_only", [False, True])
def test_each_target_is_loaded_as_alone_from_one_read(
    store: Store, counted: Counter[str], analysed_columns_only: bool
) -> None:
    _fill(store)
    since, until = WINDOW.start, WINDOW.end + timedelta(hours=1)
    alone = {
        target: store.load_inputs(
            since=since, until=until, account=target[0], region=target[1],
            analysed_columns_only=analysed_columns_only,
        )
        for target in TARGETS
    }  # fmt: skip
    assert set(counted.values()) == {len(TARGETS)}  # a load per target: every part N times
    counted.clear()

    each, problems = store.load_each(
        TARGETS, since=since, until=until, analysed_columns_only=analysed_columns_only
    )

    assert problems == [] and list(each) == TARGETS
    assert counted and set(counted.values()) == {1}  # every part once
    for target, (inputs, _) in alone.items():
        _same(each[target], inputs)
    segments = [each[target].traces.segments for target in TARGETS]
    assert segments == [4, 4, 8, 8]  # traces_at: 2 segments a trace; prod and dev +1 trace


def test_a_target_without_rows_has_empty_frames_and_a_bad_part_is_every_targets(
    store: Store,
) -> None:
    _fill(store)
    (part, *_) = [k for k in store.backend.list_keys("spans") if k.endswith(".parquet")]
    store.backend.write_bytes(part, b"not parquet")
    nobody = ("nobody", "us-west-2")

    each, problems = store.load_each([*TARGETS, nobody])
    alone, alone_problems = store.load_inputs(account=nobody[0], region=nobody[1])

    assert [p.location for p in problems] == [p.location for p in alone_problems]
    assert len(problems) == 1 and part in problems[0].location
    _same(each[nobody], alone)
    assert each[nobody].traces.segments == 0 and each[nobody].metrics is not None
    assert each[nobody].metrics.is_empty()
