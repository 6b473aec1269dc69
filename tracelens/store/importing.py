"""Bulk import: exported traces, logs, metrics and configuration files into the store.

Files are read by the same readers as ``tracelens analyze`` (directories, ``.gz``, every trace
format, large line-delimited files in pieces) and stored as runs of the ``import`` source: the
file content as raw pages (so the tables can be rebuilt from them), then the normalized parts.
A run holds pieces of about :data:`RUN_BYTES`; the grouping depends only on the inputs, so
importing the same files again writes the same files again, byte for byte: a run already
stored keeps the time it was first stored (which dates an import's raw object, its rows
without a time of their own, and ranks its rows against copies from other runs). Rows read
again from other files are kept once when read, as for collected data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from collectors.base import CallStats, CollectorResult, RawPage
from tracelens.ingest.opening.sources import expand_paths
from tracelens.ingest.opening.streams import item_sources
from tracelens.ingest.rejections import RejectionLog
from tracelens.store import layout, raw
from tracelens.store.backend import Backend
from tracelens.store.errors import CorruptFileError
from tracelens.store.filepages import FUNCTIONS, LOGS, METRICS, SOURCE, TRACES, page_of
from tracelens.store.rollups import days_of_span_parts
from tracelens.store.store import Store

RUN_BYTES = 64 * 2**20  # input text per stored run: bounds the memory of one run


@dataclass
class ImportReport:
    """What an import stored.

    Attributes
    ----------
    pieces
        Input files read (a large line-delimited file counts once per piece).
    runs
        Runs stored.
    rows
        Rows written per table.
    rejections
        Records refused while reading or normalizing (with their file and position).
    span_days
        Days whose span parts were written (their rollups are then out of date).
    """

    pieces: int = 0
    runs: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    rejections: RejectionLog = field(default_factory=RejectionLog)
    span_days: set[date] = field(default_factory=set)


Progress = Callable[[ImportReport], None]


def _pages(kind: str, paths: Sequence[str], rejections: RejectionLog) -> Iterator[RawPage]:
    for item in expand_paths(paths):
        for source in item_sources(item, rejections):
            yield page_of(kind, source)


def _runs(pages: Iterable[RawPage]) -> Iterator[list[RawPage]]:
    run: list[RawPage] = []
    size = 0
    for page in pages:
        run.append(page)
        size += sum(len(value) for value in page.response.values())
        if size >= RUN_BYTES:
            yield run
            run, size = [], 0
    if run:
        yield run


def _stored_runs(backend: Backend) -> dict[str, str]:
    """The raw objects of the imports already stored, by digest (the latest day's, when a run
    was stored on several days)."""
    return {
        digest: key
        for key in backend.list_keys(f"{layout.RAW}/{SOURCE}")
        if (digest := layout.raw_digest(key)) is not None
    }


def _first_stored(backend: Backend, key: str | None) -> datetime | None:
    """When the raw object at ``key`` was stored (None when there is none, or it is damaged:
    then the run is stored as new); its pages are not decoded (:func:`raw.stored_at`)."""
    if key is None:
        return None
    try:
        return raw.stored_at(backend.read_bytes(key), backend.location(key))
    except (FileNotFoundError, CorruptFileError):
        return None


def import_paths(
    store: Store,
    *,
    traces: Sequence[str] = (),
    logs: Sequence[str] = (),
    metrics: Sequence[str] = (),
    functions: Sequence[str] = (),
    account: str,
    region: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Store every input under the paths given, each read as its option says.

    Raises
    ------
    tracelens.ingest.opening.sources.InputError
        When a path does not exist or cannot be read (the runs before it stay stored).
    StoreError
        When a file cannot be written.
    """
    report = ImportReport()
    stored = _stored_runs(store.backend)
    inputs = ((TRACES, traces), (LOGS, logs), (METRICS, metrics), (FUNCTIONS, functions))
    for kind, paths in inputs:
        if not paths:
            continue
        for pages in _runs(_pages(kind, paths, report.rejections)):
            result = CollectorResult(
                source=SOURCE,
                window=None,
                pages=tuple(pages),
                failures=(),
                warnings=(),
                stats=CallStats(),
                complete=True,
            )
            digest = raw.digest_of(
                raw.RawRun.of(result, account=account, region=region, stored_at=datetime.min)
            )
            receipt = store.persist(
                result,
                account=account,
                region=region,
                stored_at=_first_stored(store.backend, stored.get(digest)),
            )
            report.pieces += len(pages)
            report.runs += 1
            for table, rows in receipt.rows.items():
                report.rows[table] = report.rows.get(table, 0) + rows
            report.rejections.extend(receipt.rejections)
            report.span_days |= days_of_span_parts(receipt.part_keys)
            if progress is not None:
                progress(report)
    return report
