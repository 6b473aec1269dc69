"""Hourly rollups: computed from the stored spans, stored beside them, merged for long windows.

The analyses compute the partial aggregates (:mod:`analyses.rollups`, pure); the store keeps
the files (:mod:`tracelens.store.rollups`); this module joins them. A summary from rollups says
which parts of the contract it holds (counts exact, percentiles within the sketch's relative
error) and which still need the spans (``analyses.rollups.SECTIONS_NEEDING_SPANS``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from analyses import rollups as partials
from analyses.finding_thresholds import FindingSettings, Thresholds
from analyses.findings import FINDING_SCHEMA
from analyses.rollup_findings import dns_table, rollup_findings, rules_lacking
from tracelens.contract import lacking_keys
from tracelens.store import reading, tables
from tracelens.store import rollups as files
from tracelens.store.backend import Backend
from tracelens.store.errors import StoreProblem
from tracelens.windowplan import WindowPlan, ceil_hour, floor_hour

Target = tuple[str, str]
"""A target's account label and region (``[[targets]]``), as the spans record them."""

TARGET_SCHEMA: dict[str, pl.DataType] = {name: pl.String() for name in files.TARGET_COLUMNS}
STORED_SCHEMA: dict[str, pl.DataType] = {**partials.ROLLUP_SCHEMA, **TARGET_SCHEMA}
"""A stored rollup's rows: ``analyses.rollups.ROLLUP_SCHEMA`` per account and region."""


def hour_scope(since: datetime | None, until: datetime | None) -> reading.Scope:
    """``[since, until)`` rounded out to whole hours: what a read of rollups covers."""
    return reading.Scope(
        since=None if since is None else floor_hour(since),
        until=None if until is None else ceil_hour(until),
    )


def due_days(
    backend: Backend,
    *,
    first: date | None = None,
    last: date | None = None,
    force: bool = False,
    days: Iterable[date] | None = None,
) -> tuple[dict[date, list[str]], list[date]]:
    """The days in ``[first, last]`` (only those in ``days`` when given) with span or REPORT
    parts whose rollup is not current (every one with ``force``), each with its span parts
    (listed once here, to be read as listed; none for a day of REPORTs alone), and the days
    whose rollup is current (read from its footer: computed, keyed by target, from the same
    span and REPORT parts)."""
    wanted = None if days is None else set(days)
    due: dict[date, list[str]] = {}
    current: list[date] = []
    spans = files.span_days(backend, first, last)
    logs = files.log_days(backend, first, last)
    for day in sorted(set(spans) | set(logs)):
        keys = spans.get(day, [])
        if wanted is not None and day not in wanted:
            continue
        if not force and files.is_current(backend, day, keys, logs.get(day, [])):
            current.append(day)
        else:
            due[day] = keys
    return due, current


def rollup_by_target(spans: pl.DataFrame, reports: pl.DataFrame | None = None) -> pl.DataFrame:
    """The rollup (``STORED_SCHEMA``) of ``spans`` (``SPAN_SCHEMA`` with the account and
    region columns, ``reading.load_traces(with_target=True)``), one per account and region:
    each target's rows are rolled up on their own (a trace stored by two targets, a call
    across accounts or regions, is in each with that target's segments); with each target's
    Lambda ``reports`` (``reading.load_reports``: ``REPORT_SCHEMA`` and those columns)."""
    columns = [tables.ACCOUNT, tables.REGION]
    if reports is None or reports.is_empty():
        return _each_target(spans, columns, partials.rollup)
    # NOTE: a target's REPORTs go with its spans (a REPORT naming no function is told its
    # function by that target's traced executions only, as a load of that target does)
    targets = pl.concat([spans.select(columns), reports.select(columns)]).unique(
        maintain_order=True
    )
    frames = []
    for account, region in targets.iter_rows():
        mine = pl.col(columns[0]).eq_missing(account) & pl.col(columns[1]).eq_missing(region)
        # NOTE: one target (the common case) is taken as it is: filtering copies every row
        own = (
            (spans, reports) if targets.height == 1 else (spans.filter(mine), reports.filter(mine))
        )
        rolled = partials.rollup(own[0].drop(columns), own[1].drop(columns))
        frames.append(
            rolled.with_columns(
                pl.lit(account, pl.String()).alias(files.TARGET_COLUMNS[0]),
                pl.lit(region, pl.String()).alias(files.TARGET_COLUMNS[1]),
            )
        )
    return _stored(frames)


