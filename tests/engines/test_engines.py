"""Every engine maps a function over partitions the same way: results in order, a failing
partition as a typed failure beside the others' results (never an exception)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.builders.engines import FAILING, square_unless_three, worker_pid
from tracelens.engines import EngineError, PartitionFailure, open_engine

PARTITIONS = list(range(6))


def _engines(dask_address: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("local", {}),
        ("processes", {"workers": 2}),
        ("dask", {"address": dask_address}),
    ]


@pytest.mark.slow
def test_every_engine_returns_the_results_and_the_failure(dask_address: str) -> None:
    for name, options in _engines(dask_address):
        engine = open_engine(name, **options)
        calls: list[tuple[int, int, PartitionFailure[Any] | None]] = []

        def progress(*args: Any, seen: list[Any] = calls) -> None:
            seen.append(args)

        try:
            result = engine.map(square_unless_three, PARTITIONS, progress)
        finally:
            engine.close()
        assert result.done == [(n, n * n) for n in PARTITIONS if n != FAILING], name
        (failure,) = result.failed
        assert failure.partition == FAILING and failure.kind == "ValueError", name
        assert failure.message == f"partition {FAILING} cannot be computed"
        assert "square_unless_three" in failure.detail  # the worker's traceback
        assert not result.complete
        assert [c[0] for c in calls] == list(range(1, 7)) and {c[1] for c in calls} == {6}
        assert [c[2].partition for c in calls if c[2] is not None] == [FAILING], name


@pytest.mark.slow
def test_processes_and_dask_run_the_partitions_in_other_processes(dask_address: str) -> None:
    for name, options in _engines(dask_address)[1:]:
        engine = open_engine(name, **options)
        try:
            pids = {pid for _, pid in engine.map(worker_pid, PARTITIONS).done}
        finally:
            engine.close()
        assert os.getpid() not in pids, name


def test_no_partition_no_work() -> None:
    assert open_engine("processes", workers=2).map(square_unless_three, []).done == []


def test_a_single_partition_runs_here_without_starting_a_pool() -> None:
    result = open_engine("processes", workers=2).map(worker_pid, [0])
    assert result.done == [(0, os.getpid())]


def test_address_without_dask_and_bad_worker_counts_are_refused() -> None:
    with pytest.raises(EngineError, match="--engine dask"):
        open_engine("processes", address="tcp://127.0.0.1:8786")
    with pytest.raises(EngineError, match="at least 1"):
        open_engine("processes", workers=0)
    with pytest.raises(EngineError, match="unknown engine"):
        open_engine("spark")


def test_an_unreachable_scheduler_says_what_to_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelens.engines import dask_cluster

    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(
        EngineError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        open_engine("dask", address="tcp://127.0.0.1:9")
