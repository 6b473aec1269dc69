"""Retention is true: raw pages go with the days of the rows they hold, and no rebuild or repair
brings back a day a prune deleted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.base import CallStats, CollectorResult
from tests.builders.results import (
    ACCOUNT,
    BUCKET,
    REGION,
    SPANS_PER_TRACE,
    T0,
    Ticker,
    lambda_trace,
    trace_id,
    traces_at,
    xray_result,
)
from tracelens.ingest.opening.sources import Source
from tracelens.store import Store, open_store, retention
from tracelens.store.filepages import SOURCE, TRACES, page_of

OLD = T0 - timedelta(days=20)  # past a 10-day retention
NEW = T0 - timedelta(hours=2)


def _imported(store: Store, *starts: Any) -> str:
    """One import run of a file holding a trace per start; its raw key."""
    lines = b""
    for n, start in enumerate(starts, start=1):
        tid = trace_id(start, n)
        lines += b"".join(orjson.dumps(d) + b"\n" for d in lambda_trace(tid, start))
    page = page_of(TRACES, Source("traces.ndjson", lines))
    result = CollectorResult(
        source=SOURCE,
        window=None,
        pages=(page,),
        failures=(),
        warnings=(),
        stats=CallStats(),
        complete=True,
    )
    receipt = store.persist(result, account=ACCOUNT, region=REGION)
    assert receipt.raw_key is not None
    return receipt.raw_key


def _traces(store: Store) -> int:
    inputs, problems = store.load_inputs()
    assert problems == []
    return inputs.traces.traces


def test_an_import_of_old_traces_is_dated_by_them_and_pruned_with_them(store: Store) -> None:
    raw_key = _imported(store, OLD, OLD + timedelta(minutes=1))

    assert raw_key.startswith(f"raw/import/date={OLD.date().isoformat()}/")  # not the import day
    report = store.prune(older_than=timedelta(days=10))

    assert raw_key in report.raw
    assert store.backend.list_keys("raw") == []
    assert _traces(store) == 0
    assert store.verify(repair=True).rebuilt == []
    store.rebuild()
    assert _traces(store) == 0


def _prune_then_repair_keeps_only_the_new_day(store: Store) -> None:
    raw_key = _imported(store, OLD, NEW)  # one raw run holding an old day and a new one
    assert raw_key.startswith(f"raw/import/date={NEW.date().isoformat()}/")
    assert _traces(store) == 2

    store.prune(older_than=timedelta(days=10))
    assert store.backend.list_keys("raw") == [raw_key]  # kept for the new day's rows
    assert retention.cutoff(store.backend) == (T0 - timedelta(days=10)).date()
    assert _traces(store) == 1

    # damage the new day's part: the repair rebuilds it, and not the old day
    (part,) = [k for k in store.backend.list_keys("spans") if k.endswith(".parquet")]
    store.backend.write_bytes(part, b"damaged")
    repaired = store.verify(repair=True)
    assert repaired.rebuilt == [part]
    assert _traces(store) == 1
    store.rebuild()
    assert _traces(store) == 1
    inputs, _ = store.load_inputs()
    assert inputs.traces.spans.height == SPANS_PER_TRACE
    old_days = [k for k in store.backend.list_keys("spans") if OLD.date().isoformat() in k]
    assert old_days == []


def test_a_repair_after_a_prune_brings_no_pruned_day_back(store: Store) -> None:
    _prune_then_repair_keeps_only_the_new_day(store)


@pytest.mark.integration
def test_a_repair_after_a_prune_brings_no_pruned_day_back_on_s3(s3: Any) -> None:
    store = open_store(f"s3://{BUCKET}/team/prod", s3_client=s3, clock=Ticker())
    _prune_then_repair_keeps_only_the_new_day(store)
    assert store.backend.read_bytes(retention.KEY)


def test_a_collector_run_is_dated_by_its_latest_rows(store: Store) -> None:
    late = T0.replace(hour=23, minute=59, second=59)
    receipt = store.persist(
        xray_result(traces_at([late, late + timedelta(seconds=2)])), account=ACCOUNT, region=REGION
    )
    assert receipt.raw_key is not None
    # the window starts on the 20th; its last trace (and the read's record) is on the 21st
    assert receipt.raw_key.startswith("raw/xray/date=2026-11-21/")


def test_the_cutoff_never_moves_back_and_a_damaged_one_stops_a_rebuild(
    store: Store, tmp_path: Path
) -> None:
    store.prune(older_than=timedelta(days=3))
    store.prune(older_than=timedelta(days=30))
    assert retention.cutoff(store.backend) == (T0 - timedelta(days=3)).date()

    store.backend.write_bytes(retention.KEY, b"{")
    with pytest.raises(Exception, match=r"retention\.json.*store prune"):
        store.rebuild()
    store.prune(older_than=timedelta(days=5))  # a prune writes it again
    assert retention.cutoff(store.backend) is not None
