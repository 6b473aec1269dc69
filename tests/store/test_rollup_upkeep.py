"""Rollups follow the spans: compaction carries current ones over, retention deletes them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.builders.results import T0
from tests.builders.stores import persist_minutes, rollup_store
from tracelens.rollup import build, build_day, read, refresh
from tracelens.store import rollups as files
from tracelens.store.rollups import days_of_span_parts


def test_refresh_builds_the_days_a_persist_wrote_and_leaves_current_days_alone(
    tmp_path: Path,
) -> None:
    store = rollup_store(tmp_path)
    first, second = persist_minutes(store, [1, 2]), persist_minutes(store, [3], day=1, first=10)
    days = days_of_span_parts([*first.part_keys, *second.part_keys])
    assert days == {T0.date(), T0.date() + timedelta(days=1)}
    assert refresh(store.backend, days).built == sorted(days)
    assert refresh(store.backend, days).current == sorted(days)
    again = days_of_span_parts(persist_minutes(store, [4], first=20).part_keys)
    report = refresh(store.backend, again)
    assert report.built == [T0.date()] and report.current == []
    merged = read(store.backend, since=None, until=None)
    assert merged.stale_days == [] and merged.missing_days == []


def test_build_day_is_a_unit_of_its_own(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    built = build_day(store.backend, T0.date())
    assert built.key == files.rollup_key(T0.date()) and built.problems == []
    footer = files.read_footer(store.backend, T0.date())
    assert isinstance(footer, files.RollupFooter) and footer.span_parts == built.span_parts
    assert build(store.backend).current == [T0.date()]


def test_compaction_carries_a_current_rollup_over_to_the_merged_parts(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    for n in range(3):
        persist_minutes(store, [n + 1], first=n + 1)
    build(store.backend)
    before = read(store.backend, since=None, until=None)
    report = store.compact()
    assert report.written
    after = read(store.backend, since=None, until=None)
    assert after.stale_days == [] and after.missing_days == []
    assert after.merged.equals(before.merged)
    assert build(store.backend).current == [T0.date()]


def test_a_stale_rollup_stays_stale_through_a_compaction(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1])
    build(store.backend)
    persist_minutes(store, [2], first=2)  # not rolled up
    store.compact()
    assert read(store.backend, since=None, until=None).stale_days == [T0.date()]
    assert build(store.backend).built == [T0.date()]
    assert read(store.backend, since=None, until=None).merged.height


def test_retention_deletes_the_rollups_of_the_days_it_deletes(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1])
    persist_minutes(store, [1], day=2, first=5)
    build(store.backend)
    assert files.rollup_days(store.backend, None, None) == [
        T0.date(),
        T0.date() + timedelta(days=2),
    ]
    # the clock stands on day 3: a 2-day retention deletes the days before day 1
    pruned = store.prune(older_than=timedelta(days=2))
    assert pruned.rollups == [files.rollup_key(T0.date())]
    assert files.rollup_days(store.backend, None, None) == [T0.date() + timedelta(days=2)]
    merged = read(store.backend, since=None, until=None)
    assert merged.missing_days == [] and merged.stale_days == []
