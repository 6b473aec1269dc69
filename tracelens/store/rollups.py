"""Hourly rollups in the store: the files only (computing them is ``tracelens.rollup``'s).

::

    rollups/date=YYYY-MM-DD/rollup.parquet    the day's hourly partial aggregates

A day's rollup records, in its Parquet metadata (key ``tracelens.span_parts``), the span parts
it was computed from, and (key ``tracelens.log_parts``) the parts of Lambda REPORT records
(``log_reports/date=D``: a REPORT is dated by its own time) it counted, in the same file as the
aggregates (one write: two writers of one day never leave one's aggregates under the other's
parts). When the day's span or REPORT parts change afterwards (a late collection, logs collected
after the traces, a rebuild) the rollup is *stale*; one written before it recorded its REPORT
parts is never current. A compaction, which keeps the rows a read sees, records the parts that
replaced the merged ones (:func:`carry_over`).

Its rows are keyed by target: the ``account`` label and ``region`` of the spans they were
computed from (``TARGET_COLUMNS``; metadata ``tracelens.rollup_keys``). A rollup written before
that key holds every target together: it is never current (:func:`is_current`), so
``tracelens store rollup`` (and a collection's refresh of the days it wrote) rewrites it.

Beside each target's rows, a rollup of several targets holds the rows of every target
together: rolled up from all of the day's spans at once (a segment stored by two targets kept
once, as a read of the spans keeps it), keyed by a null ``account`` and ``region`` (a target's
never are null); of one target, its rows are every target's. The footer records it (metadata
``tracelens.rollup_every_target``). A trace stored by two targets (a call across accounts,
each collecting its side) is in each target's rows with that target's segments, and once in
these: the whole store's read takes them, never the sum of the targets'. A rollup written
before them is not current either (rewritten like the others); until then the whole store's
read takes one of a single target as it is (its rows are every target's), and rolls a day of
several up from its spans, or, when they are gone, sums its targets' rows as before (named).

Sections are added to rollups over time (``analyses.rollups.ADDED_SECTIONS``): a rollup records
the sections it holds (metadata ``tracelens.rollup_sections``). One that lacks a section (written
before it was added; no such key: every section but the added ones) is not current either, so
it is rewritten; until then a reader rolls its day up from the spans, or, when they are gone,
reads the sections it holds and names the day as lacking the others (never as none of them).

Whether a rollup is current is read from its Parquet footer alone (:func:`read_footer`: a
ranged read of the file's tail, a few KB), not the whole file; a rollup carried over reads the
rest of the file after that tail (every byte once).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import orjson
import polars as pl

from analyses.rollups import ADDED_SECTIONS, SECTIONS
from tracelens.store import layout, tables
from tracelens.store.backend import Backend, Tail, check_key
from tracelens.store.errors import MissingKeyError, StoreError, StoreProblem
from tracelens.store.parts import part_keys

ROLLUPS = "rollups"
_ROLLUP_FILE = "rollup.parquet"
SPAN_PARTS_METADATA = "tracelens.span_parts"
LOG_PARTS_METADATA = "tracelens.log_parts"
KEYS_METADATA = "tracelens.rollup_keys"
EVERY_TARGET_METADATA = "tracelens.rollup_every_target"
SECTIONS_METADATA = "tracelens.rollup_sections"
_FIRST_SECTIONS = tuple(s for s in SECTIONS if s not in ADDED_SECTIONS)
TARGET_COLUMNS = ("account", "region")
"""The columns keying a rollup's rows by target (beside ``analyses.rollups.ROLLUP_SCHEMA``'s)."""
FOOTER_READ = 8 * 1024
"""Bytes of a rollup's tail read for its footer (read again, exactly, when it is longer)."""
_MAGIC = b"PAR1"


def rollup_key(day: date) -> str:
    """The key of a day's rollup."""
    return check_key(f"{ROLLUPS}/date={day.isoformat()}/{_ROLLUP_FILE}")


