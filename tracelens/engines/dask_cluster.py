"""The ``dask`` engine: the partitions as tasks of a Dask cluster (``distributed``).

With an address (``tcp://scheduler:8786``) it connects to a running cluster (started with
``dask scheduler`` and ``dask worker``, a dask-cloudprovider cluster on AWS, Kubernetes...);
without one it starts a local cluster of worker processes for the run and stops it after.

Workers run the function by importing its module: they need tracelens installed (the image of
``deploy/Dockerfile``), at the driver's version, and their own access to the store (the same
AWS credentials or role, endpoint and network path to S3). Only partition descriptors go to the
workers and only the small results come back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import distributed

from tracelens.engines import (
    EngineError,
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

# NOTE: distributed's functions are not fully typed
_dask: Any = distributed

CONNECT_TIMEOUT_S = 20
WORKERS_TIMEOUT_S = 60


class DaskEngine:
    """A ``distributed.Client`` and, when the engine started it, its local cluster."""

    name = "dask"

    def __init__(self, client: Any, cluster: Any | None, where: str) -> None:
        self._client = client
        self._cluster = cluster
        self._where = where

    @property
    def where(self) -> str:
        return self._where

    @classmethod
    def start(cls, *, address: str | None, workers: int) -> DaskEngine:
        """Connect to the scheduler at ``address``, else start ``workers`` local processes."""
        if address is None:
            try:
                cluster = _dask.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # NOTE: the scheduler serves /health and /metrics even without the
                    # dashboard, by default on :8787, warning "Port 8787 is already in use"
                    # when another cluster holds it: a free port on loopback instead
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.ERROR,
                )
            except Exception as exc:  # NOTE: any start-up failure is the engine's
                raise EngineError(f"cannot start a local Dask cluster: {exc}") from exc
            return cls(
                _dask.Client(cluster), cluster, f"a local Dask cluster of {workers} process(es)"
            )
        try:
            client = _dask.Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise EngineError(
                f"cannot reach the Dask scheduler at {address} ({exc}); check the address "
                "(tcp://host:8786), that the scheduler runs and that this machine can reach its "
                "port"
            ) from exc
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except TimeoutError as exc:
            client.close()
            raise EngineError(
                f"the Dask scheduler at {address} has no worker after {WORKERS_TIMEOUT_S}s; "
                f"start one with `dask worker {address}` (tracelens installed)"
            ) from exc
        return cls(client, None, f"the Dask cluster at {address}")

    def map(
        self, function: Callable[[P], R], partitions: Sequence[P], progress: Progress | None = None
    ) -> MapResult[P, R]:
        futures = [
            self._client.submit(guarded, function, partition, pure=False)
            for partition in partitions
        ]
        index_of = {future.key: index for index, future in enumerate(futures)}
        outcomes: dict[int, Outcome[R] | PartitionFailure[P]] = {}
        for finished, future in enumerate(_dask.as_completed(futures), start=1):
            index = index_of[future.key]
            if future.status == "finished":
                outcomes[index] = future.result()
            else:
                # NOTE: the task itself failed: the worker could not load it (tracelens
                # missing there), died, or the result did not come back
                error = future.exception()
                outcomes[index] = PartitionFailure(
                    partitions[index], type(error).__name__, _hint(str(error) or repr(error))
                )
            future.release()
            if progress is not None:
                progress(finished, len(partitions), failure_at(partitions, index, outcomes[index]))
        return collect(partitions, outcomes)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _hint(message: str) -> str:
    if "No module named" in message:
        return (
            f"{message} (the Dask workers lack it: run them from the tracelens image, "
            "deploy/Dockerfile, or pip install tracelens on them)"
        )
    return message
