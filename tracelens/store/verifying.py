"""Checking every Parquet part against its manifest, and rebuilding the damaged ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracelens.store import layout
from tracelens.store.backend import Backend
from tracelens.store.errors import CorruptFileError, MissingKeyError, StoreError, StoreProblem
from tracelens.store.parts import read_part
from tracelens.store.rebuilding import compacted_sources, rebuild
from tracelens.store.tables import TABLES


@dataclass
class VerifyReport:
    """What a verification found and did.

    Attributes
    ----------
    checked
        Parts read.
    unchecked
        Parts without a manifest (written before manifests): read, but no checksum to compare.
    damaged
        Parts that differ from their manifest or cannot be read, as found.
    rebuilt
        Parts written again from their raw runs (with ``repair``).
    unrepaired
        Damaged parts still damaged after the repair (their raw run is gone or unreadable).
    """

    checked: int = 0
    unchecked: list[str] = field(default_factory=list)
    damaged: list[StoreProblem] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    unrepaired: list[StoreProblem] = field(default_factory=list)


def _damaged(backend: Backend, report: VerifyReport | None) -> dict[str, StoreProblem]:
    found: dict[str, StoreProblem] = {}
    checksums = set(backend.list_keys(layout.MANIFESTS))
    for table in TABLES:
        for key in backend.list_keys(table.name):
            if layout.part_digest(key) is None:
                continue
            try:
                read_part(backend, key, table)
            except MissingKeyError:
                continue
            except CorruptFileError as exc:
                found[key] = StoreProblem.of(exc)
            except StoreError as exc:
                found[key] = StoreProblem(backend.location(key), str(exc))
            if report is not None:
                report.checked += 1
                if layout.manifest_key(key) not in checksums:
                    report.unchecked.append(key)
    return found


def verify(backend: Backend, *, repair: bool = False) -> VerifyReport:
    """Read every part, compare it with its manifest; with ``repair``, rebuild the damaged
    parts from the raw runs they were derived from (a part is named by its run's digest)."""
    report = VerifyReport()
    damaged = _damaged(backend, report)
    report.damaged = list(damaged.values())
    if not repair or not damaged:
        return report
    digests: set[str] = set()
    compacted: dict[str, tuple[str, ...]] = {}
    for key in damaged:
        merged = compacted_sources(backend, key)
        if merged:
            compacted[key] = merged
        digests.update(merged or [layout.part_digest(key) or ""])
    rebuild(backend, digests=digests)
    # NOTE: a damaged compacted part whose runs were all rewritten as their own parts is
    # deleted: its rows are back (the next compaction merges them again).
    stored = {layout.raw_digest(key) for key in backend.list_keys(layout.RAW)}
    for key, merged in compacted.items():
        if all(source in stored for source in merged):
            backend.delete(key)
            backend.delete(layout.manifest_key(key))
    still = _damaged(backend, None)
    report.rebuilt = [key for key in damaged if key not in still]
    report.unrepaired = [problem for key, problem in still.items() if key in damaged]
    return report
