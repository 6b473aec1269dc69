"""The ``processes`` engine (the default): a pool of local worker processes.

Workers are started with ``spawn`` (a fresh interpreter, not a fork: polars' thread pool does
not survive a fork) when the first partitions are sent, and import the function's module by
name. A single partition runs in this process: starting a worker would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import TypeVar

from tracelens.engines import (
    MapResult,
    Outcome,
    PartitionFailure,
    Progress,
    collect,
    failure_at,
    guarded,
)
from tracelens.engines.local import LocalEngine

P = TypeVar("P")
R = TypeVar("R")


class ProcessesEngine:
    """``workers`` local processes (``concurrent.futures.ProcessPoolExecutor``)."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self._workers = workers

    @property
    def where(self) -> str:
        return f"{self._workers} local process(es)"

    def map(
        self, function: Callable[[P], R], partitions: Sequence[P], progress: Progress | None = None
    ) -> MapResult[P, R]:
        if len(partitions) <= 1 or self._workers == 1:
            return LocalEngine().map(function, partitions, progress)
        outcomes: dict[int, Outcome[R] | PartitionFailure[P]] = {}
        context = multiprocessing.get_context("spawn")
        workers = min(self._workers, len(partitions))
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures: dict[Future[Outcome[R]], int] = {
                pool.submit(guarded, function, partition): index
                for index, partition in enumerate(partitions)
            }
            for finished, future in enumerate(as_completed(futures), start=1):
                index = futures[future]
                try:
                    outcomes[index] = future.result()
                except Exception as exc:  # NOTE: the worker died or the result did not pickle
                    outcomes[index] = PartitionFailure(
                        partitions[index], type(exc).__name__, str(exc) or repr(exc)
                    )
                if progress is not None:
                    progress(
                        finished, len(partitions), failure_at(partitions, index, outcomes[index])
                    )
        return collect(partitions, outcomes)

    def close(self) -> None:
        """Each map's pool is already stopped."""
