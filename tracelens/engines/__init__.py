"""Where per-partition work runs: in this process, in local worker processes, or on a Dask
cluster.

Every engine does one thing: map a picklable function over picklable partition descriptors and
gather the results, reporting each partition as it finishes. A partition whose function raised
(or whose worker died, or which a worker could not even load) is a :class:`PartitionFailure`
in the result, never an exception that loses the partitions already done: the caller decides
what a partial result means.

The function runs where the engine puts it: it must read its own input (a store location and a
partition, never the data itself) and return a small result.

==============  ==========================================================================
``local``       one after the other in this process (no start-up; for a small store, tests)
``processes``   a pool of local worker processes (the default; ``--workers``, default the
                number of CPUs)
``dask``        a Dask cluster: the scheduler at ``--address`` (``tcp://host:8786``), or a
                local cluster of ``--workers`` processes started for the run
==============  ==========================================================================
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

P = TypeVar("P")
R = TypeVar("R")

ENGINES = ("local", "processes", "dask")
DEFAULT_ENGINE = "processes"
SPLITS = ("day", "bucket")
"""The units of work: a day of spans, or one of a day's trace-id buckets (the first: default)."""


class EngineError(Exception):
    """An engine could not start or be reached (no partition ran); the message says the fix."""


@dataclass(frozen=True)
class PartitionFailure(Generic[P]):
    """A partition whose work did not finish.

    Attributes
    ----------
    partition
        The descriptor it was given.
    kind
        The exception's type name (``StoreError``, ``ModuleNotFoundError``, ``KilledWorker``).
    message
        The exception's message.
    detail
        The worker's traceback when there is one (for ``--verbose`` output and logs).
    """

    partition: P
    kind: str
    message: str
    detail: str = ""

    def describe(self) -> str:
        """``<kind>: <message>``."""
        return f"{self.kind}: {self.message}"


@dataclass
class MapResult(Generic[P, R]):
    """Every partition, done or failed, in the order the partitions were given."""

    done: list[tuple[P, R]] = field(default_factory=list)
    failed: list[PartitionFailure[P]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether no partition failed."""
        return not self.failed


Progress = Callable[[int, int, "PartitionFailure[Any] | None"], None]
"""Called after each partition: ``(finished, total, failure or None)``."""


class Engine(Protocol):
    """Runs per-partition work (see the module's documentation)."""

    @property
    def name(self) -> str:
        """``local``, ``processes`` or ``dask``."""
        ...

    @property
    def where(self) -> str:
        """Where it runs, for messages (``4 local processes``, ``tcp://10.0.0.5:8786``)."""
        ...

    def map(
        self, function: Callable[[P], R], partitions: Sequence[P], progress: Progress | None = None
    ) -> MapResult[P, R]:
        """``function`` applied to every partition; failures are part of the result."""
        ...

    def close(self) -> None:
        """Release the workers (an engine started for the run stops them)."""
        ...


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What a worker sends back: the value, or the error as text (any exception can be sent:
    some cannot be pickled)."""

    value: R | None = None
    kind: str | None = None
    message: str = ""
    detail: str = ""


def guarded(function: Callable[[P], R], partition: P) -> Outcome[R]:
    """``function(partition)`` as an :class:`Outcome` (runs in the worker)."""
    try:
        return Outcome(value=function(partition))
    except Exception as exc:  # NOTE: any error of one partition is that partition's failure
        return Outcome(kind=type(exc).__name__, message=str(exc), detail=traceback.format_exc())


def collect(
    partitions: Sequence[P],
    outcomes: dict[int, Outcome[R] | PartitionFailure[P]],
) -> MapResult[P, R]:
    """The result in the partitions' order from outcomes by partition index."""
    result: MapResult[P, R] = MapResult()
    for index, partition in enumerate(partitions):
        got = outcomes[index]
        if isinstance(got, PartitionFailure):
            result.failed.append(got)
        elif got.kind is not None:
            result.failed.append(PartitionFailure(partition, got.kind, got.message, got.detail))
        else:
            result.done.append((partition, got.value))  # type: ignore[arg-type]
    return result


def failure_at(
    partitions: Sequence[P], index: int, outcome: Outcome[Any] | PartitionFailure[P]
) -> PartitionFailure[P] | None:
    """The failure of partition ``index`` that ``outcome`` stands for, or None (for progress)."""
    if isinstance(outcome, PartitionFailure):
        return outcome
    if outcome.kind is not None:
        return PartitionFailure(partitions[index], outcome.kind, outcome.message, outcome.detail)
    return None


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # NOTE: not on macOS or Windows
        return max(1, os.cpu_count() or 1)


def open_engine(name: str, *, address: str | None = None, workers: int | None = None) -> Engine:
    """The engine ``name`` (one of :data:`ENGINES`), started or connected.

    Raises
    ------
    EngineError
        When it cannot start, its library is not installed or the cluster cannot be reached.
    """
    if address is not None and name != "dask":
        raise EngineError(
            f"--address names a Dask scheduler: use it with --engine dask, not {name}"
        )
    if workers is not None and workers < 1:
        raise EngineError(f"--workers {workers}: give at least 1")
    if name == "local":
        from tracelens.engines.local import LocalEngine  # noqa: PLC0415 - cycle

        return LocalEngine()
    if name == "processes":
        from tracelens.engines.processes import ProcessesEngine  # noqa: PLC0415 - cycle

        return ProcessesEngine(workers or default_workers())
    if name == "dask":
        try:
            from tracelens.engines.dask_cluster import DaskEngine  # noqa: PLC0415 - optional
        except ImportError as exc:
            raise EngineError(
                f"the dask engine needs Dask's distributed package ({exc}); install it with: "
                "pip install 'tracelens[distributed]'"
            ) from exc
        return DaskEngine.start(address=address, workers=workers or default_workers())
    raise EngineError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")


__all__ = [
    "DEFAULT_ENGINE",
    "ENGINES",
    "SPLITS",
    "Engine",
    "EngineError",
    "MapResult",
    "Outcome",
    "PartitionFailure",
    "Progress",
    "collect",
    "default_workers",
    "failure_at",
    "guarded",
    "open_engine",
]
