"""Writing one run: its raw object first, then its Parquet parts (all content-addressed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC

from tracelens.ingest.rejections import RejectionLog
from tracelens.store import layout, raw
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

    NOTE: raw first: if normalizing fails or the process dies before the parts are written,
    the raw object is there for :func:`tracelens.store.rebuilding.rebuild`, and the checkpoint
    has not moved, so the window is collected and stored again.
    """
    if not run.pages:
        return Written(raw_key=None)
    digest, data = raw.encode(run)
    key = layout.raw_key(run.source, run.reference_time.astimezone(UTC).date(), digest)
    backend.write_bytes(key, data)
    derived = derive(run, name=backend.location(key))
    return Written(
        raw_key=key,
        part_keys=write_parts(backend, derived, digest),
        rows=derived.rows(),
        rejections=derived.rejections,
    )


def write_parts(backend: Backend, derived: Derived, digest: str) -> tuple[str, ...]:
    """Write every table's rows of one run, one part per date."""
    keys: list[str] = []
    for name, frame in derived.frames.items():
        for key, data in part_files(frame, TABLES_BY_NAME[name], digest):
            backend.write_bytes(key, data)
            keys.append(key)
    return tuple(keys)
