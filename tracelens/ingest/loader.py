"""Load exported X-Ray data from paths into the span frame, with an account of what was refused:
the entry point of ingest (its stages: tracelens/ingest/__init__.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from tracelens.ingest.decoders.base import ReadStats
from tracelens.ingest.normalize.spans import SpanBuilder
from tracelens.ingest.opening.shards import reading_processes, split_items
from tracelens.ingest.opening.sources import expand_paths
from tracelens.ingest.pipeline import ProgressCallback, read_run
from tracelens.ingest.rejections import RejectionLog
from tracelens.ingest.worker import read_runs_in_parallel


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
    # False when read from a store: it keeps the documents accepted, once, and not what was
    # read (refused records, copies dropped on the way in): ``documents``, ``duplicates`` and
    # the documents per trace path are then unknown (``read_documents``, ``read_duplicates``),
    # as are the traces X-Ray left out of its pages (``read_limit_exceeded``,
    # ``read_unprocessed``).
    documents_known: bool = True

    @property
    def read_documents(self) -> int | None:
        """Documents read, accepted or not; None when unknown (read from a store)."""
        return self.documents if self.documents_known else None

    @property
    def read_duplicates(self) -> int | None:
        """Documents seen more than once; None when unknown (read from a store)."""
        return self.duplicates if self.documents_known else None

    @property
    def read_limit_exceeded(self) -> int | None:
        """Traces X-Ray could not return whole; None when unknown (a store keeps only the
        documents it was given, not the pages' lists of traces left out)."""
        return self.read_stats.limit_exceeded_traces if self.documents_known else None

    @property
    def read_unprocessed(self) -> list[str] | None:
        """Trace ids X-Ray did not return; None when unknown (read from a store)."""
        return self.read_stats.unprocessed_trace_ids if self.documents_known else None

    @cached_property
    def traces(self) -> int:
        # NOTE: counted once: the command's progress line and the JSON both say it (~0.1 s
        # each over a million segments).
        return int(self.spans.get_column("trace_id").n_unique()) if self.spans.height else 0

    @property
    def in_progress(self) -> int:
        # NOTE: select before filtering: filtering the whole frame copies every column.
        count = self.spans.select(pl.col("in_progress").filter(pl.col("depth") == 0).sum())
        return int(count.item() or 0)


@contextmanager
def paused_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while ingest builds millions of small objects.

    Ingest creates no reference cycles (the decoded structs are not even tracked), yet every
    few thousand allocations the collector would walk all the row tuples held so far.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_traces(
    paths: Iterable[str | Path],
    *,
    rejections: RejectionLog | None = None,
    progress: ProgressCallback | None = None,
    processes: int | None = None,
) -> TraceInput:
    """Read every segment document under ``paths`` and normalize them.

    A large input is read by ``processes`` processes in parallel (default:
    :func:`tracelens.ingest.opening.shards.reading_processes`); the result does not depend on it.

    Raises
    ------
    tracelens.ingest.opening.sources.InputError
        When a path cannot be read at all. Malformed documents never raise: they are counted
        in ``rejections`` with their file and position.
    """
    log = rejections if rejections is not None else RejectionLog()
    stats = ReadStats()
    builder = SpanBuilder()
    items = expand_paths(paths, stats.skipped, json_only=True)
    runs = split_items(items, reading_processes() if processes is None else processes)
    with paused_cycle_collection():
        if len(runs) > 1:
            read_runs_in_parallel(runs, builder, log, stats, progress)
        else:
            read_run(items, builder, log, stats, progress)
        table = builder.finish()
    return TraceInput(
        spans=table.spans,
        documents=table.documents + log.count,
        segments=table.documents - table.duplicates,
        duplicates=table.duplicates,
        rejections=log,
        sources=len(items),
        read_stats=stats,
    )
