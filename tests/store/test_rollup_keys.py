"""Rollups kept per target and read cheaply: a day's span parts are listed once while it is
rolled up, a rollup's currency is read from its Parquet footer alone, and each target's long
window merges its own rows."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from analyses import rollups as partials
from tests.builders.cli import run_ok
from tests.builders.results import ACCOUNT, BUCKET, REGION, T0, Ticker, xray_result
from tests.builders.stores import persist_minutes, rollup_store, write_rollup_file
from tracelens import rollup
from tracelens.engines import open_engine
from tracelens.rollup import build, long_window, read, refresh
from tracelens.rollup_partitions import build as build_on
from tracelens.rollup_partitions import read_spans
from tracelens.store import Store, open_store
from tracelens.store import rollups as files
from tracelens.store.backend import Backend, Tail
from tracelens.store.compacting import compact
from tracelens.store.errors import ChangedKeyError
from tracelens.windowplan import plan_windows

OTHER = ("staging", "eu-west-1")
DAY = T0.date()


class Counting:
    """A backend that counts span listings and the bytes read of rollup files."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.span_listings = 0
        self.rollup_bytes = 0
        self.rollup_reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def list_keys(self, prefix: str) -> list[str]:
        if prefix.startswith("spans"):
            self.span_listings += 1
        keys: list[str] = self.inner.list_keys(prefix)
        return keys

    def read_bytes(self, key: str) -> bytes:
        data: bytes = self.inner.read_bytes(key)
        self._count(key, data)
        return data

    def read_tail(self, key: str, size: int) -> Tail:
        tail: Tail = self.inner.read_tail(key, size)
        self._count(key, tail.data)
        return tail

    def read_rest(self, key: str, tail: Tail) -> bytes:
        data: bytes = self.inner.read_rest(key, tail)
        if not tail.whole:
            self._count(key, data[: len(data) - len(tail.data)])
        return data

    def _count(self, key: str, data: bytes) -> None:
        if key.startswith(files.ROLLUPS):
            self.rollup_bytes += len(data)
            self.rollup_reads += 1


def _two_targets(tmp_path: Path) -> Store:
    """A store of one day: three traces of (ACCOUNT, REGION), two of OTHER."""
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    persist_minutes(store, [4, 5], first=10, target=OTHER)
    return store


def _traces(merged: pl.DataFrame) -> int:
    held = rollup.sections(merged)
    return int(held["traces"])


def test_a_day_is_listed_once_while_it_is_rolled_up(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2])
    persist_minutes(store, [3], first=10)
    counting = Counting(store.backend)
    assert build(counting).built == [DAY]  # type: ignore[arg-type]
    assert counting.span_listings == 1  # NOTE: was 3 (days, the day again, the read)
    persist_minutes(store, [4], first=20)  # stale now
    counting.span_listings = 0
    merged = long_window(counting, _plan())  # type: ignore[arg-type]
    assert merged.from_spans_days == [DAY] and merged.held["traces"] == 4
    assert counting.span_listings == 1


def _plan() -> Any:
    return plan_windows(T0 - timedelta(days=9), T0 + timedelta(days=2), now=T0 + timedelta(days=2))


def test_currency_is_read_from_the_footer_alone(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, list(range(60)))
    build(store.backend)
    size = len(store.backend.read_bytes(files.rollup_key(DAY)))
    counting = Counting(store.backend)
    assert build(counting).current == [DAY]  # type: ignore[arg-type]
    assert counting.rollup_reads == 1
    assert counting.rollup_bytes <= files.FOOTER_READ
    # the footer, not the aggregates: the tail read stops at the footer's budget
    assert counting.rollup_bytes < size or size <= files.FOOTER_READ


def test_a_footer_longer_than_the_first_read_is_read_exactly(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1])
    computed = rollup.compute_day(store.backend, DAY)
    # a day of many parts: its recorded list outgrows the first tail read
    many = [f"spans/date={DAY}/bucket=00/part-{n:060d}.parquet" for n in range(400)]
    files.write_day(store.backend, DAY, computed.frame, many, [])
    counting = Counting(store.backend)
    footer = files.read_footer(counting, DAY)  # type: ignore[arg-type]
    assert isinstance(footer, files.RollupFooter)
    assert footer.span_parts == sorted(many) and footer.by_target
    assert counting.rollup_reads == 2
    assert counting.rollup_bytes > files.FOOTER_READ


