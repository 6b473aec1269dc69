"""A day's rollup counts the day's Lambda REPORT records and becomes stale when they change."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from analyses.cold_starts import cold_starts
from analyses.rollup_findings import cold_table
from tests.builders.results import ACCOUNT, REGION, T0, insights_page, insights_row, logs_result
from tests.builders.stores import persist_minutes, persist_reports, rollup_store
from tracelens import rollup_partitions
from tracelens.engines.local import LocalEngine
from tracelens.rollup import build, due_days, merge_days, refresh
from tracelens.store import Store, reading
from tracelens.store import rollups as files
from tracelens.store.compacting import compact
from tracelens.store.rollups import days_of_span_parts

DAY = T0.date()


def _timeouts(store_backend: object) -> dict[str, int | None]:
    merged = merge_days(store_backend, since=None, until=None, target=None)  # type: ignore[arg-type]
    row = cold_table(merged.merged).row(0, named=True)
    return {name: row[name] for name in ("timeouts", "reported_invocations")}


def test_reports_collected_after_the_rollup_make_it_stale(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    assert build(store.backend).built == [DAY]
    assert _timeouts(store.backend) == {"timeouts": None, "reported_invocations": None}
    # the logs of the same day are collected after its traces were rolled up
    receipt = persist_reports(store, [(1, 1, "timeout"), (2, 2, "success"), (30, 99, "timeout")])
    logged = [key for key in receipt.part_keys if key.startswith("log_reports/")]
    assert logged and days_of_span_parts(logged) == {DAY}
    footer = files.read_footer(store.backend, DAY)
    assert isinstance(footer, files.RollupFooter) and footer.log_parts == []
    assert not files.is_current(store.backend, DAY, footer.span_parts or [], sorted(logged))
    due, current = due_days(store.backend)
    assert list(due) == [DAY] and current == []
    merged = merge_days(store.backend, since=None, until=None, target=None)
    assert merged.stale_days == [DAY]
    # traced or not (request 99 has no trace), per hour of the REPORT
    assert _timeouts(store.backend) == {"timeouts": 2, "reported_invocations": 3}
    assert refresh(store.backend, days_of_span_parts(receipt.part_keys)).built == [DAY]
    footer = files.read_footer(store.backend, DAY)
    assert isinstance(footer, files.RollupFooter) and footer.log_parts == sorted(logged)
    assert build(store.backend).current == [DAY]
    merged = merge_days(store.backend, since=None, until=None, target=None)
    assert merged.days == [DAY] and merged.from_spans_days == []
    assert _timeouts(store.backend) == {"timeouts": 2, "reported_invocations": 3}
    hours = merged.hourly.filter(pl.col("section") == "report")["hour"].unique().sort()
    assert hours.to_list() == [T0]


def test_a_day_of_reports_alone_is_rolled_up(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1])
    persist_reports(store, [(60 * 24 + 5, 7, "timeout")])  # the next day, no trace
    assert build(store.backend).built == [DAY, DAY + timedelta(days=1)]
    merged = merge_days(store.backend, since=None, until=None, target=None)
    assert merged.days == [DAY, DAY + timedelta(days=1)] and merged.stale_days == []
    assert _timeouts(store.backend) == {"timeouts": 1, "reported_invocations": 1}


def test_an_older_rollup_without_its_report_parts_is_not_current(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2])
    build(store.backend)
    footer = files.read_footer(store.backend, DAY)
    assert isinstance(footer, files.RollupFooter)
    spans = footer.span_parts or []
    older = dataclasses.replace(footer, log_parts=None)
    assert not older.current(spans, []) and footer.current(spans, [])


def test_compaction_of_report_parts_carries_the_rollup_over(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2])
    persist_reports(store, [(1, 1, "timeout")])
    persist_reports(store, [(2, 2, "success")])
    build(store.backend)
    report = compact(store.backend)
    assert any(key.startswith("log_reports/") for key in report.written)
    assert build(store.backend).current == [DAY]
    assert _timeouts(store.backend) == {"timeouts": 1, "reported_invocations": 2}


def _untimed_report(store: Store, request: str, status: str) -> None:
    """A REPORT read without a time (a Logs Insights row without ``@timestamp``): stored in
    the partition of its run's window (``T0``'s day)."""
    row = [
        field
        for field in insights_row(T0, _report_line(request, status))
        if field["field"] != "@timestamp"
    ]
    store.persist(logs_result([insights_page([row])]), account=ACCOUNT, region=REGION)


def _report_line(request: str, status: str) -> str:
    return (
        f"REPORT RequestId: {request}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
        f"Memory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: {status}"
    )


def _spans_timeouts(store: Store, since: datetime, until: datetime) -> int:
    inputs, _ = reading.load(store.backend, reading.Scope(since=since, until=until))
    assert inputs.logs is not None
    counted = cold_starts(inputs.traces.spans, reports=inputs.logs.reports)
    return int(counted["timeouts"].sum())


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=2), 2),
        # a window touching the REPORT's day reads it, as the spans' read of its partition
        (T0.replace(hour=10), T0.replace(hour=0) + timedelta(days=2), 2),
        # a window after its day does not
        (T0.replace(hour=0) + timedelta(days=1), T0.replace(hour=0) + timedelta(days=2), 1),
    ],
)
def test_a_report_without_a_time_counts_in_the_windows_reading_its_day(
    tmp_path: Path, since: datetime, until: datetime, expected: int
) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1])
    persist_minutes(store, [1], day=1, first=5)
    _untimed_report(store, "req-1", "timeout")
    persist_reports(store, [(24 * 60 + 1, 5, "timeout")])
    build(store.backend)
    assert _spans_timeouts(store, since, until) == expected
    merged = merge_days(store.backend, since=since, until=until, target=None)
    assert cold_table(merged.merged)["timeouts"].sum() == expected


def test_each_target_counts_its_own_reports(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    other = ("210987654321", "eu-west-1")
    persist_minutes(store, [1, 2])
    persist_minutes(store, [3], first=10, target=other)
    persist_reports(store, [(1, 1, "timeout"), (2, 2, "success")])
    persist_reports(store, [(3, 10, "timeout"), (4, 11, "timeout")], target=other)
    build(store.backend)
    for target, expected in (
        ((ACCOUNT, REGION), {"timeouts": 1, "reported_invocations": 2}),
        (other, {"timeouts": 2, "reported_invocations": 2}),
        (None, {"timeouts": 3, "reported_invocations": 4}),  # every target together
    ):
        merged = merge_days(store.backend, since=None, until=None, target=target)
        assert merged.days == [DAY]
        row = cold_table(merged.merged).row(0, named=True)
        assert {name: row[name] for name in expected} == expected


def test_the_engine_reads_a_days_reports_as_the_store_does(tmp_path: Path) -> None:
    # `store summary --engine` rolls the days up on an engine: their REPORTs with their spans,
    # and a day of REPORTs alone
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    persist_reports(store, [(1, 1, "timeout"), (2, 2, "success"), (30, 99, "timeout")])
    persist_reports(store, [(24 * 60 + 5, 7, "timeout")])  # the next day: REPORTs alone
    window = {"since": T0 - timedelta(hours=1), "until": T0 + timedelta(days=2)}
    local = merge_days(store.backend, target=None, **window)
    read, failed = rollup_partitions.read_spans(LocalEngine(), store.backend, **window)
    assert failed == []
    expected = cold_table(local.merged).select("function_name", "timeouts", "reported_invocations")
    got = cold_table(read.merged).select("function_name", "timeouts", "reported_invocations")
    assert expected["timeouts"].sum() == 3 and got.equals(expected)
