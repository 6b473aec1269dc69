"""Reading a large input in several processes, each taking a contiguous run of its files.

Decoding and flattening documents is Python work bound to one core by the interpreter lock, so
on inputs large enough to repay a process start, the files are split into contiguous runs
sized by bytes: this process reads the first run while worker processes read the others and
hand back their chunk frames as Arrow IPC files (see worker.py). A large newline-delimited
file is cut at line starts where a run ends; other files go whole to one run.
The result is the same as reading the files in order in one process: documents are numbered
in file order, so deduplication keeps the same copies, and rejections are listed in file
order.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tracelens import settings
from tracelens.ingest.documents import ReadStats
from tracelens.ingest.file_parts import line_start_after
from tracelens.ingest.normalize import SpanBuilder
from tracelens.ingest.rejections import RejectionLog
from tracelens.ingest.runs import ProgressCallback, read_run
from tracelens.ingest.sources import STDIN, FilePart, InputError, Item, item_name
from tracelens.ingest.worker import RunWorker

# NOTE: starting a worker (a fresh interpreter importing polars) costs about half a second,
# what reading ~30 MB of exported traces costs; below this much input it does not pay.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
MAX_PROCESSES = 4
# NOTE: a worker starts later (about half a second) and hands its frames over at the end, so
# this process, reading from the start, takes a larger run and both finish together.
FIRST_RUN_WEIGHT = 1.3


def reading_processes() -> int:
    """How many processes read a large input: TRACELENS_INGEST_PROCESSES, else the CPUs.

    Raises
    ------
    InputError
        When TRACELENS_INGEST_PROCESSES is set to anything but a whole number >= 1.
    """
    configured = settings.get(settings.INGEST_PROCESSES)
    if configured is not None:
        if not (configured.isascii() and configured.isdigit()) or int(configured) < 1:
            raise InputError(
                f"{settings.INGEST_PROCESSES}={configured!r}: expected a whole number >= 1"
            )
        return int(configured)
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere all CPUs
    cpus = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_PROCESSES))


def split_items(items: Sequence[Path | str], processes: int) -> list[list[Item]]:
    """Contiguous runs of ``items``, one per process; one run when splitting does not pay.

    Runs are sized by bytes; the first run (read by this process) is ``FIRST_RUN_WEIGHT``
    times the size of the others. Where a run ends inside a large newline-delimited file, the
    file is cut at a line start (see file_parts.py); any other file goes whole to the run it
    starts in.
    """
    if processes < 2 or STDIN in items:
        return [list(items)]
    sizes = [os.stat(item).st_size for item in items]  # noqa: PTH116 (faster, many files)
    total = sum(sizes)
    if total < PARALLEL_MIN_BYTES:
        return [list(items)]
    weight = FIRST_RUN_WEIGHT + processes - 1
    ends = [total * (FIRST_RUN_WEIGHT + run) / weight for run in range(processes - 1)]
    runs: list[list[Item]] = [[]]
    filled = 0
    for item, size in zip(items, sizes, strict=True):
        begin = 0
        while True:  # each part of the item (an empty file is one part too)
            if runs[-1] and len(runs) < processes and filled >= ends[len(runs) - 1]:
                runs.append([])
            end = size
            if len(runs) < processes and filled + size - begin > ends[len(runs) - 1]:
                cut = begin + max(1, int(ends[len(runs) - 1] - filled))
                end = line_start_after(Path(item), cut) or size
            whole = begin == 0 and end == size
            runs[-1].append(item if whole else FilePart(Path(item), begin, end))
            filled += end - begin
            begin = end
            if begin >= size:
                break
    return runs


def read_runs_in_parallel(
    runs: list[list[Item]],
    builder: SpanBuilder,
    rejections: RejectionLog,
    stats: ReadStats,
    progress: ProgressCallback | None = None,
) -> None:
    """Read ``runs[0]`` here and the other runs in worker processes, merging in run order.

    A worker that fails for any reason but unreadable input has its run read here instead.

    Raises
    ------
    tracelens.ingest.sources.InputError
        When a worker found a path it cannot read at all.
    """
    with (
        tempfile.TemporaryDirectory(prefix="tracelens-ingest-") as directory,
        ThreadPoolExecutor(max(1, len(runs) - 1), thread_name_prefix="ingest-collect") as pool,
    ):
        workers = [
            RunWorker.start(run, Path(directory) / str(index))
            for index, run in enumerate(runs[1:], start=1)
        ]
        try:
            # NOTE: each worker's frames are loaded by a thread as soon as it ends (polars reads
            # without the interpreter lock), overlapping this process's own reading.
            collected = [pool.submit(worker.collect) for worker in workers]
            read_run(runs[0], builder, rejections, stats, progress)
            for worker, future in zip(workers, collected, strict=True):
                outcome = future.result()
                if outcome is None:
                    read_run(worker.items, builder, rejections, stats, progress)
                    continue
                result, chunks = outcome
                builder.absorb(chunks)
                rejections.extend(result.rejections)
                stats.extend(result.stats)
                if progress is not None:
                    progress(item_name(worker.items[-1]), builder.accepted)
        finally:
            for worker in workers:
                worker.stop()
