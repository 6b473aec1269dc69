"""A real local Dask cluster of worker processes (``distributed.LocalCluster``) for the engine
tests, started once: ``--engine dask --address`` connects to it as to a remote cluster.

Its workers get the moto server as their S3 endpoint (never AWS), like a team's workers get
their own AWS settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.builders.engines import local_cluster


@pytest.fixture(scope="session")
def dask_address(moto_url: str) -> Iterator[str]:
    """The scheduler of a 2-process cluster whose workers reach S3 at the moto server."""
    cluster = local_cluster(2, {"AWS_ENDPOINT_URL": moto_url})
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()