def span_days(backend: Backend, first: date | None, last: date | None) -> dict[date, list[str]]:
    """The span parts of each day in ``[first, last]`` (open ends: every day), sorted."""
    days: dict[date, list[str]] = {}
    for key in part_keys(backend, tables.SPANS, first, last):
        day = layout.key_date(key)
        if day is not None:
            days.setdefault(day, []).append(key)
    return {day: sorted(keys) for day, keys in days.items()}


def log_days(backend: Backend, first: date | None, last: date | None) -> dict[date, list[str]]:
    """The parts of Lambda REPORT records (``log_reports``, dated by the REPORT's time) of each
    day in ``[first, last]`` (open ends: every day), sorted: what a rollup counts besides the
    spans."""
    days: dict[date, list[str]] = {}
    for key in part_keys(backend, tables.LOG_REPORTS, first, last):
        day = layout.key_date(key)
        if day is not None:
            days.setdefault(day, []).append(key)
    return {day: sorted(keys) for day, keys in days.items()}


def days_of_span_parts(keys: Iterable[str]) -> set[date]:
    """The days of the parts among ``keys`` a rollup is computed from: span parts and REPORT
    parts (other keys are passed over)."""
    prefixes = (tables.SPANS.name + "/", tables.LOG_REPORTS.name + "/")
    return {
        day
        for key in keys
        if key.startswith(prefixes)
        and layout.part_digest(key) is not None
        and (day := layout.key_date(key)) is not None
    }


@dataclass(frozen=True)
class RollupFooter:
    """What a rollup's footer records: the span parts it was computed from (None: not
    recorded), whether its rows are keyed by target (``TARGET_COLUMNS``), the sections it
    holds (``analyses.rollups.SECTIONS``; not recorded: every one but the added ones),
    whether it holds the rows of every target together (keyed by a null account and region;
    not recorded: it does not), and the REPORT parts it counted (None: not recorded)."""

    span_parts: list[str] | None
    by_target: bool
    sections: tuple[str, ...]
    every_target: bool
    log_parts: list[str] | None

    @property
    def lacking(self) -> tuple[str, ...]:
        """The sections this rollup does not hold (written before they were added)."""
        return tuple(s for s in SECTIONS if s not in self.sections)

    def current(self, span_parts: list[str], log_parts: list[str]) -> bool:
        """Whether the rollup was computed, keyed by target (with the rows of every target
        together) and with every section, from exactly ``span_parts`` and ``log_parts`` (the
        day's REPORT parts)."""
        return (
            self.by_target
            and self.every_target
            and not self.lacking
            and self.fresh(span_parts, log_parts)
        )

    def spans_gone(self, span_parts: list[str] | None) -> bool:
        """Whether the spans it was computed from are gone (``span_parts`` None: the day has
        none now, retention), so that it holds what no read of the store can compute again;
        a rollup of REPORTs alone (computed from no span part) is not such a one."""
        return span_parts is None and self.span_parts != []

    def fresh(self, span_parts: list[str] | None, log_parts: list[str]) -> bool:
        """Whether it was computed from the day's parts now (``span_parts`` None: the day has
        no span part); a rollup whose spans are gone is read as it is (:meth:`spans_gone`)."""
        if self.spans_gone(span_parts):
            return True
        return self.span_parts == (span_parts or []) and self.log_parts == log_parts


@dataclass(frozen=True)
class StoredRollup(RollupFooter):
    """A day's rollup as read: its frame (``TARGET_COLUMNS`` when ``by_target``) and footer."""

    frame: pl.DataFrame


