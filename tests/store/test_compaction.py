"""Compaction merges small parts without losing or doubling a row; retention deletes old days."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from collectors.base import Window
from tests.builders.results import (
    ACCOUNT,
    BUCKET,
    REGION,
    T0,
    Ticker,
    metric_series,
    metrics_result,
    traces_at,
    xray_result,
)
from tracelens.cli import main
from tracelens.inputs import Inputs
from tracelens.store import RunRecord, Store, layout, open_store
from tracelens.store.backend import Backend
from tracelens.store.compacting import compact

ORDER = ["trace_id", "id"]


def _fill(store: Store, days: int = 2, runs: int = 2) -> None:
    """Runs of traces over ``days`` days, each run's window collected twice (revision 2 holds
    the same segments: the copies a re-run after a crash leaves), plus metrics."""
    for day in range(days):
        for run in range(runs):
            start = T0 + timedelta(days=day, minutes=10 * run)
            window = Window(start, start + timedelta(minutes=10))
            traces = traces_at(
                [start + timedelta(seconds=s) for s in range(0, 600, 40)], first=run * 100 + 1
            )
            for revision in (1, 2):
                result = xray_result(traces, window=window, revision=revision)
                store.persist(result, account=ACCOUNT, region=REGION)
            series = metric_series("orders Throttles Sum", {start: float(run)}, n=run)
            store.persist(metrics_result([series], window=window), account=ACCOUNT, region=REGION)


def _same(after: Inputs, before: Inputs) -> None:
    assert after.traces.spans.sort(ORDER).equals(before.traces.spans.sort(ORDER))
    assert after.traces.segments == before.traces.segments
    assert after.metrics is not None and before.metrics is not None
    assert after.metrics.sort("timestamp").equals(before.metrics.sort("timestamp"))


def _parts(store: Store, table: str = "spans") -> list[str]:
    return [k for k in store.backend.list_keys(table) if layout.part_digest(k) is not None]


def test_compaction_merges_each_directory_into_one_part_with_the_same_rows(store: Store) -> None:
    _fill(store)
    before, _ = store.load_inputs()
    window = {"since": T0 + timedelta(days=1), "until": T0 + timedelta(days=2)}
    before_day, _ = store.load_inputs(**window)
    directories = {layout.partition_of(key) for key in _parts(store)}
    assert len(_parts(store)) > len(directories)

    report = store.compact()

    assert sorted(layout.partition_of(key) for key in _parts(store)) == sorted(directories)
    # spans, then metrics and trace_reads (the paths traces came from) of two days each
    assert len(report.written) == len(directories) + 4
    assert report.rows_after < report.rows_before  # the second copy of each segment
    after, problems = store.load_inputs()
    assert problems == []
    _same(after, before)
    assert after.traces.duplicates == 0 < before.traces.duplicates
    after_day, _ = store.load_inputs(**window)
    _same(after_day, before_day)
    assert store.verify().damaged == []

    again = store.compact()  # idempotent
    assert (again.written, again.removed) == ([], [])


def test_parts_above_the_size_stay_as_they_are(store: Store) -> None:
    _fill(store, days=1, runs=2)
    keys = _parts(store)

    report = store.compact(small_bytes=1)

    assert report.written == [] and _parts(store) == keys


class _DiesOnDelete:
    """A backend whose process dies at the first delete (after the merged part was written)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def delete(self, key: str) -> None:
        raise KeyboardInterrupt("killed")


def test_a_compaction_killed_before_removing_the_parts_loses_and_doubles_nothing(
    store: Store,
) -> None:
    _fill(store)
    before, _ = store.load_inputs()
    parts = _parts(store)

    with pytest.raises(KeyboardInterrupt):
        compact(_DiesOnDelete(store.backend))  # type: ignore[arg-type]

    assert len(_parts(store)) == len(parts) + 1  # the merged part beside the ones it holds
    during, problems = store.load_inputs()
    assert problems == []
    _same(during, before)

    store.compact()
    after, _ = store.load_inputs()
    _same(after, before)
    assert len(_parts(store)) == len({layout.partition_of(k) for k in parts})


