"""Writing one run: its raw object first, then its Parquet parts (all content-addressed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC

from tracelens.ingest.loader import paused_cycle_collection
from tracelens.ingest.rejections import RejectionLog
from tracelens.store import layout, manifests, raw
from tracelens.store.backend import Backend
from tracelens.store.derive import Derived, derive
from tracelens.store.parts import part_files
from tracelens.store.tables import TABLES_BY_NAME


@dataclass(frozen=True)
class Written:
    """What storing one run wrote."""

    raw_key: str | None
    part_keys: tuple[str, ...] = ()
    rows: dict[str, int] = field(default_factory=dict)
    rejections: RejectionLog = field(default_factory=RejectionLog)


def write_run(backend: Backend, run: raw.RawRun) -> Written:
    """Store ``run``; a run without pages writes nothing.

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
            derived = derive(run, name=backend.location(key))
        finally:  # NOTE: the raw object even when normalizing fails (see above)
            backend.write_bytes(key, encoded.data())
    return Written(
        raw_key=key,
        part_keys=write_parts(backend, derived, encoded.digest),
        rows=derived.rows(),
        rejections=derived.rejections,
    )


def write_parts(backend: Backend, derived: Derived, digest: str) -> tuple[str, ...]:
    """Write every table's rows of one run, one part per date, each followed by its manifest."""
    keys: list[str] = []
    for name, frame in derived.frames.items():
        for key, data in part_files(frame, TABLES_BY_NAME[name], digest):
            backend.write_bytes(key, data)
            backend.write_bytes(layout.manifest_key(key), manifests.encode(key, data))
            keys.append(key)
    return tuple(keys)