def rollup_stored(spans: pl.DataFrame, reports: pl.DataFrame | None = None) -> pl.DataFrame:
    """What a stored rollup holds (``STORED_SCHEMA``) of ``spans`` and Lambda ``reports`` (as
    :func:`rollup_by_target`'s, one copy of each segment): each target's rows
    (:func:`rollup_by_target`), and, when they hold several targets, the rows of every target
    together, rolled up from all of ``spans`` and ``reports`` at once and keyed by a null
    account and region (a trace stored by two targets is in each target's rows, and once in
    these). Of one target, its rows are every target's (not stored twice): :func:`of_target`."""
    by_target = rollup_by_target(spans, reports)
    columns = [tables.ACCOUNT, tables.REGION]
    keyed = [spans.select(columns)] + ([] if reports is None else [reports.select(columns)])
    if pl.concat(keyed).n_unique() <= 1:
        return by_target
    together = partials.rollup(
        spans.drop(columns), None if reports is None else reports.drop(columns)
    )
    return _stored([by_target, together.with_columns(_UNKEYED)])


_UNKEYED = [pl.lit(None, pl.String()).alias(name) for name in files.TARGET_COLUMNS]
"""The key of the rows of every target together (a target's account and region are text)."""


def _together() -> pl.Expr:
    account, region = files.TARGET_COLUMNS
    return pl.col(account).is_null() & pl.col(region).is_null()


