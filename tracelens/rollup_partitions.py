"""Rollups computed partition by partition on an engine (:mod:`tracelens.engines`).

The unit of work is one partition of the span table: a day's trace-id bucket
(``spans/date=YYYY-MM-DD/bucket=NN``), or a whole day when some of its parts were written
before buckets (they hold every bucket's traces). A trace lives in exactly one partition, so
the partitions' rollups merge (:func:`analyses.rollups.merge`) into the day's rollup, the same
as one pass over the day (:func:`tracelens.rollup.build`).

A worker gets the store's location and the partition (:class:`Task`), opens the store itself
(a local directory it can see, or S3 with its own credentials and endpoint, as
:func:`tracelens.store.open_store` makes them), reads the partition's span parts and returns
the partition's rollup: the spans never pass through the driver. The driver merges the rollups
of each day, then writes them (:func:`build`) or summarises them (:func:`read_spans`).

A day with a failed partition is neither written nor summarised (a part of its traces would be
missing); the failures are returned, each naming its partition.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from analyses import rollups as partials
from tracelens import rollup
from tracelens.engines import Engine, MapResult, PartitionFailure, Progress
from tracelens.rollup import BuildReport, RollupRead
from tracelens.store import open_store, reading
from tracelens.store import rollups as files
from tracelens.store.backend import Backend
from tracelens.store.errors import StoreProblem
from tracelens.store.layout import partition_of
from tracelens.store.tables import SPANS

_BUCKET_PREFIX = "bucket="


@dataclass(frozen=True, order=True)
class SpanPartition:
    """One day's trace-id bucket of the span table, or the whole day (``bucket`` None)."""

    day: date
    bucket: int | None = None

    @property
    def prefix(self) -> str:
        """The directory of its parts: ``spans/date=2026-11-20/bucket=03``, or
        ``spans/date=2026-11-20`` for a whole day (every part under it)."""
        day = f"{SPANS.name}/date={self.day.isoformat()}"
        return day if self.bucket is None else f"{day}/{_BUCKET_PREFIX}{self.bucket:02d}"

    @property
    def label(self) -> str:
        """The partition, in messages: its :attr:`prefix`."""
        return self.prefix


@dataclass(frozen=True)
class Task:
    """What a worker is sent: where the store is and which partition to roll up.

    NOTE: the worker lists its partition itself: a worker that cannot reach the store fails
    there, named, rather than skipping every part it was given as unreadable.

    ``logs``: the day's REPORT parts, given to one partition of the day (they are counted
    once); a REPORT naming no function is told it by that partition's traced executions."""

    store: str
    partition: SpanPartition
    logs: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartitionRollup:
    """A partition's rollup per target (``tracelens.rollup.STORED_SCHEMA``) and the parts it
    skipped."""

    frame: pl.DataFrame
    problems: list[StoreProblem]


def task_location(url: str) -> str:
    """The store's location as a worker names it: an absolute path for a local directory."""
    return url if url.startswith("s3://") else str(Path(url).expanduser().resolve())


def partitions_of(span_parts: list[str], day: date, *, by_bucket: bool) -> list[SpanPartition]:
    """A day's partitions: the whole day, or (``by_bucket``) one per bucket directory holding
    parts; the whole day anyway when a part lies outside bucket directories (written before
    buckets: it holds traces of every bucket)."""
    if not by_bucket:
        return [SpanPartition(day)]
    buckets: set[int] = set()
    for key in span_parts:
        name = partition_of(key).rsplit("/", 1)[-1]
        if not name.startswith(_BUCKET_PREFIX):
            return [SpanPartition(day)]
        buckets.add(int(name.removeprefix(_BUCKET_PREFIX)))
    return [SpanPartition(day, bucket) for bucket in sorted(buckets)]


_backends: dict[tuple[str | None, ...], Backend] = {}
_backends_lock = threading.Lock()
# NOTE: what a default session's S3 client depends on: a client made under other settings
# (this process running one command after another) is not reused
_CLIENT_ENV = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_ACCESS_KEY_ID")


def _backend(location: str) -> Backend:
    """The worker's backend of ``location``, made once per process and settings (an S3 client
    is costly to make)."""
    key = (location, *(os.environ.get(name) for name in _CLIENT_ENV))
    with _backends_lock:
        if key not in _backends:
            _backends[key] = open_store(location).backend
        return _backends[key]


def rollup_partition(task: Task) -> PartitionRollup:
    """The rollup of one partition's traces (every trace of its day's partition, whatever
    hours they start in, as :func:`tracelens.rollup.compute_day`'s) per target and of every
    target together (:func:`tracelens.rollup.rollup_stored`), read by the worker.

    Raises
    ------
    StoreError
        When the store cannot be listed from where this runs (unreadable parts are skipped and
        returned as problems instead).
    """
    backend = _backend(task.store)
    traces, problems = reading.load_traces(
        backend, reading.Scope(), prefix=task.partition.prefix, with_target=True
    )
    day = task.partition.day
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    logged = reading.Scope(since=start, until=start + timedelta(days=1))
    reports, unread = (
        reading.load_reports(backend, logged, keys=list(task.logs)) if task.logs else (None, [])
    )
    return PartitionRollup(rollup.rollup_stored(traces.spans, reports), [*problems, *unread])


