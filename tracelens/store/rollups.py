"""Hourly rollups in the store: the files only (computing them is ``tracelens.rollup``'s).

::

    rollups/date=YYYY-MM-DD/rollup.parquet    the day's hourly partial aggregates
    rollups/date=YYYY-MM-DD/sources.json      the span parts they were computed from

A day's rollup is written with the list of span parts it was computed from: when the day's span
parts change afterwards (a late collection, compaction), the rollup is *stale*.
"""

from __future__ import annotations

import io
from datetime import date

import orjson
import polars as pl

from tracelens.store import layout, tables
from tracelens.store.backend import Backend, check_key
from tracelens.store.errors import StoreProblem
from tracelens.store.parts import part_keys

ROLLUPS = "rollups"
_ROLLUP_FILE = "rollup.parquet"


def rollup_key(day: date) -> str:
    """The key of a day's rollup."""
    return check_key(f"{ROLLUPS}/date={day.isoformat()}/{_ROLLUP_FILE}")


def sources_key(day: date) -> str:
    """The key of the span parts a day's rollup was computed from."""
    return check_key(f"{ROLLUPS}/date={day.isoformat()}/sources.json")


def span_days(backend: Backend, first: date | None, last: date | None) -> dict[date, list[str]]:
    """The span parts of each day in ``[first, last]`` (open ends: every day), sorted."""
    days: dict[date, list[str]] = {}
    for key in part_keys(backend, tables.SPANS, first, last):
        day = layout.key_date(key)
        if day is not None:
            days.setdefault(day, []).append(key)
    return {day: sorted(keys) for day, keys in days.items()}


def recorded_sources(backend: Backend, day: date) -> list[str] | None:
    """The span parts the day's rollup was computed from (None: no rollup, or unreadable)."""
    try:
        recorded = orjson.loads(backend.read_bytes(sources_key(day)))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    parts = recorded.get("span_parts") if isinstance(recorded, dict) else None
    return sorted(str(p) for p in parts) if isinstance(parts, list) else None


def write_day(backend: Backend, day: date, frame: pl.DataFrame, span_parts: list[str]) -> str:
    """Write a day's rollup, then the span parts it came from (a crash between the two leaves
    the rollup stale, never current with the wrong data). Returns the rollup's key."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    key = rollup_key(day)
    backend.write_bytes(key, buffer.getvalue())
    backend.write_bytes(sources_key(day), orjson.dumps({"span_parts": sorted(span_parts)}))
    return key


def rollup_days(backend: Backend, first: date | None, last: date | None) -> list[date]:
    """Days in ``[first, last]`` that have a rollup file, sorted."""
    found = set()
    for key in backend.list_keys(ROLLUPS):
        day = layout.key_date(key)
        if key.endswith("/" + _ROLLUP_FILE) and day and layout.within_days(key, first, last):
            found.add(day)
    return sorted(found)


def read_day(backend: Backend, day: date) -> pl.DataFrame | StoreProblem | None:
    """A day's rollup frame; a problem when the file cannot be read; None when it is gone."""
    key = rollup_key(day)
    try:
        data = backend.read_bytes(key)
    except FileNotFoundError:
        return None
    try:
        return pl.read_parquet(io.BytesIO(data))
    except (OSError, pl.exceptions.PolarsError) as exc:
        reason = f"unreadable rollup ({exc}); run `tracelens store rollup --force` to rewrite it"
        return StoreProblem(location=backend.location(key), reason=reason)