def merge_by_target(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Rollups of one day (``STORED_SCHEMA``, of partitions of its traces, each as
    :func:`rollup_stored` makes them) merged per target and hour
    (:func:`analyses.rollups.merge`), and the rows of every target together on their own (of
    a partition of one target, its rows), as :func:`rollup_stored` makes them of the day."""
    kept = [frame for frame in frames if frame.height]
    targets = {
        row for frame in kept for row in frame.select(files.TARGET_COLUMNS).unique().rows()
    } - {(None, None)}
    if len(targets) > 1:
        # NOTE: a partition of one target holds no rows of every target together: its own
        # rows are those rows
        kept = [
            frame
            if frame.select(_together().any()).item()
            else pl.concat([frame, frame.with_columns(_UNKEYED)])
            for frame in kept
        ]
    return _each_target(
        _stored(kept),
        list(files.TARGET_COLUMNS),
        lambda rows: partials.merge([rows], by_hour=True),
    )


def _each_target(
    rows: pl.DataFrame, columns: list[str], roll: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """``roll`` of each target's ``rows`` (told apart by ``columns``: account, region), each
    result keyed by its target (``STORED_SCHEMA``)."""
    targets = rows.select(columns).unique(maintain_order=True)
    # NOTE: one target (the common case) is taken as it is: partitioning copies every row.
    groups = (
        [(targets.row(0), rows)]
        if targets.height == 1
        else list(rows.partition_by(columns, as_dict=True, maintain_order=True).items())
    )
    return _stored(
        [
            roll(group.drop(columns)).with_columns(
                pl.lit(account, pl.String()).alias(files.TARGET_COLUMNS[0]),
                pl.lit(region, pl.String()).alias(files.TARGET_COLUMNS[1]),
            )
            for (account, region), group in groups
        ]
    )


def _stored(frames: list[pl.DataFrame]) -> pl.DataFrame:
    schema = pl.Schema(STORED_SCHEMA)
    kept = [f.select(list(STORED_SCHEMA)).cast(schema) for f in frames if f.height]
    return pl.concat(kept) if kept else pl.DataFrame(schema=STORED_SCHEMA)


def of_target(frame: pl.DataFrame, target: Target | None) -> pl.DataFrame:
    """A stored rollup's rows (``ROLLUP_SCHEMA``) of ``target``; of every target together
    when None (:func:`rollup_stored`: its rows keyed by a null account and region, or, when
    it holds one target, that target's; a rollup not keyed by target holds only them).

    NOTE: a rollup keyed by target written before it held the rows of every target together
    has none keyed by nulls: for None, every target's rows are taken (merged, they sum the
    targets': a trace stored by two of them counts once per target)."""
    account, region = files.TARGET_COLUMNS
    if target is not None:
        frame = frame.filter((pl.col(account) == target[0]) & (pl.col(region) == target[1]))
    elif account in frame.columns:
        together = frame.filter(_together())
        frame = together if together.height else frame
    return partials.conformed(frame)


@dataclass
class BuildReport:
    """What :func:`build` did: days computed, days already current, unreadable span parts."""

    built: list[date] = field(default_factory=list)
    current: list[date] = field(default_factory=list)
    problems: list[StoreProblem] = field(default_factory=list)


@dataclass(frozen=True)
class DayRollup:
    """One day's rollup, computed from its span parts (not yet written).

    Attributes
    ----------
    day
        The day: the date partition of its traces (:func:`compute_day`).
    frame
        ``STORED_SCHEMA``: the day's hourly partial aggregates per target, and of every
        target together (:func:`rollup_stored`).
    span_parts
        The span parts listed before reading: what the rollup records it was computed from.
    problems
        Span and REPORT parts that could not be read (their rows are not in ``frame``).
    log_parts
        The REPORT parts listed before reading (``log_reports`` of the day), recorded too.
    """

    day: date
    frame: pl.DataFrame
    span_parts: list[str]
    problems: list[StoreProblem]
    log_parts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BuiltDay:
    """What :func:`build_day` wrote: the rollup's key, its span parts, unreadable parts, its
    REPORT parts."""

    day: date
    key: str
    span_parts: list[str]
    problems: list[StoreProblem]
    log_parts: list[str] = field(default_factory=list)


def _day_scope(day: date) -> reading.Scope:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return reading.Scope(since=start, until=start + timedelta(days=1))


def compute_day(
    backend: Backend,
    day: date,
    span_parts: list[str] | None = None,
    log_parts: list[str] | None = None,
) -> DayRollup:
    """The rollup of the traces of ``day``'s date partition, whatever hours they start in, and
    of the Lambda REPORT records of its ``log_reports`` partition (timed that day, or without a
    time), per target and of every target together (:func:`rollup_stored`), as the store loads
    them (deduplicated, impossible times refused), from the span and REPORT parts only;
    nothing is written.

    A trace is in one partition: the day of the time in its id, which may be the day before
    its earliest stored span (:func:`tracelens.store.derive.trace_days`), so a partition's
    rollup may hold rows of the next day's first hours; a read of a window reads the rollup of
    the day before it too (:func:`merge_days`). Each stored trace is thus in one day's rollup,
    at the hour of its earliest stored span. A REPORT is at its own hour (one without a time
    at a null hour: read with its day only).

    ``span_parts``, ``log_parts``: the day's span and REPORT parts as already listed (else
    listed here); they are read as listed, so a part written during the read makes the rollup
    stale (its recorded parts differ from the day's), never current with rows missing.
    """
    if span_parts is None:
        span_parts = files.span_days(backend, day, day).get(day, [])
    if log_parts is None:
        log_parts = files.log_days(backend, day, day).get(day, [])
    traces, problems = reading.load_traces(
        backend, reading.Scope(), keys=span_parts, with_target=True, analysed_columns_only=True
    )
    reports, unread = (
        reading.load_reports(backend, _day_scope(day), keys=log_parts) if log_parts else (None, [])
    )
    frame = rollup_stored(traces.spans, reports)
    return DayRollup(day, frame, span_parts, [*problems, *unread], log_parts)


def build_day(
    backend: Backend,
    day: date,
    span_parts: list[str] | None = None,
    log_parts: list[str] | None = None,
) -> BuiltDay:
    """Compute ``day``'s rollup and write it with the span and REPORT parts it came from: the
    unit of work of :func:`build`, callable on its own (one day per worker)."""
    computed = compute_day(backend, day, span_parts, log_parts)
    key = files.write_day(backend, day, computed.frame, computed.span_parts, computed.log_parts)
    return BuiltDay(day, key, computed.span_parts, computed.problems, computed.log_parts)


def build(
    backend: Backend,
    *,
    first: date | None = None,
    last: date | None = None,
    force: bool = False,
    days: Iterable[date] | None = None,
) -> BuildReport:
    """Compute the rollups of the days in ``[first, last]`` (only those in ``days`` when given)
    that have span parts, skipping days whose rollup is current (computed from the same span
    parts) unless ``force`` (:func:`due_days`).

    A day's rollup holds the whole traces of its date partition (:func:`compute_day`).
    """
    report = BuildReport()
    due, report.current = due_days(backend, first=first, last=last, force=force, days=days)
    for day, keys in due.items():
        built = build_day(backend, day, keys)
        report.problems.extend(built.problems)
        report.built.append(day)
    return report


def refresh(backend: Backend, days: Iterable[date]) -> BuildReport:
    """Bring the rollups of ``days`` up to date (after their spans were written: a collection
    cycle, an import); days already current are left alone, days without spans skipped."""
    wanted = sorted(set(days))
    if not wanted:
        return BuildReport()
    return build(backend, first=wanted[0], last=wanted[-1], days=wanted)


@dataclass(frozen=True)
class MergedDays:
    """Rollups merged over a window of whole hours, for one target or every one.

    Attributes
    ----------
    hourly
        ``analyses.rollups.ROLLUP_SCHEMA`` per hour in the window (not merged across hours).
    scope
        The window covered: the one asked for rounded out to whole hours (:func:`hour_scope`).
    target
        The target whose rows these are; None: every target's.
    days
        Days whose stored rollup was current and merged (the day before the window among
        them when it holds traces of the window's first hours: :func:`merge_days`).
    from_spans_days
        Days rolled up from their spans for this read (their rollup was missing, stale or
        unreadable; nothing is written): still in the totals, and named.
    missing_days, stale_days
        Of those, the days without a rollup and the days whose rollup was stale (or, for one
        target, written before rollups were keyed by target; for every target, one of several
        targets written before rollups held their rows together; or written before a section was
        added, while the day's spans are kept).
    problems
        Rollup files (and span parts of the days rolled up here) that could not be read.
    lacking
        Per section (``analyses.rollups.ADDED_SECTIONS``), the days of :attr:`days` whose
        rollup was written before the section was added and whose spans are gone: merged for
        the sections they hold, and lacking this one (its figures cover the other days).
    """

    hourly: pl.DataFrame
    scope: reading.Scope
    target: Target | None
    days: list[date]
    from_spans_days: list[date]
    missing_days: list[date]
    stale_days: list[date]
    problems: list[StoreProblem]
    lacking: dict[str, list[date]] = field(default_factory=dict)

    @functools.cached_property
    def merged(self) -> pl.DataFrame:
        """:attr:`hourly` merged over the window (one row per key and bucket), once."""
        return partials.merge([self.hourly])


_UNKEYED_WITHOUT_SPANS = (
    "left out of one target's window: this rollup predates rollups kept per account and "
    "region, and the day's spans are gone (retention), so its rows cannot be told apart by "
    "target; the report of every target together (a store of one target) still reads it"
)
_SUMMED_WITHOUT_SPANS = (
    "read as the sum of its targets' rows: this rollup predates the rows of every target "
    "together, and the day's spans are gone (retention), so a trace stored by two of its "
    "targets (a call across accounts or regions) counts once per target in its traces and "
    "service map"
)


def merge_days(
    backend: Backend, *, since: datetime | None, until: datetime | None, target: Target | None
) -> MergedDays:
    """The rollups of ``target`` (every target: None) over the hours of ``[since, until)``
    rounded out to whole hours. A day whose rollup is missing, stale or unreadable is rolled
    up from its spans here (nothing is written) and named as such: what ``analyze/report
    --store`` (:func:`long_window`) and ``store summary`` (:func:`read`) both merge.

    The days read are the window's and the day before it: a day's rollup holds the traces of
    its date partition (:func:`compute_day`), which may start in the next day's first hours.
    Every row is kept to the window's hours; the day before is named (merged, rolled up from
    its spans, missing or stale) only when it holds a trace of them.

    Every target (None) is read from the rows of every target together (a trace stored by two
    targets counts once, as in the spans). A rollup not keyed by target (written before) is
    read for every target together (it holds them) and rolled up from the spans for one
    target; one keyed by target but without the rows of every target (written before) is read
    as it is for every target when it holds one target (its rows are theirs), else rolled up
    from the spans, or, its spans gone, its targets' rows summed (and named).
    """
    return merge_days_each(backend, since=since, until=until, targets=[target])[target]


def merge_days_each(
    backend: Backend,
    *,
    since: datetime | None,
    until: datetime | None,
    targets: Sequence[Target | None],
) -> dict[Target | None, MergedDays]:
    """:func:`merge_days` of each of ``targets`` (each a target, or one None: every target),
    from one read of each day's rollup (and one roll-up of a day's spans where it is missing
    or stale), not one per target."""
    assert len(targets) == 1 or None not in targets  # NOTE: None is every target, alone
    scope = hour_scope(since, until)
    # NOTE: a trace dated by its id may start the day after its partition (its first span
    # not stored): the day before the window holds the traces of its first hours.
    before = None if scope.first_day is None else scope.first_day - timedelta(days=1)
    spans = files.span_days(backend, before, scope.last_day)
    logs = files.log_days(backend, before, scope.last_day)
    stored = set(files.rollup_days(backend, before, scope.last_day))
    frames: dict[Target | None, list[pl.DataFrame]] = {target: [] for target in targets}
    named: dict[str, list[date]] = {kind: [] for kind in _DAY_KINDS}
    problems: list[StoreProblem] = []
    lacking: dict[str, list[date]] = {}
    for day in sorted(stored | set(spans) | set(logs)):
        parts = (spans.get(day), logs.get(day, []))
        got = _day_rows(backend, day, parts, day in stored, targets, scope, own=day != before)
        problems.extend(got.problems)
        if day == before and not got.holds:
            continue  # NOTE: no trace of the window's hours: not merged, not named
        for target, frame in got.rows.items():
            frames[target].append(frame)
        for kind in got.kinds:
            named[kind].append(day)
        for section in got.lacking:
            lacking.setdefault(section, []).append(day)
        location = backend.location(files.rollup_key(day))
        problems.extend(StoreProblem(location, note) for note in got.notes)
    merged: dict[Target | None, MergedDays] = {}
    for target in targets:
        hourly = frames.pop(target)
        merged[target] = MergedDays(
            hourly=pl.concat(hourly) if hourly else pl.DataFrame(schema=partials.ROLLUP_SCHEMA),
            scope=scope,
            target=target,
            days=list(named["days"]),
            from_spans_days=list(named["from_spans"]),
            missing_days=list(named["missing"]),
            stale_days=list(named["stale"]),
            problems=list(problems),
            lacking={section: list(days) for section, days in lacking.items()},
        )
    return merged


_DAY_KINDS = ("days", "from_spans", "missing", "stale")
"""What :class:`MergedDays` names a day: merged from its rollup, or rolled up from its spans
(its rollup missing, stale, or unreadable)."""


@dataclass(frozen=True)
class _DayRows:
    """One day's rows of each target, kept to the window's hours (none: left out), what it is
    named (``_DAY_KINDS``), the files that could not be read, the sections its rollup lacks,
    and what to say of its rollup when it holds traces of the window's hours."""

    rows: dict[Target | None, pl.DataFrame]
    kinds: tuple[str, ...]
    problems: list[StoreProblem]
    lacking: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    left_out: bool = False
    """Its rollup has rows of the window's hours that cannot be merged (:attr:`notes` say
    why)."""

    @property
    def holds(self) -> bool:
        """Whether the day holds traces of the window's hours (merged or left out)."""
        return self.left_out or any(frame.height for frame in self.rows.values())


def _day_rows(
    backend: Backend,
    day: date,
    parts: tuple[list[str] | None, list[str]],
    has_rollup: bool,
    targets: Sequence[Target | None],
    scope: reading.Scope,
    *,
    own: bool = True,
) -> _DayRows:
    """The rows of ``targets`` of ``day`` (:func:`merge_days`): its rollup's when current, else
    rolled up from its ``parts``: span parts (None: none, or its spans are gone) and REPORT
    parts. ``own``: a day of the window (the day before it is read for its traces of the
    window's hours only: rows without an hour, REPORTs without a time, are its own day's)."""
    span_parts, log_parts = parts

    def within(frame: pl.DataFrame) -> pl.DataFrame:
        kept = scope.within(frame, "hour")
        return kept if own else kept.filter(pl.col("hour").is_not_null())

    got = files.read_day(backend, day) if has_rollup else None
    problems: list[StoreProblem] = []
    kinds: tuple[str, ...] = ("from_spans", "missing")
    if isinstance(got, StoreProblem):
        problems.append(got)
        kinds = ("from_spans",)
    elif got is not None:
        kept = not got.spans_gone(span_parts)
        fresh = got.fresh(span_parts, log_parts)
        # NOTE: a rollup lacking a section added since is rolled up again from its
        # spans; without them it is merged for what it holds and named as lacking.
        whole = not got.lacking or not kept
        whole_store = list(targets) == [None]
        # NOTE: a rollup not keyed by target holds the rows of every target together; so does
        # one of a single target written before such rows were kept (its rows are theirs)
        every = (
            got.every_target
            or not got.by_target
            or (whole_store and got.frame.select(files.TARGET_COLUMNS).n_unique() <= 1)
        )
        if fresh and whole and ((every or not kept) if whole_store else got.by_target):
            return _DayRows(
                rows={t: within(of_target(got.frame, t)) for t in targets},
                kinds=("days",),
                problems=problems,
                lacking=got.lacking,
                notes=(_SUMMED_WITHOUT_SPANS,) if whole_store and not every else (),
            )
        if not kept:
            # NOTE: written before rollups were keyed by target, and its spans are gone:
            # its rows cannot be told apart by target, and rolling up no spans is not 0.
            held = within(of_target(got.frame, None))
            return _DayRows(
                rows={},
                kinds=(),
                problems=problems,
                notes=(_UNKEYED_WITHOUT_SPANS,),
                left_out=held.height > 0,
            )
        kinds = ("from_spans", "stale")
    computed = compute_day(backend, day, span_parts or [], log_parts)
    return _DayRows(
        rows={t: within(of_target(computed.frame, t)) for t in targets},
        kinds=kinds,
        problems=[*problems, *computed.problems],
    )


ADDED_SECTION_NAMES = {
    "entry": "entry points",
    "node": "service-map nodes",
    # NOTE: one name for the sections of findings' evidence (their rules are named apart:
    # LongWindow.findings_left_out)
    **{section: "the evidence of findings" for section in partials.EVIDENCE_SECTIONS},
}
"""What a user calls each section added to rollups (``analyses.rollups.ADDED_SECTIONS``)."""
SUMMARY_KEYS = {"entry": "entry_points", "node": "service_map.nodes"}
"""The key of each added section in a summary from rollups (``summary``); a summary holds no
findings, so the sections of their evidence are not named there."""


def lacking_note(lacking: Mapping[str, list[date]]) -> str | None:
    """What to tell a user whose window holds rollups written before a section was added
    (the command line's note and the report's header say the same)."""
    if not lacking:
        return None
    # NOTE: sections lacking on the same days (added together) are named together.
    together: dict[tuple[date, ...], list[str]] = {}
    for section in ADDED_SECTION_NAMES:
        if section in lacking:
            together.setdefault(tuple(lacking[section]), []).append(section)
    named = "; ".join(
        f"{', '.join(dict.fromkeys(ADDED_SECTION_NAMES[s] for s in sections))}: {len(days)} "
        f"day(s) from "
        f"{days[0].isoformat()} to {days[-1].isoformat()}"
        for days, sections in together.items()
    )
    return (
        f"rollups written before they held these sections, whose spans are gone, are left out "
        f"of them (not counted as zero): {named}"
    )


def from_spans_note(days: list[date]) -> str | None:
    """What to tell a user whose rollups were (partly) rolled up from the spans for a run."""
    if not days:
        return None
    listed = ", ".join(d.isoformat() for d in days[:5])
    more = len(days) - 5
    return (
        f"{len(days)} day(s) rolled up from their spans for this run (rollup missing or stale: "
        f"{listed}{f' and {more} more' if more > 0 else ''}); `tracelens store rollup` keeps them"
    )


@dataclass(frozen=True)
class RollupRead:
    """Rollups merged over a window of whole hours (``store summary``).

    Attributes
    ----------
    merged
        ``analyses.rollups.ROLLUP_SCHEMA`` merged over the window (one row per key and bucket).
    since, until
        The window covered: the one asked for rounded out to whole hours.
    target
        The target whose rows these are; None: every target's.
    days
        Days whose stored rollup was current and read.
    from_spans_days
        Days rolled up from their spans for this read (rollup missing, stale or unreadable):
        in ``merged`` all the same, and named.
    missing_days
        Days with span parts but no rollup (rolled up from their spans).
    stale_days
        Days whose span parts changed after their rollup was computed (rolled up from their
        spans).
    problems
        Rollup files and span parts that could not be read.
    """

    merged: pl.DataFrame
    since: datetime | None
    until: datetime | None
    days: list[date]
    missing_days: list[date]
    stale_days: list[date]
    problems: list[StoreProblem]
    from_spans_days: list[date] = field(default_factory=list)
    target: Target | None = None
    lacking: dict[str, list[date]] = field(default_factory=dict)


def read(
    backend: Backend,
    *,
    since: datetime | None,
    until: datetime | None,
    target: Target | None = None,
) -> RollupRead:
    """The rollups of the hours in ``[since, until)`` (rounded out to whole hours), merged, of
    ``target`` (None: every target); days whose rollup is missing, stale or unreadable are
    rolled up from their spans (:func:`merge_days`)."""
    got = merge_days(backend, since=since, until=until, target=target)
    return RollupRead(
        merged=got.merged,
        since=got.scope.since,
        until=got.scope.until,
        days=got.days,
        missing_days=got.missing_days,
        stale_days=got.stale_days,
        problems=got.problems,
        from_spans_days=got.from_spans_days,
        target=target,
        lacking=got.lacking,
    )


@dataclass(frozen=True)
class LongWindow:
    """The sections rollups hold, merged over a long window (``plan.rollup_since`` to
    ``plan.rollup_until``).

    Attributes
    ----------
    plan
        The windows, and why rollups answer.
    held
        :func:`sections` of the merged rollups (the contract's shapes).
    daily
        ``analyses.rollups.daily_totals``: per day, traces, segments, invocations, errors,
        faults and cold starts.
    days
        Days whose stored rollup was current and merged.
    from_spans_days
        Days rolled up from their spans for this analysis (their rollup was missing, stale or
        unreadable): still in the totals, and named.
    missing_days, stale_days
        Of those, the days without a rollup and the days whose rollup was stale.
    unreadable
        Rollup files (and span parts of the days rolled up here) that could not be read.
    edge_fault_rates
        ``analyses.rollups.edge_fault_rates``: per edge of ``held``, its faults / calls.
    target
        The target whose rows were merged (None: every target's).
    lacking
        :attr:`MergedDays.lacking`: days merged without a section added since (its figures
        cover the other days).
    findings
        ``analyses.findings.FINDING_SCHEMA``: the findings over the whole window of every rule
        the rollups hold the evidence of (``analyses.rollup_findings``), without example
        traces.
    findings_left_out
        Finding kinds not evaluated over the window because some merged day's rollup lacks a
        section their rule reads (``analyses.rollup_findings.rules_lacking``).
    """

    plan: WindowPlan
    held: dict[str, Any]
    daily: pl.DataFrame
    days: list[date]
    from_spans_days: list[date]
    missing_days: list[date]
    stale_days: list[date]
    unreadable: list[str]
    target: Target | None = None
    edge_fault_rates: dict[tuple[str | None, ...], float | None] = field(default_factory=dict)
    lacking: dict[str, list[date]] = field(default_factory=dict)
    findings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FINDING_SCHEMA))
    findings_left_out: list[str] = field(default_factory=list)


