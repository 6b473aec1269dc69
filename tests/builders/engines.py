"""Per-partition functions for the engine tests: module-level, so every engine's workers can
import them by name (as they import tracelens's own)."""

from __future__ import annotations

import logging
import os
from typing import Any

FAILING = 3


def square_unless_three(n: int) -> int:
    """``n * n``; ``ValueError`` for :data:`FAILING` (a partition that fails)."""
    if n == FAILING:
        raise ValueError(f"partition {n} cannot be computed")
    return n * n


def worker_pid(_: int) -> int:
    """The process the partition ran in."""
    return os.getpid()


def local_cluster(workers: int, env: dict[str, str]) -> Any:
    """A real Dask cluster of ``workers`` processes on 127.0.0.1 with ``env`` set in each
    worker (its AWS settings); close it after use."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # NOTE: not 8787 (warns if held)
        silence_logs=logging.ERROR,
        env=env,
    )