def _persist_parts(store: Store) -> int:
    """Three small span parts of one day (a compaction merges them), rolled up: the rollup's
    size (a few KB)."""
    for n in range(3):
        persist_minutes(store, list(range(n * 20, n * 20 + 800, 3)), first=1 + n * 1000)
    assert build(store.backend).built == [DAY]
    return len(store.backend.read_bytes(files.rollup_key(DAY)))


def _compacted(store: Store, *, carried: bool) -> Counting:
    """A compaction of the day's parts through a counting backend (the rollup carried over
    when ``carried``, else stale)."""
    if not carried:
        persist_minutes(store, [7], first=9000)  # not rolled up: the rollup is stale
    counting = Counting(store.backend)
    assert compact(counting).written  # type: ignore[arg-type]
    return counting


def test_a_carried_over_rollup_is_read_once_and_a_stale_one_by_its_footer(
    tmp_path: Path,
) -> None:
    store = rollup_store(tmp_path)
    size = _persist_parts(store)
    assert size > files.FOOTER_READ
    before = read(store.backend, since=None, until=None)
    counting = _compacted(store, carried=True)
    # the footer's tail, then the bytes before it: every byte once (was the tail, then the
    # whole file again)
    assert (counting.rollup_reads, counting.rollup_bytes) == (2, size)
    after = read(store.backend, since=None, until=None)
    assert after.stale_days == [] and after.merged.equals(before.merged)
    stale = rollup_store(tmp_path / "stale")
    _persist_parts(stale)
    counting = _compacted(stale, carried=False)
    assert counting.rollup_reads == 1 and counting.rollup_bytes <= files.FOOTER_READ
    assert read(stale.backend, since=None, until=None).stale_days == [DAY]


def _replaced_between_reads(store: Store) -> None:
    key = files.rollup_key(DAY)
    tail = store.backend.read_tail(key, 64)
    assert not tail.whole and tail.size == len(store.backend.read_bytes(key))
    assert store.backend.read_rest(key, tail) == store.backend.read_bytes(key)
    store.backend.write_bytes(key, b"another writer's" + store.backend.read_bytes(key))
    with pytest.raises(ChangedKeyError):
        store.backend.read_rest(key, tail)
    whole = store.backend.read_tail(key, 10**9)
    assert whole.whole and store.backend.read_rest(key, whole) == whole.data


def test_the_rest_of_a_file_replaced_since_its_tail_was_read_is_refused(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2])
    build(store.backend)
    _replaced_between_reads(store)


def test_an_unreadable_rollup_is_a_problem_and_is_rebuilt(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1])
    build(store.backend)
    store.backend.write_bytes(files.rollup_key(DAY), b"not parquet")
    problem = files.read_footer(store.backend, DAY)
    assert isinstance(problem, files.StoreProblem) and "store rollup --force" in problem.reason
    store.backend.write_bytes(files.rollup_key(DAY), b"")
    assert isinstance(files.read_footer(store.backend, DAY), files.StoreProblem)
    assert build(store.backend).built == [DAY]
    assert files.read_footer(store.backend, DAY) is not None
    assert files.read_footer(store.backend, DAY + timedelta(days=1)) is None


def test_each_target_merges_its_own_rows(tmp_path: Path) -> None:
    store = _two_targets(tmp_path)
    assert build(store.backend).built == [DAY]
    stored = files.read_day(store.backend, DAY)
    assert isinstance(stored, files.StoredRollup) and stored.by_target and stored.every_target
    assert set(stored.frame.select(files.TARGET_COLUMNS).unique().rows()) == {
        (ACCOUNT, REGION),
        OTHER,
        (None, None),  # every target together
    }
    prod = read(store.backend, since=None, until=None, target=(ACCOUNT, REGION))
    staging = read(store.backend, since=None, until=None, target=OTHER)
    both = read(store.backend, since=None, until=None)
    assert _traces(prod.merged) == 3 and _traces(staging.merged) == 2
    assert _traces(both.merged) == 5
    assert prod.from_spans_days == staging.from_spans_days == both.from_spans_days == []
    # each target's rows are what its spans alone roll up to
    alone = rollup_store(tmp_path / "alone")
    persist_minutes(alone, [1, 2, 3])
    build(alone.backend)
    assert prod.merged.equals(read(alone.backend, since=None, until=None).merged)
    assert rollup.summary(prod)["rollups"]["target"] == {"account": ACCOUNT, "region": REGION}
    windowed = long_window(store.backend, _plan(), OTHER)
    assert windowed.held["traces"] == 2 and windowed.days == [DAY]
    assert {f["name"] for f in windowed.held["functions"]} == {"orders"}