def long_window(
    backend: Backend,
    plan: WindowPlan,
    target: Target | None = None,
    settings: FindingSettings | None = None,
) -> LongWindow:
    """Merge the rollups of ``plan``'s rollup window, of ``target`` (None: every target). A
    day whose rollup is missing, stale or unreadable is rolled up from its spans here (nothing
    is written) and named as such (:func:`merge_days`). ``settings``: the findings' thresholds
    and silenced keys (default: the defaults), for the findings rollups can tell."""
    got = merge_days(backend, since=plan.rollup_since, until=plan.rollup_until, target=target)
    return _long_window(got, plan, settings)


def long_windows(
    backend: Backend,
    plan: WindowPlan,
    targets: Sequence[Target | None],
    settings: FindingSettings | None = None,
) -> dict[Target | None, LongWindow]:
    """:func:`long_window` of each of ``targets``, from one read of the rollups
    (:func:`merge_days_each`)."""
    each = merge_days_each(
        backend, since=plan.rollup_since, until=plan.rollup_until, targets=targets
    )
    return {target: _long_window(each.pop(target), plan, settings) for target in targets}


def _long_window(got: MergedDays, plan: WindowPlan, settings: FindingSettings | None) -> LongWindow:
    settings = settings if settings is not None else FindingSettings()
    return LongWindow(
        plan=plan,
        held=sections(got.merged),
        daily=partials.daily_totals(got.hourly),
        days=got.days,
        from_spans_days=got.from_spans_days,
        missing_days=got.missing_days,
        stale_days=got.stale_days,
        unreadable=[problem.describe() for problem in got.problems],
        target=got.target,
        edge_fault_rates=partials.edge_fault_rates(got.merged),
        lacking=got.lacking,
        findings=rollup_findings(
            got.merged,
            lacking=got.lacking,
            thresholds=sketched_thresholds(settings.thresholds),
            silence=settings.silence,
        ),
        findings_left_out=rules_lacking(got.lacking),
    )