def _encode(
    frame: pl.DataFrame,
    span_parts: list[str],
    log_parts: list[str],
    sections: tuple[str, ...] = SECTIONS,
) -> bytes:
    buffer = io.BytesIO()
    metadata = {
        SPAN_PARTS_METADATA: orjson.dumps(sorted(span_parts)).decode(),
        LOG_PARTS_METADATA: orjson.dumps(sorted(log_parts)).decode(),
        KEYS_METADATA: orjson.dumps(TARGET_COLUMNS).decode(),
        SECTIONS_METADATA: orjson.dumps(sections).decode(),
        EVERY_TARGET_METADATA: orjson.dumps(True).decode(),
    }
    frame.write_parquet(buffer, compression="zstd", metadata=metadata)
    return buffer.getvalue()


def _footer(metadata: dict[str, str]) -> RollupFooter:
    try:
        recorded = orjson.loads(metadata.get(SPAN_PARTS_METADATA, "null"))
        keys = orjson.loads(metadata.get(KEYS_METADATA, "null"))
        held = orjson.loads(metadata.get(SECTIONS_METADATA, "null"))
        every = orjson.loads(metadata.get(EVERY_TARGET_METADATA, "false"))
        logged = orjson.loads(metadata.get(LOG_PARTS_METADATA, "null"))
    except orjson.JSONDecodeError:
        return RollupFooter(
            None, by_target=False, sections=_FIRST_SECTIONS, every_target=False, log_parts=None
        )
    parts = sorted(str(p) for p in recorded) if isinstance(recorded, list) else None
    sections = tuple(str(s) for s in held) if isinstance(held, list) else _FIRST_SECTIONS
    by_target = keys == list(TARGET_COLUMNS)
    log_parts = sorted(str(p) for p in logged) if isinstance(logged, list) else None
    return RollupFooter(
        parts,
        by_target=by_target,
        sections=sections,
        every_target=by_target and every is True,
        log_parts=log_parts,
    )


def _unreadable(backend: Backend, key: str, exc: Exception) -> StoreProblem:
    reason = f"unreadable rollup ({exc}); run `tracelens store rollup --force` to rewrite it"
    return StoreProblem(location=backend.location(key), reason=reason)


def _metadata_length(tail: bytes) -> int:
    """The length of the Parquet metadata ending ``tail`` (the file's last bytes)."""
    if len(tail) < 12 or tail[-4:] != _MAGIC:
        raise ValueError("not a Parquet file: no footer")
    length: int = struct.unpack("<I", tail[-8:-4])[0]
    return length


def read_footer(backend: Backend, day: date) -> RollupFooter | StoreProblem | None:
    """A day's rollup footer, from the file's tail only (one ranged read of
    ``FOOTER_READ`` bytes, a second one when the footer is longer); a problem when it cannot
    be read; None when there is no rollup."""
    read = _read_footer(backend, day)
    return read[0] if isinstance(read, tuple) else read


def _read_footer(backend: Backend, day: date) -> tuple[RollupFooter, Tail] | StoreProblem | None:
    """:func:`read_footer`, with the tail it was read from (for :meth:`Backend.read_rest`)."""
    key = rollup_key(day)
    try:
        tail = backend.read_tail(key, FOOTER_READ)
        needed = _metadata_length(tail.data) + 8
        if needed > len(tail.data):
            tail = backend.read_tail(key, needed)
        # NOTE: the metadata and its length, behind a header's magic, read as a whole file
        metadata = pl.read_parquet_metadata(_MAGIC + tail.data[-needed:])
    except (FileNotFoundError, MissingKeyError):
        return None
    except (ValueError, OSError, pl.exceptions.PolarsError) as exc:
        return _unreadable(backend, key, exc)
    return _footer(metadata), tail


def write_day(
    backend: Backend,
    day: date,
    frame: pl.DataFrame,
    span_parts: list[str],
    log_parts: list[str],
    sections: tuple[str, ...] = SECTIONS,
) -> str:
    """Write a day's rollup (keyed by ``TARGET_COLUMNS``; of several targets, with the rows of
    every target together keyed by nulls) with the span and REPORT parts it came from and the
    sections it holds (default: every one; one file). Returns its key."""
    missing = [name for name in TARGET_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"a rollup's rows are keyed by target: {missing} missing")
    key = rollup_key(day)
    backend.write_bytes(key, _encode(frame, span_parts, log_parts, sections))
    return key