@dataclass
class EngineBuildReport(BuildReport):
    """:class:`tracelens.rollup.BuildReport`, and the partitions that failed (their days were
    not written)."""

    failed: list[PartitionFailure[Task]] = field(default_factory=list)

    @property
    def failed_days(self) -> list[date]:
        return sorted({f.partition.partition.day for f in self.failed})


def _run(
    engine: Engine,
    store: str,
    days: dict[date, list[str]],
    by_bucket: bool,
    progress: Progress | None,
    logs: dict[date, list[str]] | None = None,
) -> tuple[dict[date, list[PartitionRollup]], list[PartitionFailure[Task]]]:
    """Every partition of ``days`` on ``engine`` (the day's REPORT parts in ``logs`` with its
    first: a day of REPORTs alone is one partition): the rollups of each day whose partitions
    all finished, and the failures."""
    location = task_location(store)
    logs = {} if logs is None else logs
    tasks = []
    for day in sorted(days):
        partitions = partitions_of(days[day], day, by_bucket=by_bucket) or [SpanPartition(day)]
        given = tuple(logs.get(day, ()))
        tasks += [Task(location, partitions[0], given)]
        tasks += [Task(location, partition) for partition in partitions[1:]]
    result: MapResult[Task, PartitionRollup] = engine.map(rollup_partition, tasks, progress)
    failed_days = {f.partition.partition.day for f in result.failed}
    done: dict[date, list[PartitionRollup]] = {day: [] for day in days if day not in failed_days}
    for task, rolled in result.done:
        if task.partition.day in done:
            done[task.partition.day].append(rolled)
    return done, result.failed


def build(
    engine: Engine,
    backend: Backend,
    *,
    first: date | None = None,
    last: date | None = None,
    force: bool = False,
    by_bucket: bool = False,
    progress: Progress | None = None,
) -> EngineBuildReport:
    """:func:`tracelens.rollup.build` with the partitions rolled up on ``engine``.

    Days whose rollup is current are skipped unless ``force``; a day with a failed partition is
    not written (its failures are in the report).
    """
    report = EngineBuildReport()
    todo, report.current = rollup.due_days(backend, first=first, last=last, force=force)
    logs = files.log_days(backend, first, last)
    done, report.failed = _run(engine, backend.url, todo, by_bucket, progress, logs)
    for day in sorted(done):
        rolled = done[day]
        report.problems.extend(p for r in rolled for p in r.problems)
        merged = rollup.merge_by_target([r.frame for r in rolled])
        files.write_day(backend, day, merged, todo[day], logs.get(day, []))
        report.built.append(day)
    return report


def read_spans(
    engine: Engine,
    backend: Backend,
    *,
    since: datetime | None,
    until: datetime | None,
    by_bucket: bool = False,
    progress: Progress | None = None,
    target: rollup.Target | None = None,
) -> tuple[RollupRead, list[PartitionFailure[Task]]]:
    """:func:`tracelens.rollup.read` computed from the spans on ``engine`` (nothing written):
    the partitions of the days in the window and of the day before it (its traces starting in
    the window's first hours: :func:`tracelens.rollup.merge_days`), rolled up and merged over
    its whole hours, of ``target`` (None: every target together).

    Days with a failed partition are in ``missing_days``, each failure in ``problems``; the day
    before the window is in ``days`` only when it holds traces of the window's hours.
    """
    window = rollup.hour_scope(since, until)
    before = None if window.first_day is None else window.first_day - timedelta(days=1)
    spans = files.span_days(backend, before, window.last_day)
    logs = files.log_days(backend, before, window.last_day)
    # NOTE: as rollup.build reads them: a day's REPORTs with its spans, a day of REPORTs alone
    days = {day: spans.get(day, []) for day in set(spans) | set(logs)}
    done, failed = _run(engine, backend.url, days, by_bucket, progress, logs)
    rows = {
        day: [window.within(rollup.of_target(r.frame, target), "hour") for r in done[day]]
        for day in sorted(done)
    }
    if before in rows and not any(frame.height for frame in rows[before]):
        del rows[before]  # NOTE: no trace of the window's hours
    frames = [frame for day in rows for frame in rows[day]]
    problems = [p for day in sorted(done) for r in done[day] for p in r.problems]
    problems += [
        StoreProblem(
            location=backend.location(f.partition.partition.label),
            reason=f"not computed: {f.describe()}",
        )
        for f in failed
    ]
    return (
        RollupRead(
            merged=partials.merge(frames),
            since=window.since,
            until=window.until,
            days=list(rows),
            missing_days=sorted({f.partition.partition.day for f in failed}),
            stale_days=[],
            problems=problems,
            target=target,
        ),
        failed,
    )