def sketched_thresholds(thresholds: Thresholds) -> Thresholds:
    """``thresholds`` for percentiles from the sketch: a percentile threshold raised by the
    sketch's relative accuracy, so that a finding from rollups holds of the order statistic
    itself (the sketch may read up to 1% above it: a p95 just under the threshold warns
    from the spans' answer only)."""
    raised = 1 + partials.RELATIVE_ACCURACY
    return dataclasses.replace(
        thresholds,
        **{name: getattr(thresholds, name) * raised for name in SKETCHED_THRESHOLDS},
    )


SKETCHED_THRESHOLDS = (
    "event_age_p95_warning_ms",
    "init_p95_warning_ms",
    "init_p95_critical_ms",
    "dns_p95_warning_ms",
)
"""The thresholds of findings' rules compared with a percentile (from a sketch over rollups)."""


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _percentiles(row: dict[str, Any] | None) -> dict[str, float | None]:
    return {name: (row or {}).get(f"{name}_ms") for name in partials.PERCENTILES}


def _dns(merged: pl.DataFrame) -> list[dict[str, Any]]:
    """``long_window.dns`` from ``analyses.rollup_findings.dns_table`` (most lookup time
    first)."""
    return [
        {
            "function": row["function_name"],
            "service": row["service"],
            "host": row["host"],
            "lookups": row["lookups"],
            "latency_ms": {"p50": row["p50_ms"], "p95": row["p95_ms"], "max": row["max_ms"]},
            "failures": row["failures"],
            "invocation_share": row["invocation_share"],
            "cold": {"lookups": row["cold_lookups"], "p50_ms": row["cold_p50_ms"]},
            "warm": {"lookups": row["warm_lookups"], "p50_ms": row["warm_p50_ms"]},
        }
        for row in dns_table(merged).iter_rows(named=True)
    ]