def _write_unkeyed(store: Store, day: date) -> None:
    """A rollup as written before rollups were keyed by target (every target together), with
    every section (those added since are tests/store/test_rollup_sections.py's)."""
    computed = rollup.compute_day(store.backend, day)
    frame = partials.merge([rollup.of_target(computed.frame, None)], by_hour=True)
    metadata = {
        files.SPAN_PARTS_METADATA: computed.span_parts,
        files.SECTIONS_METADATA: partials.SECTIONS,
        files.LOG_PARTS_METADATA: computed.log_parts,
    }
    write_rollup_file(store, day, frame, metadata)


def test_a_rollup_written_before_the_target_key_is_read_for_the_store_and_rebuilt(
    tmp_path: Path,
) -> None:
    store = _two_targets(tmp_path)
    _write_unkeyed(store, DAY)
    footer = files.read_footer(store.backend, DAY)
    assert isinstance(footer, files.RollupFooter) and not footer.by_target
    # the whole store: read as it is (it holds every target, from the same parts)
    both = read(store.backend, since=None, until=None)
    assert both.days == [DAY] and both.from_spans_days == [] and _traces(both.merged) == 5
    # one target: rolled up from its spans, named stale
    prod = read(store.backend, since=None, until=None, target=(ACCOUNT, REGION))
    assert prod.stale_days == prod.from_spans_days == [DAY] and _traces(prod.merged) == 3
    # never current: `store rollup` (and a refresh of the day) rewrites it keyed
    assert refresh(store.backend, [DAY]).built == [DAY]
    assert read(store.backend, since=None, until=None, target=OTHER).days == [DAY]


def test_an_unkeyed_rollup_whose_spans_are_gone_is_named_not_counted_as_zero(
    tmp_path: Path,
) -> None:
    store = _two_targets(tmp_path)
    _write_unkeyed(store, DAY)
    for key in files.span_days(store.backend, DAY, DAY)[DAY]:  # retention took the spans
        store.backend.delete(key)
    # the whole store: the rollup is all that is left of the day, and holds every target
    assert _traces(read(store.backend, since=None, until=None).merged) == 5
    # one target: its rows cannot be told apart, so the day is left out and said so
    prod = read(store.backend, since=None, until=None, target=(ACCOUNT, REGION))
    assert prod.days == prod.from_spans_days == [] and _traces(prod.merged) == 0
    [problem] = prod.problems
    assert problem.location == store.backend.location(files.rollup_key(DAY))
    assert "cannot be told apart by target" in problem.reason


def test_the_engine_path_chooses_the_same_days_and_hours(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2])
    persist_minutes(store, [3], day=1, first=5, target=OTHER)
    engine = open_engine("local")
    try:
        first = build_on(engine, store.backend)
        assert first.built == [DAY, DAY + timedelta(days=1)] and first.current == []
        assert build(store.backend).current == first.built
        persist_minutes(store, [4], first=9)
        assert build_on(engine, store.backend).built == [DAY]
        since, until = T0 + timedelta(minutes=1, seconds=5), T0 + timedelta(days=1, minutes=59)
        got, failed = read_spans(engine, store.backend, since=since, until=until, target=OTHER)
    finally:
        engine.close()
    stored = read(store.backend, since=since, until=until, target=OTHER)
    assert failed == [] and (got.since, got.until) == (stored.since, stored.until)
    assert (stored.since, stored.until) == (
        T0 + timedelta(minutes=0),
        T0 + timedelta(days=1, hours=1),
    )
    assert got.merged.equals(stored.merged) and _traces(got.merged) == 1


@pytest.mark.integration
def test_currency_on_s3_is_a_ranged_read_of_the_footer(s3: Any) -> None:
    store = open_store(f"s3://{BUCKET}/team/keys", s3_client=s3, clock=Ticker())
    persist_minutes(store, list(range(60)))
    persist_minutes(store, [1, 2], first=100, target=OTHER)
    assert build(store.backend).built == [DAY]
    size = len(store.backend.read_bytes(files.rollup_key(DAY)))
    counting = Counting(store.backend)
    assert build(counting).current == [DAY]  # type: ignore[arg-type]
    assert counting.rollup_reads == 1 and counting.rollup_bytes <= min(size, files.FOOTER_READ)
    prod = read(store.backend, since=None, until=None, target=(ACCOUNT, REGION))
    assert _traces(prod.merged) == 60 and prod.days == [DAY]


@pytest.mark.integration
def test_a_carried_over_rollup_on_s3_is_read_once(s3: Any) -> None:
    store = open_store(f"s3://{BUCKET}/team/carry", s3_client=s3, clock=Ticker())
    size = _persist_parts(store)
    counting = _compacted(store, carried=True)
    assert (counting.rollup_reads, counting.rollup_bytes) == (2, size)
    assert read(store.backend, since=None, until=None).stale_days == []
    _replaced_between_reads(store)


