"""Compaction of small parts, and the retention period.

Compaction merges the small parts of one partition directory (``<table>/date=D/`` or
``spans/date=D/bucket=NN/``) into one part, its rows de-duplicated as a read would
(:mod:`tracelens.store.dedupe`). The new part and its manifest are written first, then the
merged parts are deleted: a process that dies in between leaves rows twice, in two parts, which
readers keep once, and the next compaction merges them. A reader that listed a part compaction
has since deleted lists the partition again (:func:`tracelens.store.reading.load`), so it never
misses a row either.

A compacted part is named by a digest of the parts it merged (the same parts merge to the same
name) and its manifest names the raw runs its rows came from (``sources``), so a rebuild still
knows where they are.

Compaction rewrites a day's span and REPORT parts without changing its rows (as a read sees
them): a rollup computed from the parts merged (``tracelens.store.rollups``) is carried over,
recorded as computed from the parts that replace them; a rollup that was already stale stays
stale.

Retention deletes every file dated before a day: rollups, parts, their manifests, raw pages and
run records; checkpoints and leases are kept. The day is recorded (``retention.json``) so that
a rebuild brings none of those rows back.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from tracelens.store import layout, manifests, retention
from tracelens.store.backend import Backend
from tracelens.store.dedupe import latest_rows, unique_segments
from tracelens.store.errors import CorruptFileError, MissingKeyError, StoreProblem
from tracelens.store.parts import contiguous, parquet_bytes, read_part
from tracelens.store.rollups import ROLLUPS, carry_over, log_days, span_days
from tracelens.store.tables import LOG_REPORTS, PART, PART_TYPE, SPANS, TABLES, Table

SMALL_PART_BYTES = 32 * 1024 * 1024
"""Parts smaller than this are merged (Athena, Spark and DuckDB read best from parts of tens to
hundreds of MB; the agent writes one part per run, usually kilobytes)."""

DIGEST_CHARS = 24


@dataclass
class CompactReport:
    """What a compaction did.

    Attributes
    ----------
    written
        Parts written, one per partition directory compacted.
    removed
        Parts merged into them and deleted.
    rows_before, rows_after
        Rows of the merged parts, and of the parts written (fewer when copies were dropped).
    problems
        Parts that could not be read: left in place, not merged.
    """

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rows_before: int = 0
    rows_after: int = 0
    problems: list[StoreProblem] = field(default_factory=list)


def compact(
    backend: Backend,
    *,
    small_bytes: int = SMALL_PART_BYTES,
    tables: Iterable[Table] = TABLES,
) -> CompactReport:
    """Merge the parts under ``small_bytes`` of each partition directory holding two or more."""
    report = CompactReport()
    tables = tuple(tables)
    # NOTE: a rollup records the day's span and REPORT parts: both listed, whichever tables
    # are compacted (a part of the other is the same before and after)
    rolled_up = SPANS in tables or LOG_REPORTS in tables
    spans_before = span_days(backend, None, None) if rolled_up else {}
    logs_before = log_days(backend, None, None) if rolled_up else {}
    for table in tables:
        directories: dict[str, list[str]] = defaultdict(list)
        for key in backend.list_keys(table.name):
            if layout.part_digest(key) is not None:
                directories[layout.partition_of(key)].append(key)
        for directory in sorted(directories):
            _compact_directory(backend, table, directories[directory], small_bytes, report)
    if report.written and rolled_up:
        carry_over(
            backend,
            spans_before,
            span_days(backend, None, None),
            written=report.written,
            removed=report.removed,
            logs_before=logs_before,
            logs_after=log_days(backend, None, None),
        )
    return report


@dataclass
class _Small:
    key: str
    sources: list[str]


def _compact_directory(
    backend: Backend, table: Table, keys: list[str], small_bytes: int, report: CompactReport
) -> None:
    small: list[_Small] = []
    for key in sorted(keys):
        found = _small_part(backend, key, small_bytes, report)
        if found is not None:
            small.append(found)
    if len(small) < 2:
        return
    frames: list[pl.DataFrame] = []
    for number, part in enumerate(small):
        try:
            frame = read_part(backend, part.key, table)
        except MissingKeyError:
            return  # NOTE: another compaction got here first; its part holds these rows
        except CorruptFileError as exc:
            report.problems.append(StoreProblem.of(exc))
            return
        frames.append(frame.with_columns(pl.lit(number, dtype=PART_TYPE).alias(PART)))
    merged = contiguous(frames)
    rows_before = merged.height
    if table is SPANS:
        merged, _ = unique_segments(merged)
    else:
        merged = latest_rows(merged, table)
    merged = merged.drop(PART)
    digest = hashlib.sha256("\n".join(part.key for part in small).encode()).hexdigest()
    day = layout.key_date(small[0].key)
    if day is None:  # NOTE: listed parts always have a date partition
        return
    bucket = _bucket_of(small[0].key)
    key = layout.part_key(table.name, day, digest[:DIGEST_CHARS], bucket)
    data = parquet_bytes(merged.select(list(table.stored_schema)))
    sources = sorted({source for part in small for source in part.sources})
    backend.write_bytes(key, data)
    backend.write_bytes(layout.manifest_key(key), manifests.encode(key, data, sources=sources))
    for part in small:
        if part.key == key:
            continue
        backend.delete(part.key)
        backend.delete(layout.manifest_key(part.key))
        report.removed.append(part.key)
    report.written.append(key)
    report.rows_before += rows_before
    report.rows_after += merged.height


def _small_part(
    backend: Backend, key: str, small_bytes: int, report: CompactReport
) -> _Small | None:
    """``key`` when it is small and its manifest readable (a part without one counts)."""
    digest = layout.part_digest(key) or ""
    try:
        manifest = backend.read_bytes(layout.manifest_key(key))
    except MissingKeyError:
        manifest = None
    sources = [digest]
    if manifest is not None:
        try:
            described = manifests.describe(manifest, backend.location(key))
        except CorruptFileError as exc:
            report.problems.append(StoreProblem.of(exc))
            return None
        if described.size >= small_bytes:
            return None
        sources = list(described.sources) or [digest]
    if manifest is None:
        try:
            if len(backend.read_bytes(key)) >= small_bytes:
                return None
        except MissingKeyError:
            return None
    return _Small(key, sources)


def _bucket_of(key: str) -> int | None:
    for piece in key.split("/"):
        if piece.startswith("bucket="):
            return int(piece.removeprefix("bucket="))
    return None


@dataclass
class PruneReport:
    """What applying a retention period deleted (keys, by kind)."""

    before: date
    parts: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    rollups: list[str] = field(default_factory=list)

    @property
    def deleted(self) -> int:
        return len(self.parts) + len(self.raw) + len(self.other) + len(self.rollups)


def prune(backend: Backend, *, before: date) -> PruneReport:
    """Delete every rollup, part, manifest, raw run and run record dated before ``before``.

    Rollups go first (a rollup never outlives the spans it was computed from), then the parts,
    their manifests, then the raw pages: a process that dies midway leaves files the next prune
    deletes, never a part whose raw pages are gone while it stays.

    A raw run is dated by the latest day of the rows it holds, so it is deleted with the last
    of them; ``before`` is recorded first (:mod:`tracelens.store.retention`): a rebuild from a
    raw run kept for its newer rows writes none of the older ones again.
    """
    report = PruneReport(before=before)
    # NOTE: recorded first: a rebuild after a prune that died midway still honours it
    retention.record(backend, before)

    def old(prefix: str) -> list[str]:
        return [
            key
            for key in backend.list_keys(prefix)
            if (day := layout.key_date(key)) is not None and day < before
        ]

    # NOTE: the rollup file before its sources file (sorted keys: rollup.parquet first)
    for key in sorted(old(ROLLUPS)):
        backend.delete(key)
        report.rollups.append(key)
    for table in TABLES:
        for key in old(table.name):
            backend.delete(key)
            report.parts.append(key)
    for prefix, found in ((layout.MANIFESTS, report.other), (layout.RAW, report.raw)):
        for key in old(prefix):
            backend.delete(key)
            found.append(key)
    for key in old(layout.RUNS):
        backend.delete(key)
        report.other.append(key)
    return report