def _ms(micros: int | None) -> float | None:
    return None if micros is None else micros / 1000


def _by_key(frame: pl.DataFrame, keys: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[k] for k in keys): row for row in frame.iter_rows(named=True)}


def summary(read_result: RollupRead) -> dict[str, Any]:
    """The contract's keys that rollups hold, in the contract's shapes, and what they lack."""
    held = sections(read_result.merged)
    return {
        "schema_version": 1,
        "source": "rollups",
        "rollups": {
            "relative_accuracy": partials.RELATIVE_ACCURACY,
            "percentiles": PERCENTILE_RULE,
            "days": [d.isoformat() for d in read_result.days],
            "missing_days": [d.isoformat() for d in read_result.missing_days],
            "stale_days": [d.isoformat() for d in read_result.stale_days],
            "from_spans_days": [d.isoformat() for d in read_result.from_spans_days],
            "target": (
                None
                if read_result.target is None
                else {"account": read_result.target[0], "region": read_result.target[1]}
            ),
            "unreadable": [p.describe() for p in read_result.problems],
            "lacking": lacking_keys(
                {k: v for k, v in read_result.lacking.items() if k in SUMMARY_KEYS}, SUMMARY_KEYS
            ),
            "from_rollups": list(partials.SECTIONS_FROM_ROLLUPS),
            "needs_spans": list(partials.SECTIONS_NEEDING_SPANS),
        },
        "input": {
            "segments": held["segments"],
            "traces": held["traces"],
            "window": {"since": _iso(read_result.since), "until": _iso(read_result.until)},
        },
        "entry_points": held["entry_points"],
        "functions": held["functions"],
        "service_map": {"nodes": held["nodes"], "edges": held["edges"]},
        "dns": held["dns"],
        "bottlenecks": held["bottlenecks"],
        "async_invocations": held["async_invocations"],
    }


