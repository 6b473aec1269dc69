"""Run records: written as JSON lines, read back for the collector-health view."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders.results import ACCOUNT, REGION, T0, WINDOW, traces_at, xray_result
from tracelens.store import RunRecord, Store


def _record(minutes: int, **fields: object) -> RunRecord:
    values: dict[str, object] = {
        "collector": "cloudwatch",
        "account": ACCOUNT,
        "region": REGION,
        "status": "ok",
        "started_at": T0 + timedelta(minutes=minutes),
        "duration_ms": 850.5,
    }
    return RunRecord(**{**values, **fields})  # type: ignore[arg-type]


def test_run_records_round_trip(store: Store) -> None:
    failed = _record(
        5, status="failed", error="AccessDeniedException: not authorized", window=WINDOW
    )
    store.record_runs([_record(0, items=12, api_calls=3, throttles=1, retries=2), failed])
    store.record_run(_record(10))

    records, problems = store.runs()

    assert problems == []
    assert records == [
        _record(0, items=12, api_calls=3, throttles=1, retries=2),
        failed,
        _record(10),
    ]
    assert len(store.backend.list_keys("runs")) == 2


def test_runs_are_read_in_a_time_range(store: Store) -> None:
    store.record_runs([_record(0), _record(60 * 24), _record(60 * 48)])

    records, _ = store.runs(since=T0 + timedelta(hours=1), until=T0 + timedelta(days=2))

    assert [r.started_at for r in records] == [T0 + timedelta(days=1)]


def test_the_record_of_a_partial_run_says_what_failed(store: Store) -> None:
    traces = traces_at([T0, T0])
    result = xray_result(traces, failed=[traces[1][0]])
    receipt = store.persist(result, account=ACCOUNT, region=REGION)

    record = RunRecord.of_result(
        result,
        account=ACCOUNT,
        region=REGION,
        started_at=T0,
        duration_ms=420.0,
        items=receipt.items,
    )

    assert record.status == "partial"
    assert record.items == 4
    assert (record.api_calls, record.throttles, record.retries, record.failures) == (2, 1, 1, 1)
    assert record.error == f"xray:BatchGetTraces {traces[1][0]}: ThrottlingException: Rate exceeded"
    assert record.window == WINDOW


def test_a_record_needs_a_known_status_and_an_aware_time() -> None:
    with pytest.raises(ValueError, match="run status 'done'"):
        _record(0, status="done")
    with pytest.raises(ValueError, match="time-zone aware"):
        _record(0, started_at=T0.replace(tzinfo=None))