def test_the_agent_report_of_each_target_merges_its_own_rollups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracelens.agent import reporting
    from tracelens.agent.targets_report import TargetResult

    store = _two_targets(tmp_path)
    build(store.backend)
    seen: list[TargetResult] = []
    windows: dict[Any, rollup.LongWindow] = {}

    def kept(
        backend: Backend, plan: Any, targets: Any, settings: Any = None
    ) -> dict[Any, rollup.LongWindow]:
        windows.update(rollup.long_windows(backend, plan, targets, settings))
        return dict(windows)

    monkeypatch.setattr(reporting, "long_windows", kept)
    reporting.write_store_report(
        store,
        tmp_path / "report.html",
        since=timedelta(days=10),
        now=T0 + timedelta(days=2),
        targets=[(ACCOUNT, REGION), OTHER],
        on_targets=seen.extend,
    )
    assert all(t.summary is not None for t in seen) and len(seen) == 2
    assert set(windows) == {(ACCOUNT, REGION), OTHER}
    traces = {target: w.held["traces"] for target, w in windows.items() if w is not None}
    assert traces == {(ACCOUNT, REGION): 3, OTHER: 2}
    assert all(w is not None and w.from_spans_days == [] for w in windows.values())


def test_several_targets_long_windows_read_the_rollups_once(tmp_path: Path) -> None:
    store = _two_targets(tmp_path)
    persist_minutes(store, [1], day=1)
    build(store.backend)
    persist_minutes(store, [6], first=20, target=OTHER, day=1)  # the second day is stale now
    one = Counting(store.backend)
    alone = long_window(one, _plan(), OTHER)  # type: ignore[arg-type]
    both = Counting(store.backend)

    each = rollup.long_windows(both, _plan(), [(ACCOUNT, REGION), OTHER])  # type: ignore[arg-type]

    # was a read of each rollup, and a roll-up of each stale day's spans, per target
    assert (both.rollup_reads, both.span_listings) == (one.rollup_reads, one.span_listings)
    assert both.span_listings == 1 and each[OTHER].from_spans_days == [DAY + timedelta(days=1)]
    assert each[OTHER].held == alone.held and each[OTHER].days == alone.days == [DAY]
    assert {t: w.held["traces"] for t, w in each.items()} == {(ACCOUNT, REGION): 4, OTHER: 3}


def _cross_account(tid: str, start: float) -> tuple[list[Any], list[Any]]:
    """A trace across two accounts: the caller's segments (its call to ``worker``) and the
    callee's, each collected by its own account."""
    caller = {
        "id": "1111111111111111",
        "trace_id": tid,
        "name": "api",
        "start_time": start,
        "end_time": start + 0.7,
        "origin": "AWS::Lambda::Function",
        "subsegments": [
            {
                "id": "2222222222222222",
                "name": "worker",
                "start_time": start + 0.05,
                "end_time": start + 0.65,
                "namespace": "aws",
                "aws": {"operation": "Invoke", "function_name": "worker"},
            }
        ],
    }
    callee = {
        "id": "3333333333333333",
        "trace_id": tid,
        "name": "worker",
        "parent_id": "2222222222222222",
        "start_time": start + 0.1,
        "end_time": start + 0.6,
        "origin": "AWS::Lambda::Function",
    }
    return [caller], [callee]