PERCENTILE_RULE = (
    "DDSketch: within relative_accuracy of the order statistic at rank floor(q * (n - 1)); "
    "counts are exact; max to the microsecond"
)


_ENTRY_FIELDS = (
    *("requests", "errors", "faults", "throttled", "failed"),
    *("error_rate", "fault_rate", "throttle_rate"),
)
_ENTRY_COLD = ("in_progress", "cold_start_requests", "cold_start_share")


def _entry_points(merged: pl.DataFrame) -> list[dict[str, Any]]:
    """``entry_points[]`` without their example traces, in the order of
    ``analyses.entry_points`` (``analyses.rollups.entry_points_from_rollups``)."""
    return [
        {
            "entry": row["entry"],
            "type": row["entry_type"],
            **{name: row[name] for name in _ENTRY_FIELDS},
            "latency_ms": _percentiles(row),
            **{name: row[name] for name in _ENTRY_COLD},
        }
        for row in partials.entry_points_from_rollups(merged).iter_rows(named=True)
    ]


def _nodes(merged: pl.DataFrame) -> list[dict[str, Any]]:
    """``service_map.nodes[]``: a count of the Lambda service in front of a function is null
    when no ``AWS::Lambda`` segment of it was recorded, as from the spans."""
    keys = ["source", "source_type"]
    service = _by_key(partials.quantiles(merged, "node", "service_ms"), keys)
    rows = []
    for row in partials.counts(merged, "node").iter_rows(named=True):
        fronted = row["service_requests"] > 0
        own = _percentiles(service.get((row["source"], row["source_type"])))
        rows.append(
            {
                "name": row["source"],
                "type": row["source_type"],
                **{m: row[m] for m in ("requests", "errors", "faults", "throttles")},
                "service_requests": row["service_requests"] if fronted else None,
                "service_throttles": row["service_throttles"] if fronted else None,
                "service_p50_ms": own["p50"],
                "service_p95_ms": own["p95"],
                "failed": row["failed"],
            }
        )
    rows.sort(key=lambda r: (str(r["type"]), str(r["name"])))
    return rows


