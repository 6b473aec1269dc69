"""Hourly rollups in the store: the files only (computing them is ``tracelens.rollup``'s).

::

    rollups/date=YYYY-MM-DD/rollup.parquet    the day's hourly partial aggregates

A day's rollup records, in its Parquet metadata (key ``tracelens.span_parts``), the span parts
it was computed from, in the same file as the aggregates (one write: two writers of one day
never leave one's aggregates under the other's parts). When the day's span parts change
afterwards (a late collection, a rebuild) the rollup is *stale*; a compaction, which keeps the
rows a read sees, records the parts that replaced the merged ones (:func:`carry_over`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import orjson
import polars as pl

from tracelens.store import layout, tables
from tracelens.store.backend import Backend, check_key
from tracelens.store.errors import MissingKeyError, StoreProblem
from tracelens.store.parts import part_keys

ROLLUPS = "rollups"
_ROLLUP_FILE = "rollup.parquet"
SPAN_PARTS_METADATA = "tracelens.span_parts"


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


def days_of_span_parts(keys: Iterable[str]) -> set[date]:
    """The days of the span parts among ``keys`` (other keys are passed over)."""
    prefix = tables.SPANS.name + "/"
    return {
        day
        for key in keys
        if key.startswith(prefix)
        and layout.part_digest(key) is not None
        and (day := layout.key_date(key)) is not None
    }


@dataclass(frozen=True)
class StoredRollup:
    """A day's rollup as read: its frame and the span parts it was computed from (None: not
    recorded, a rollup written before they were)."""

    frame: pl.DataFrame
    span_parts: list[str] | None


def _encode(frame: pl.DataFrame, span_parts: list[str]) -> bytes:
    buffer = io.BytesIO()
    recorded = orjson.dumps(sorted(span_parts)).decode()
    frame.write_parquet(buffer, compression="zstd", metadata={SPAN_PARTS_METADATA: recorded})
    return buffer.getvalue()


def _span_parts(data: bytes) -> list[str] | None:
    try:
        recorded = orjson.loads(pl.read_parquet_metadata(data).get(SPAN_PARTS_METADATA, "null"))
    except orjson.JSONDecodeError:
        return None
    return sorted(str(p) for p in recorded) if isinstance(recorded, list) else None


def write_day(backend: Backend, day: date, frame: pl.DataFrame, span_parts: list[str]) -> str:
    """Write a day's rollup with the span parts it came from (one file). Returns its key."""
    key = rollup_key(day)
    backend.write_bytes(key, _encode(frame, span_parts))
    return key


def read_day(backend: Backend, day: date) -> StoredRollup | StoreProblem | None:
    """A day's rollup; a problem when the file cannot be read; None when there is none."""
    key = rollup_key(day)
    try:
        data = backend.read_bytes(key)
    except (FileNotFoundError, MissingKeyError):
        return None
    try:
        return StoredRollup(pl.read_parquet(data), _span_parts(data))
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = f"unreadable rollup ({exc}); run `tracelens store rollup --force` to rewrite it"
        return StoreProblem(location=backend.location(key), reason=reason)


def recorded_sources(backend: Backend, day: date) -> list[str] | None:
    """The span parts the day's rollup was computed from (None: no rollup, unreadable, or not
    recorded)."""
    got = read_day(backend, day)
    return got.span_parts if isinstance(got, StoredRollup) else None


def carry_over(
    backend: Backend,
    before: dict[date, list[str]],
    after: dict[date, list[str]],
    *,
    written: Iterable[str],
    removed: Iterable[str],
) -> list[date]:
    """After a compaction merged span parts (``removed``) into new ones (``written``), record
    the rollups that were current (computed from the day's parts in ``before``) as computed
    from the day's parts in ``after``: compaction keeps the rows a read sees. Returns the days
    carried over.

    A rollup that was stale before, or a day whose parts changed otherwise meanwhile (a part
    persisted during the compaction), stays stale.
    """
    new_parts, merged = set(written), set(removed)
    carried = []
    for day, parts in sorted(after.items()):
        old = before.get(day)
        if old is None or old == parts:
            continue
        if not (set(parts) - set(old) <= new_parts and set(old) - set(parts) <= merged):
            continue
        stored = read_day(backend, day)
        if not isinstance(stored, StoredRollup) or stored.span_parts != old:
            continue
        write_day(backend, day, stored.frame, parts)
        carried.append(day)
    return carried


def rollup_days(backend: Backend, first: date | None, last: date | None) -> list[date]:
    """Days in ``[first, last]`` that have a rollup file, sorted."""
    found = set()
    for key in backend.list_keys(ROLLUPS):
        day = layout.key_date(key)
        if key.endswith("/" + _ROLLUP_FILE) and day and layout.within_days(key, first, last):
            found.add(day)
    return sorted(found)