def read_day(backend: Backend, day: date) -> StoredRollup | StoreProblem | None:
    """A day's rollup; a problem when the file cannot be read; None when there is none."""
    key = rollup_key(day)
    try:
        data = backend.read_bytes(key)
    except (FileNotFoundError, MissingKeyError):
        return None
    try:
        footer = _footer(pl.read_parquet_metadata(data))
        return StoredRollup(
            footer.span_parts,
            footer.by_target,
            footer.sections,
            footer.every_target,
            footer.log_parts,
            frame=pl.read_parquet(data),
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        return _unreadable(backend, key, exc)


def is_current(backend: Backend, day: date, span_parts: list[str], log_parts: list[str]) -> bool:
    """Whether the day's rollup was computed, keyed by target, from exactly ``span_parts`` and
    ``log_parts``, with every section and the rows of every target together (read from its
    footer: :func:`read_footer`)."""
    footer = read_footer(backend, day)
    return isinstance(footer, RollupFooter) and footer.current(span_parts, log_parts)


def carry_over(
    backend: Backend,
    before: dict[date, list[str]],
    after: dict[date, list[str]],
    *,
    written: Iterable[str],
    removed: Iterable[str],
    logs_before: dict[date, list[str]] | None = None,
    logs_after: dict[date, list[str]] | None = None,
) -> list[date]:
    """After a compaction merged parts (``removed``) into new ones (``written``), record the
    rollups that were current (computed from the day's span parts in ``before`` and REPORT
    parts in ``logs_before``) as computed from the day's parts in ``after`` and
    ``logs_after`` (each None: as before): compaction keeps the rows a read sees. Returns the
    days carried over.

    A rollup that was stale before, or a day whose parts changed otherwise meanwhile (a part
    persisted during the compaction), stays stale.
    """
    new_parts, merged = set(written), set(removed)
    logs_before = {} if logs_before is None else logs_before
    logs_after = logs_before if logs_after is None else logs_after

    def compacted(old: list[str], new: list[str]) -> bool:
        return set(new) - set(old) <= new_parts and set(old) - set(new) <= merged

    carried = []
    for day in sorted(set(after) | set(logs_after)):
        old, parts = before.get(day, []), after.get(day, [])
        old_logs, logs = logs_before.get(day, []), logs_after.get(day, [])
        if (old, old_logs) == (parts, logs):
            continue
        if not (compacted(old, parts) and compacted(old_logs, logs)):
            continue
        frame = _current_frame(backend, day, old, old_logs)
        if frame is None:
            continue
        write_day(backend, day, frame, parts, logs)
        carried.append(day)
    return carried


def _current_frame(
    backend: Backend, day: date, span_parts: list[str], log_parts: list[str]
) -> pl.DataFrame | None:
    """The day's rollup frame when it is current for ``span_parts`` and ``log_parts`` (None
    when it is not, or cannot be read): the footer's tail is read first, the rest of the file
    only when current (each byte read once)."""
    read = _read_footer(backend, day)
    if not isinstance(read, tuple) or not read[0].current(span_parts, log_parts):
        return None
    try:
        return pl.read_parquet(backend.read_rest(rollup_key(day), read[1]))
    except (StoreError, OSError, pl.exceptions.PolarsError):
        # NOTE: replaced or removed meanwhile (ChangedKeyError, MissingKeyError) or unreadable:
        # left as it is
        return None


def rollup_days(backend: Backend, first: date | None, last: date | None) -> list[date]:
    """Days in ``[first, last]`` that have a rollup file, sorted."""
    found = set()
    for key in backend.list_keys(ROLLUPS):
        day = layout.key_date(key)
        if key.endswith("/" + _ROLLUP_FILE) and day and layout.within_days(key, first, last):
            found.add(day)
    return sorted(found)