def sections(merged: pl.DataFrame) -> dict[str, Any]:
    """What merged rollups hold, in the contract's shapes: ``traces``, ``segments``,
    ``entry_points`` (without example traces), ``functions``, ``edges``, ``nodes``, ``dns``,
    ``bottlenecks`` (without ``slow_share``) and ``async_invocations``."""
    edge_keys = ["source", "source_type", "target", "target_type"]
    totals = partials.counts(merged, "input")
    total = totals.row(0, named=True) if totals.height else {"segments": 0, "traces": 0}
    durations = _by_key(partials.quantiles(merged, "function", "duration_ms"), ["source"])
    inits = _by_key(
        partials.quantiles(merged, "function", "init_ms", capped_by="init_max_us"), ["source"]
    )
    functions = [
        {
            "name": row["source"],
            **{m: row[m] for m in partials.FUNCTION_COUNTS},
            "duration_ms": _percentiles(durations.get((row["source"],))),
            # user-facing inits seen in traces (REPORT inits are not rolled up)
            "init_ms": _percentiles(inits.get((row["source"],))) | {"max": _ms(row["init_max_us"])},
        }
        for row in partials.counts(merged, "function").iter_rows(named=True)
    ]
    functions.sort(key=lambda f: (-f["invocations"], f["name"]))
    edge_quantiles = _by_key(partials.quantiles(merged, "edge"), edge_keys)
    edges = [
        {
            **{k: row[k] for k in edge_keys},
            **{m: row[m] for m in partials.EDGE_COUNTS},
            "latency_ms": _percentiles(edge_quantiles.get(tuple(row[k] for k in edge_keys))),
        }
        for row in partials.counts(merged, "edge").iter_rows(named=True)
    ]
    ages = _by_key(
        partials.quantiles(merged, "async", "event_age_ms", capped_by="event_age_max_us"),
        ["source"],
    )
    queued = [
        {
            "function": row["source"],
            **{m: row[m] for m in partials.ASYNC_COUNTS},
            "max_attempt": row["max_attempt"],
            "event_age_ms": _percentiles(ages.get((row["source"],)))
            | {"max": _ms(row["event_age_max_us"])},
        }
        for row in partials.counts(merged, "async").iter_rows(named=True)
    ]
    path = partials.counts(merged, "critical_path")
    shares = path.with_columns(
        (pl.col("path_us") / pl.col("path_us").sum().over("source")).alias("share")
    ).sort(["source", "share", "target"], descending=[False, True, False], nulls_last=False)
    bottlenecks = [
        {
            "entry": row["source"],
            "node": row["target"],
            "node_type": row["target_type"],
            "node_kind": row["source_type"],
            "critical_path_share": row["share"],
            "traces": row["traces"],
        }
        for row in shares.iter_rows(named=True)
    ]
    return {
        "traces": total["traces"],
        "segments": total["segments"],
        "entry_points": _entry_points(merged),
        "functions": functions,
        "edges": edges,
        "nodes": _nodes(merged),
        "dns": _dns(merged),
        "bottlenecks": bottlenecks,
        "async_invocations": sorted(queued, key=lambda row: str(row["function"])),
    }
