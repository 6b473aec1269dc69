"""Rebuilding the normalized tables from the raw runs (after a normalizer fix, or a lost part).

A part is named by the digest of its raw run, so a rebuild rewrites the same files in place.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from tracelens.ingest.loader import paused_cycle_collection
from tracelens.ingest.rejections import RejectionLog
from tracelens.store import layout, manifests, raw, retention
from tracelens.store.backend import Backend
from tracelens.store.derive import derive
from tracelens.store.errors import CorruptFileError, MissingKeyError, StoreProblem
from tracelens.store.persisting import settle_days, write_parts
from tracelens.store.tables import DATE, TABLES, Table

SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "xray": ("spans", "trace_reads"),
    "spans": ("spans", "trace_reads"),
    "cloudwatch": ("metrics",),
    "logs": ("log_reports", "log_events"),
    "lambda": ("functions", "account_limits"),
    "import": tuple(table.name for table in TABLES),
}


@dataclass
class RebuildReport:
    """What a rebuild did.

    Attributes
    ----------
    raw_runs
        Raw runs read and normalized again.
    part_keys
        Parts written.
    deleted_keys
        Orphan parts deleted (only with ``delete_orphans``).
    problems
        Raw runs that could not be read (their existing parts are kept).
    rejections
        Records the normalizers refused.
    """

    raw_runs: int = 0
    part_keys: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)
    problems: list[StoreProblem] = field(default_factory=list)
    rejections: RejectionLog = field(default_factory=RejectionLog)


def _raw_keys(
    backend: Backend, sources: Collection[str] | None, digests: Collection[str] | None = None
) -> list[str]:
    keys = [key for key in backend.list_keys(layout.RAW) if layout.raw_digest(key)]
    if digests is not None:
        keys = [key for key in keys if layout.raw_digest(key) in digests]
    if sources is None:
        return keys
    return [key for key in keys if key.split("/")[1] in sources]


def rebuild(
    backend: Backend,
    *,
    sources: Collection[str] | None = None,
    delete_orphans: bool = False,
    digests: Collection[str] | None = None,
) -> RebuildReport:
    """Normalize every raw run of ``sources`` (default: all) again and rewrite its parts; rows
    dated before the retention cutoff (:mod:`tracelens.store.retention`) are not written.

    Parameters
    ----------
    digests
        Only the raw runs of these digests (the digest a part is named by).
    delete_orphans
        Also delete the parts of those sources' tables whose raw run no longer exists (parts
        of a raw run that cannot be read are always kept).
    """
    report = RebuildReport()
    unreadable: set[str] = set()
    kept_from = retention.cutoff(backend)
    for key in _raw_keys(backend, sources, digests):
        location = backend.location(key)
        try:
            run = raw.decode(backend.read_bytes(key), location)
        except MissingKeyError:
            continue
        except CorruptFileError as exc:
            report.problems.append(StoreProblem.of(exc))
            unreadable.add(layout.raw_digest(key) or "")
            continue
        with paused_cycle_collection():
            derived = settle_days(backend, derive(run, name=location))
        if kept_from is not None:
            derived.frames = since_day(derived.frames, kept_from)
        report.rejections.extend(derived.rejections)
        report.part_keys.extend(write_parts(backend, derived, layout.raw_digest(key) or ""))
        report.raw_runs += 1
    if delete_orphans:
        keep = set(report.part_keys)
        rebuilt = {layout.raw_digest(key) for key in _raw_keys(backend, sources, digests)}
        stored = {layout.raw_digest(key) for key in _raw_keys(backend, None)}
        for table in _tables_of(sources):
            for key in backend.list_keys(table.name):
                digest = layout.part_digest(key)
                if digest is None or key in keep or digest in unreadable:
                    continue
                merged = compacted_sources(backend, key)
                # NOTE: a compacted part is an orphan only when each run it merged was just
                # rewritten as parts of its own, or is gone (other sources' runs are kept).
                if any(s in unreadable or (s in stored and s not in rebuilt) for s in merged):
                    continue
                backend.delete(key)
                backend.delete(layout.manifest_key(key))
                report.deleted_keys.append(key)
    return report


def compacted_sources(backend: Backend, key: str) -> tuple[str, ...]:
    """The raw runs a compacted part merged (empty for a run's own part, or no manifest)."""
    try:
        data = backend.read_bytes(layout.manifest_key(key))
        return manifests.describe(data, backend.location(key)).sources
    except (MissingKeyError, CorruptFileError):
        return ()


def _tables_of(sources: Collection[str] | None) -> list[Table]:
    if sources is None:
        return list(TABLES)
    names = {name for source in sources for name in SOURCE_TABLES.get(source, ())}
    return [table for table in TABLES if table.name in names]


def since_day(frames: dict[str, pl.DataFrame], first: date) -> dict[str, pl.DataFrame]:
    """``frames`` without their rows dated before ``first`` (tables left empty are left out)."""
    kept = {name: frame.filter(pl.col(DATE) >= first) for name, frame in frames.items()}
    return {name: frame for name, frame in kept.items() if frame.height}
