"""Reading runs of a large input in worker processes (how the runs are cut: opening/shards.py).

This process reads the first run while worker processes, each
``python -m tracelens.ingest.worker DIR``, read the others through the same pipeline
(pipeline.py) and hand back their chunk frames as Arrow IPC files, merged here in run order.

The parent writes the run's items to DIR/items (JSON); the worker writes its
chunk frames as Arrow IPC files into DIR, then ``result.json`` with its document
counts, rejections and read statistics. A plain subprocess rather than multiprocessing: the
worker must not import the caller's main module again, which may be a script of any kind.
"""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import polars as pl

from tracelens.ingest.decoders.base import ReadStats
from tracelens.ingest.normalize.spans import Chunks, SpanBuilder
from tracelens.ingest.opening.sources import FilePart, InputError, Item, item_name
from tracelens.ingest.pipeline import ProgressCallback, read_run
from tracelens.ingest.rejections import Rejection, RejectionLog

ITEMS_FILE = "items"
RESULT_FILE = "result.json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What a worker read: its chunk frames and its bookkeeping."""

    frame_files: list[str]
    documents: int
    refused: int
    rejections: RejectionLog
    stats: ReadStats

    def chunks(self) -> Chunks:
        frames = [pl.read_ipc(path) for path in self.frame_files]
        return Chunks(frames, self.documents, self.refused)


@dataclass
class RunWorker:
    """The parent's handle on one worker process (None when it could not be started)."""

    items: list[Item]
    directory: Path
    process: subprocess.Popen[bytes] | None
    stderr: IO[bytes]

    @classmethod
    def start(cls, items: list[Item], directory: Path) -> RunWorker:
        directory.mkdir(parents=True)
        (directory / ITEMS_FILE).write_bytes(_items_to_json(items))
        stderr = (directory / "stderr.txt").open("w+b")
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "tracelens.ingest.worker", str(directory)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        except OSError as exc:
            stderr.write(f"cannot start {sys.executable!r}: {exc}".encode())
            process = None
        return cls(items, directory, process, stderr)

    def wait(self) -> RunResult | None:
        """The worker's result; None when it failed (the caller reads the run itself).

        Raises
        ------
        InputError
            When the worker found an input it cannot read at all.
        """
        code = self.process.wait() if self.process is not None else None
        result_path = self.directory / RESULT_FILE
        result = orjson.loads(result_path.read_bytes()) if result_path.exists() else {}
        if "input_error" in result:
            raise InputError(result["input_error"])
        if code != 0 or "documents" not in result:
            self.stderr.seek(0)
            detail = self.stderr.read().decode(errors="replace").strip().splitlines()
            log.warning(
                "an ingest worker failed (exit %s: %s); reading its %d file(s) in this process",
                code,
                detail[-1] if detail else "no message",
                len(self.items),
            )
            return None
        return _result_from_json(result)

    def collect(self) -> tuple[RunResult, Chunks] | None:
        """The worker's result and its chunk frames, loaded; None when it failed."""
        result = self.wait()
        return None if result is None else (result, result.chunks())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stderr.close()


def _items_to_json(items: list[Item]) -> bytes:
    return orjson.dumps(
        [
            [_path_to_hex(str(item.path)), item.start, item.end]
            if isinstance(item, FilePart)
            else _path_to_hex(str(item))
            for item in items
        ]
    )


def _items_from_json(data: bytes) -> list[Item]:
    return [
        _path_from_hex(item)
        if type(item) is str
        else FilePart(Path(_path_from_hex(item[0])), item[1], item[2])
        for item in orjson.loads(data)
    ]


# NOTE: paths travel as hex of their file-system bytes: a file name need not be valid UTF-8,
# which JSON cannot carry.
def _path_to_hex(path: str) -> str:
    return os.fsencode(path).hex()


def _path_from_hex(text: str) -> str:
    return os.fsdecode(bytes.fromhex(text))


def _result_from_json(result: dict[str, Any]) -> RunResult:
    rejections = RejectionLog(count=result["rejections"]["count"])
    rejections.listed.extend(
        Rejection(_path_from_hex(source), position, reason)
        for source, position, reason in result["rejections"]["listed"]
    )
    rejections.reasons.update(result["rejections"]["reasons"])
    stats = ReadStats(**result["stats"])
    return RunResult(result["frames"], result["documents"], result["refused"], rejections, stats)


def _result_to_json(
    frames: list[str], chunks: Chunks, rejections: RejectionLog, stats: ReadStats
) -> bytes:
    return orjson.dumps(
        {
            "frames": frames,
            "documents": chunks.documents,
            "refused": chunks.refused,
            "rejections": {
                "count": rejections.count,
                "listed": [
                    [_path_to_hex(r.source), r.position, r.reason] for r in rejections.listed
                ],
                "reasons": dict(rejections.reasons),
            },
            "stats": {
                "unprocessed_trace_ids": stats.unprocessed_trace_ids,
                "limit_exceeded_traces": stats.limit_exceeded_traces,
                "skipped": stats.skipped,
                "paths": stats.paths,
            },
        }
    )


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
    tracelens.ingest.opening.sources.InputError
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


def run(directory: Path, items: list[Item]) -> None:
    """Read ``items`` and leave the chunk frames and ``result.json`` in ``directory``."""
    builder, rejections, stats = SpanBuilder(), RejectionLog(), ReadStats()
    try:
        read_run(items, builder, rejections, stats)
    except InputError as exc:
        (directory / RESULT_FILE).write_bytes(orjson.dumps({"input_error": str(exc)}))
        return
    chunks = builder.take_chunks()
    frames = []
    for index, frame in enumerate(chunks.frames):
        path = directory / f"chunk-{index:05d}.arrow"
        # NOTE: lz4 makes the files a fifth the size; writing and reading them is then faster.
        frame.write_ipc(path, compression="lz4")
        frames.append(str(path))
    (directory / RESULT_FILE).write_bytes(_result_to_json(frames, chunks, rejections, stats))


if __name__ == "__main__":
    # NOTE: ingest makes no reference cycles; the collector would only walk millions of rows.
    gc.disable()
    directory = Path(sys.argv[1])
    run(directory, _items_from_json((directory / ITEMS_FILE).read_bytes()))
