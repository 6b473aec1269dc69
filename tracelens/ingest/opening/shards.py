"""How a large input is shared among several reading processes: contiguous runs of its files.

Decoding and flattening documents is Python work bound to one core by the interpreter lock, so
on inputs large enough to repay a process start, the files are split into contiguous runs
sized by bytes: this process reads the first run while worker processes read the others (see
tracelens/ingest/worker.py). A large newline-delimited file is cut at line starts where a run
ends; other files go whole to one run.
The result is the same as reading the files in order in one process: documents are numbered
in file order, so deduplication keeps the same copies, and rejections are listed in file
order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tracelens import settings
from tracelens.ingest.opening.file_parts import line_start_after
from tracelens.ingest.opening.sources import STDIN, FilePart, InputError, Item

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
