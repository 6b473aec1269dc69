"""The ``local`` engine: every partition in this process, one after the other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

P = TypeVar("P")
R = TypeVar("R")


class LocalEngine:
    """No workers: nothing to start, nothing to pickle."""

    name = "local"
    where = "this process"

    def map(
        self, function: Callable[[P], R], partitions: Sequence[P], progress: Progress | None = None
    ) -> MapResult[P, R]:
        outcomes: dict[int, Outcome[R] | PartitionFailure[P]] = {}
        for index, partition in enumerate(partitions):
            outcomes[index] = guarded(function, partition)
            if progress is not None:
                progress(index + 1, len(partitions), failure_at(partitions, index, outcomes[index]))
        return collect(partitions, outcomes)

    def close(self) -> None:
        """Nothing to release."""