class _CompactsAfterListing:
    """A backend that runs a compaction right after a reader lists the spans parts."""

    def __init__(self, inner: Backend, then: Callable[[], object]) -> None:
        self.inner, self.then, self.done = inner, then, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = self.inner.list_keys(prefix)
        if prefix == "spans" and not self.done:
            self.done = True
            self.then()
        return keys


def test_a_reader_that_listed_parts_compaction_removes_reads_every_row(
    tmp_path: Path, store: Store
) -> None:
    _fill(store)
    before, _ = store.load_inputs()
    racing = Store(_CompactsAfterListing(store.backend, store.compact))  # type: ignore[arg-type]

    during, problems = racing.load_inputs()

    assert problems == []
    _same(during, before)


def test_rebuild_and_repair_keep_the_rows_of_compacted_parts(store: Store) -> None:
    _fill(store, days=1)
    before, _ = store.load_inputs()
    store.compact()
    (merged, *_) = _parts(store)

    store.rebuild(sources=["cloudwatch"], delete_orphans=True)  # spans are not cloudwatch's
    assert merged in _parts(store)
    _same(store.load_inputs()[0], before)

    store.backend.write_bytes(merged, b"PAR1 damaged")
    report = store.verify(repair=True)
    assert report.rebuilt == [merged] and report.unrepaired == []
    _same(store.load_inputs()[0], before)

    store.compact()
    store.rebuild(delete_orphans=True)  # every run rewritten: the compacted parts go
    assert all(merged != key for key in _parts(store))
    _same(store.load_inputs()[0], before)


def _days_apart(clock: Ticker, store: Store) -> None:
    for day in (0, 10, 40, 41):
        start = T0 + timedelta(days=day)
        window = Window(start, start + timedelta(minutes=10))
        traces = traces_at([start + timedelta(minutes=1)], first=day + 1)
        clock.now = start + timedelta(minutes=20)
        store.persist(xray_result(traces, window=window), account=ACCOUNT, region=REGION)
        store.record_run(_run(start))


def _run(start: Any) -> RunRecord:
    return RunRecord(
        collector="xray",
        account=ACCOUNT,
        region=REGION,
        started_at=start,
        duration_ms=5000.0,
        status="ok",
        items=1,
    )


def test_prune_deletes_the_days_past_the_retention(store: Store, clock: Ticker) -> None:
    _days_apart(clock, store)
    receipt = store.persist(xray_result(traces_at([T0])), account=ACCOUNT, region=REGION)
    store.advance(receipt)
    clock.now = T0 + timedelta(days=41, hours=12)

    report = store.prune(older_than=timedelta(days=30))

    assert str(report.before) == "2026-12-01" and report.raw and report.parts
    for prefix in ("spans", "raw", "manifests", "runs"):
        days = {layout.key_date(key) for key in store.backend.list_keys(prefix)}
        assert days and all(day is not None and str(day) >= "2026-12-30" for day in days)
    assert store.checkpoint("xray", ACCOUNT, REGION) is not None
    inputs, problems = store.load_inputs()
    assert problems == [] and inputs.traces.traces == 2
    assert store.prune(older_than=timedelta(days=30)).deleted == 0  # idempotent
    with pytest.raises(ValueError, match="positive"):
        store.prune(older_than=timedelta(0))


