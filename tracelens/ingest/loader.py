"""Load exported X-Ray data from paths into the span frame, with an account of what was refused.

Decoding and flattening documents is the one part of ingest that runs per document in Python,
so large inputs are split by file across processes (one per core); each returns its rows, and
deduplication runs once over all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import polars as pl

from tracelens.ingest.documents import ReadStats, iter_documents
from tracelens.ingest.normalize import SpanBuilder, finalize
from tracelens.ingest.rejections import RejectionLog
from tracelens.ingest.sources import STDIN, expand_paths, read_source

ProgressCallback = Callable[[str, int], None]  # (source name, documents accepted so far)

# Below this many bytes, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 48 * 1024 * 1024
# Document numbers of part k start at k << PART_SHIFT, so first-seen order survives the split.
PART_SHIFT = 40


@dataclass(frozen=True)
class TraceInput:
    """Spans ready for analysis and the bookkeeping the report and JSON output show."""

    spans: pl.DataFrame
    documents: int  # documents read, accepted or not
    segments: int  # unique documents accepted
    duplicates: int
    rejections: RejectionLog
    sources: int
    read_stats: ReadStats = field(default_factory=ReadStats)

    @property
    def traces(self) -> int:
        return int(self.spans.get_column("trace_id").n_unique()) if self.spans.height else 0

    @property
    def in_progress(self) -> int:
        roots = self.spans.filter(pl.col("depth") == 0)
        return int(roots.get_column("in_progress").sum()) if roots.height else 0


@dataclass
class _Part:
    """What one process read: rows before deduplication and its bookkeeping."""

    rows: pl.DataFrame | None
    accepted: int
    rejections: RejectionLog
    stats: ReadStats
    sources: int


def _read_part(
    items: list[Path | str], part: int, progress: ProgressCallback | None = None
) -> _Part:
    log, stats = RejectionLog(), ReadStats()
    builder = SpanBuilder(doc_offset=part << PART_SHIFT)
    for item in items:
        source = read_source(item)
        for position, document in iter_documents(source, log, stats):
            builder.add(document, source=source.name, position=position, rejections=log)
        if progress is not None:
            progress(source.name, builder.accepted)
    return _Part(builder.raw_rows(), builder.accepted, log, stats, len(items))


def _split_by_size(items: list[Path | str], parts: int) -> list[list[Path | str]]:
    """Contiguous groups of about equal bytes, so file order (first seen) is kept."""
    sizes = [Path(item).stat().st_size for item in items]
    target = sum(sizes) / parts
    groups: list[list[Path | str]] = [[]]
    filled = 0.0
    for item, size in zip(items, sizes, strict=True):
        if filled >= target * len(groups) and len(groups) < parts:
            groups.append([])
        groups[-1].append(item)
        filled += size
    return [group for group in groups if group]


def _workers_for(items: list[Path | str], workers: int | None) -> int:
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count < 2 or len(items) < 2 or STDIN in items:
        return 1
    total = sum(Path(item).stat().st_size for item in items)
    return count if total >= PARALLEL_MIN_BYTES else 1


def _read_parts(
    items: list[Path | str], workers: int, progress: ProgressCallback | None
) -> list[_Part]:
    if workers == 1:
        return [_read_part(items, 0, progress)]
    groups = _split_by_size(items, workers)
    # NOTE: spawn, not fork: polars' thread pool does not survive a fork.
    with ProcessPoolExecutor(len(groups), mp_context=get_context("spawn")) as pool:
        return list(pool.map(_read_part, groups, range(len(groups))))


def load_traces(
    paths: Iterable[str | Path],
    *,
    rejections: RejectionLog | None = None,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
) -> TraceInput:
    """Read every segment document under ``paths`` and normalize them.

    ``workers`` caps the processes used for large inputs (default: one per core).

    Raises
    ------
    tracelens.ingest.sources.InputError
        When a path cannot be read at all. Malformed documents never raise: they are counted
        in ``rejections`` with their file and position.
    """
    log = rejections if rejections is not None else RejectionLog()
    items = expand_paths(paths)
    parts = _read_parts(items, _workers_for(items, workers), progress)
    stats = ReadStats()
    for part in parts:
        log.extend(part.rejections)
        stats.unprocessed_trace_ids.extend(part.stats.unprocessed_trace_ids)
        stats.limit_exceeded_traces += part.stats.limit_exceeded_traces
    accepted = sum(part.accepted for part in parts)
    table = finalize([part.rows for part in parts], accepted)
    return TraceInput(
        spans=table.spans,
        documents=accepted + log.count,
        segments=accepted - table.duplicates,
        duplicates=table.duplicates,
        rejections=log,
        sources=sum(part.sources for part in parts),
        read_stats=stats,
    )
