"""Writing one run: its raw object first, then its Parquet parts (all content-addressed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, timedelta

import polars as pl

from tracelens.ingest.loader import paused_cycle_collection
from tracelens.ingest.rejections import RejectionLog
from tracelens.store import layout, manifests, raw
from tracelens.store.backend import Backend
from tracelens.store.derive import Derived, derive
from tracelens.store.errors import StoreError
from tracelens.store.parts import part_files, read_part
from tracelens.store.tables import DATE, SPANS, TABLES_BY_NAME


@dataclass(frozen=True)
class Written:
    """What storing one run wrote."""

    raw_key: str | None
    part_keys: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)
    rejections: RejectionLog = field(default_factory=RejectionLog)


def write_run(backend: Backend, run: raw.RawRun) -> Written:
    """Store ``run``; a run without pages writes nothing.

    The raw object is dated by the latest day of the rows it holds (:func:`latest_day`): a
    retention period deletes it with the last of them, never before.

    The raw object is compressed on a thread while the pages are normalized (zlib works
    without the GIL), with Python's cycle collector paused: normalizing makes millions of
    small objects and no cycles, and every collection would walk the parsed pages again.

    NOTE: raw first: if normalizing fails or the process dies before the parts are written,
    the raw object is there for :func:`tracelens.store.rebuilding.rebuild`, and the checkpoint
    has not moved, so the window is collected and stored again.
    """
    if not run.pages:
        return Written(raw_key=None)
    with paused_cycle_collection(), ThreadPoolExecutor(1, "store-gzip") as pool:
        encoded = raw.encode(run, pool)
        key = layout.raw_key(run.source, run.reference_time.astimezone(UTC).date(), encoded.digest)
        try:
            derived = settle_days(backend, derive(run, name=backend.location(key)))
        except BaseException:  # NOTE: the raw object even when normalizing fails (see above)
            backend.write_bytes(key, encoded.data())
            raise
        latest = latest_day(derived)
        if latest is not None:
            dated = layout.raw_key(run.source, latest, encoded.digest)
            derived.rejections = _renamed(
                derived.rejections, backend.location(key), backend.location(dated)
            )
            key = dated
        backend.write_bytes(key, encoded.data())
    return Written(
        raw_key=key,
        part_keys=write_parts(backend, derived, encoded.digest),
        rows=derived.rows(),
        rejections=derived.rejections,
    )


def latest_day(derived: Derived) -> date | None:
    """The latest day of ``derived``'s rows (None: no rows)."""
    days = [frame.get_column(DATE).max() for frame in derived.frames.values() if frame.height]
    found = [day for day in days if isinstance(day, date)]
    return max(found) if found else None


def _renamed(log: RejectionLog, old: str, new: str) -> RejectionLog:
    """``log`` with the rejections of pages of the raw object at ``old`` naming ``new``."""
    renamed = RejectionLog(limit=log.limit, count=log.count, reasons=log.reasons)
    renamed.listed = [
        replace(r, source=new + r.source.removeprefix(old)) if r.source.startswith(old) else r
        for r in log.listed
    ]
    return renamed


def write_parts(backend: Backend, derived: Derived, digest: str) -> tuple[str, ...]:
    """Write every table's rows of one run, one part per date, each followed by its manifest."""
    keys: list[str] = []
    for name, frame in derived.frames.items():
        for key, data in part_files(frame, TABLES_BY_NAME[name], digest):
            backend.write_bytes(key, data)
            backend.write_bytes(layout.manifest_key(key), manifests.encode(key, data))
            keys.append(key)
    return tuple(keys)


def settle_days(backend: Backend, derived: Derived) -> Derived:
    """``derived`` with each trace of ``derived.after_midnight`` already stored under the
    previous day (its earlier spans came in an earlier run) dated that day too.

    A trace without a time in its id is dated by its earliest span in the run: its spans
    stored by two runs either side of midnight would otherwise be in two days. Only the trace
    ids of the previous day's parts of the trace's bucket are read, and only for traces that
    start within ``MIDNIGHT_MARGIN`` after midnight.

    NOTE: the other order (the later spans stored first, the earlier ones next, before
    midnight) is not joined up: that would mean rewriting the stored part.
    """
    late = derived.after_midnight
    spans = derived.frames.get(SPANS.name)
    if late is None or spans is None:
        return derived
    found: list[str] = []
    listed: dict[date, list[str]] = {}  # each previous day's keys, listed once
    bucketed = late.with_columns(layout.trace_bucket(pl.col("trace_id")).alias("bucket"))
    for (day, bucket), traces in bucketed.partition_by(DATE, "bucket", as_dict=True).items():
        if not isinstance(day, date) or not isinstance(bucket, int):
            continue
        before = day - timedelta(days=1)
        if before not in listed:
            listed[before] = backend.list_keys(f"{SPANS.name}/date={before.isoformat()}/")
        stored = _stored_traces(backend, listed[before], before, bucket)
        ids = traces.get_column("trace_id")
        found.extend(ids.filter(ids.is_in(list(stored))).to_list())
    if not found:
        return derived
    earlier = pl.col(DATE) - timedelta(days=1)
    moved = pl.when(pl.col("trace_id").is_in(found)).then(earlier).otherwise(pl.col(DATE))
    derived.frames[SPANS.name] = spans.with_columns(moved.alias(DATE))
    return derived


def _stored_traces(backend: Backend, keys: list[str], day: date, bucket: int) -> set[str]:
    """The trace ids of the span parts of ``day``'s ``bucket`` among ``keys`` (that day's
    listing; parts written before buckets, directly under the day, count too); a part that
    cannot be read is passed over."""
    inside = f"{SPANS.name}/date={day.isoformat()}/bucket={bucket:02d}/"
    ids: set[str] = set()
    for key in keys:
        if layout.part_digest(key) is None:
            continue
        if not key.startswith(inside) and "/bucket=" in key:
            continue
        try:
            frame = read_part(backend, key, SPANS, ["trace_id"])
        except StoreError:
            continue
        ids.update(frame.get_column("trace_id").unique().drop_nulls().to_list())
    return ids