def test_a_trace_stored_by_two_targets_counts_once_for_the_whole_store(tmp_path: Path) -> None:
    store = rollup_store(tmp_path)
    tid = "1-" + f"{int((T0 + timedelta(minutes=1)).timestamp()):08x}" + "-" + "0" * 23 + "7"
    caller, callee = _cross_account(tid, (T0 + timedelta(minutes=1)).timestamp())
    store.persist(xray_result([(tid, caller)]), account=ACCOUNT, region=REGION)
    store.persist(xray_result([(tid, callee)]), account=OTHER[0], region=OTHER[1])
    persist_minutes(store, [2, 3], first=10, target=OTHER)  # and traces of one target
    location = str(tmp_path / "store")

    def edges(summary: dict[str, Any]) -> dict[tuple[str, ...], int]:
        return {(e["source"], e["target"]): e["calls"] for e in summary["service_map"]["edges"]}

    spans = orjson.loads(run_ok("analyze", "--store", location, "--json").stdout)
    assert spans["input"]["traces"] == 3 and ("api", "worker") in edges(spans)
    for built in (False, True):  # rolled up from the spans for the read, then stored
        if built:
            run_ok("store", "rollup", "--store", location)
        summary = orjson.loads(run_ok("store", "summary", "--store", location, "--json").stdout)
        assert summary["rollups"]["from_spans_days"] == ([] if built else [DAY.isoformat()])
        assert summary["input"]["traces"] == spans["input"]["traces"], built
        assert summary["input"]["segments"] == spans["input"]["segments"], built
        assert edges(summary) == edges(spans), built
        on_engine = run_ok("store", "summary", "--store", location, "--json", "--engine", "local")
        assert orjson.loads(on_engine.stdout)["service_map"] == summary["service_map"]
    # partitions of one target and of two (the trace's bucket), merged: the same day's rollup
    engine = open_engine("local")
    try:
        assert build_on(engine, store.backend, force=True, by_bucket=True).built == [DAY]
    finally:
        engine.close()
    stored = files.read_day(store.backend, DAY)
    assert isinstance(stored, files.StoredRollup) and stored.every_target
    order = list(stored.frame.columns)
    computed = rollup.compute_day(store.backend, DAY).frame
    assert stored.frame.sort(order, nulls_last=True).equals(
        computed.select(order).sort(order, nulls_last=True)
    )
    assert _traces(read(store.backend, since=None, until=None).merged) == 3
    # each target's rows are still its own segments
    assert _traces(read(store.backend, since=None, until=None, target=OTHER).merged) == 3
    assert (
        _traces(read(store.backend, since=None, until=None, target=(ACCOUNT, REGION)).merged) == 1
    )


def _write_before_every_target(store: Store, day: date) -> None:
    """A rollup keyed by target as written before it held the rows of every target together
    (every section; no such rows nor footer key)."""
    computed = rollup.compute_day(store.backend, day)
    frame = computed.frame.filter(pl.col(files.TARGET_COLUMNS[0]).is_not_null())
    metadata = {
        files.SPAN_PARTS_METADATA: computed.span_parts,
        files.KEYS_METADATA: files.TARGET_COLUMNS,
        files.SECTIONS_METADATA: partials.SECTIONS,
        files.LOG_PARTS_METADATA: computed.log_parts,
    }
    write_rollup_file(store, day, frame, metadata)


def test_a_rollup_without_every_target_together_is_read_per_target_and_rebuilt(
    tmp_path: Path,
) -> None:
    store = _two_targets(tmp_path)
    _write_before_every_target(store, DAY)
    footer = files.read_footer(store.backend, DAY)
    assert isinstance(footer, files.RollupFooter) and footer.by_target
    assert not footer.every_target and not footer.current(footer.span_parts or [], [])
    # one target: its rows as they are
    prod = read(store.backend, since=None, until=None, target=(ACCOUNT, REGION))
    assert prod.days == [DAY] and prod.from_spans_days == [] and _traces(prod.merged) == 3
    # the whole store: rolled up from the spans (named stale) while they are kept
    both = read(store.backend, since=None, until=None)
    assert both.stale_days == both.from_spans_days == [DAY] and _traces(both.merged) == 5
    assert refresh(store.backend, [DAY]).built == [DAY]
    assert read(store.backend, since=None, until=None).days == [DAY]


def test_a_rollup_of_one_target_without_every_target_together_is_read_as_it_is(
    tmp_path: Path,
) -> None:
    """Its target's rows are every target's: the whole store reads them (no roll-up of the
    spans), and `store rollup` rewrites it."""
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    _write_before_every_target(store, DAY)
    both = read(store.backend, since=None, until=None)
    assert both.days == [DAY] and both.from_spans_days == [] and both.problems == []
    assert _traces(both.merged) == 3
    assert build(store.backend).built == [DAY]


def test_a_rollup_without_every_target_together_whose_spans_are_gone_sums_its_targets(
    tmp_path: Path,
) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    persist_minutes(store, [4, 5], first=10, day=1)
    persist_minutes(store, [6], first=20, target=OTHER, day=1)
    for day in (DAY, DAY + timedelta(days=1)):
        _write_before_every_target(store, day)
        for key in files.span_days(store.backend, day, day)[day]:  # retention took the spans
            store.backend.delete(key)
    got = read(store.backend, since=None, until=None)
    assert got.days == [DAY, DAY + timedelta(days=1)] and got.from_spans_days == []
    assert _traces(got.merged) == 6
    # one target's rows are every target's: exact; two targets' summed, and said so
    [problem] = got.problems
    assert problem.location == store.backend.location(files.rollup_key(DAY + timedelta(days=1)))
    assert "counts once per target" in problem.reason