def test_the_cli_compacts_and_prunes(tmp_path: Path, clock: Ticker) -> None:
    store = open_store(tmp_path / "store", clock=clock)
    _fill(store, days=1, runs=2)
    before, _ = store.load_inputs()

    compacted = CliRunner().invoke(main, ["store", "compact", "--store", str(tmp_path / "store")])
    assert compacted.exit_code == 0, compacted.output
    rows = re.search(r"\(([\d,]+) rows -> ([\d,]+), ([\d,]+) copies dropped\)", compacted.output)
    assert rows is not None, compacted.output
    before_rows, after_rows, dropped = (int(n.replace(",", "")) for n in rows.groups())
    assert dropped == before_rows - after_rows > 0  # each window was stored twice
    _same(open_store(tmp_path / "store").load_inputs()[0], before)

    refused = CliRunner().invoke(main, ["store", "prune", "--older-than", "soon"])
    assert refused.exit_code == 2 and "not a duration" in refused.output
    pruned = CliRunner().invoke(
        main, ["store", "prune", "--store", str(tmp_path / "store"), "--older-than", "1d"]
    )
    assert pruned.exit_code == 0, pruned.output
    assert "deleted" in pruned.output and "raw run(s)" in pruned.output
    assert store.backend.list_keys("spans") == []  # 2026-11-20 is more than a day ago


def test_the_cli_says_no_copies_when_none_were_dropped(tmp_path: Path, clock: Ticker) -> None:
    store = open_store(tmp_path / "store", clock=clock)
    for run in range(2):  # two windows of other traces: nothing stored twice
        start = T0 + timedelta(minutes=10 * run)
        traces = traces_at(
            [start + timedelta(seconds=s) for s in range(0, 600, 40)], first=run * 100 + 1
        )
        window = Window(start, start + timedelta(minutes=10))
        store.persist(xray_result(traces, window=window), account=ACCOUNT, region=REGION)

    compacted = CliRunner().invoke(main, ["store", "compact", "--store", str(tmp_path / "store")])

    assert compacted.exit_code == 0, compacted.output
    rows = re.search(r"\(([\d,]+) rows -> ([\d,]+), no copies\)", compacted.output)
    assert rows is not None and rows.group(1) == rows.group(2) != "0", compacted.output
    assert "dropped" not in compacted.output


@pytest.mark.integration
def test_compaction_and_retention_on_s3(s3: Any) -> None:
    clock = Ticker()
    store = open_store(f"s3://{BUCKET}/team/prod", s3_client=s3, clock=clock)
    _fill(store, days=1, runs=2)
    before, _ = store.load_inputs()

    report = store.compact()

    assert report.written and report.removed
    _same(store.load_inputs()[0], before)
    assert store.compact().written == []
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert not any(key.endswith(removed) for key in keys for removed in report.removed)

    _days_apart(clock, store)
    clock.now = T0 + timedelta(days=41, hours=12)
    pruned = store.prune(older_than=timedelta(days=30))
    assert pruned.raw and pruned.parts
    inputs, problems = store.load_inputs()
    assert problems == [] and inputs.traces.traces == 2
    assert pl.Series(store.backend.list_keys("raw")).str.contains("date=2026-11-2").sum() == 0


class _ListsAGhost:
    """A backend whose every listing of the spans names one more part that is never there (as
    when compactions keep deleting what a reader has just listed)."""

    def __init__(self, inner: Backend) -> None:
        self.inner, self.listings = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = self.inner.list_keys(prefix)
        spans = [key for key in keys if key.endswith(".parquet")]
        if prefix.startswith("spans") and spans:
            self.listings += 1
            keys = [*keys, spans[0].replace(".parquet", f"-gone{self.listings}.parquet")]
        return keys


def test_a_part_deleted_at_every_listing_is_named_not_dropped_silently(store: Store) -> None:
    _fill(store, days=1)
    before, _ = store.load_inputs()
    haunted = Store(_ListsAGhost(store.backend))  # type: ignore[arg-type]

    during, problems = haunted.load_inputs()

    _same(during, before)
    assert [p.location.rsplit("-", 1)[-1] for p in problems] == ["gone4.parquet"]
    assert "deleted while being read and not found again" in problems[0].reason
