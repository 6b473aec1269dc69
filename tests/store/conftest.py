"""Fixtures of the store tests: a local store with a ticking clock; a local moto server.

The moto server listens on 127.0.0.1 only and every client gets fake credentials and an
explicit ``endpoint_url``: nothing here can reach AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.builders.endpoint import reset_moto
from tests.builders.results import BUCKET, Ticker, aws_client
from tracelens.store import Store, open_store


@pytest.fixture
def clock() -> Ticker:
    """A clock one second later at every reading."""
    return Ticker()


@pytest.fixture
def store(tmp_path: Path, clock: Ticker) -> Store:
    """An empty local store under the test's temporary directory."""
    return open_store(tmp_path / "store", clock=clock)


@pytest.fixture
def aws_url(moto_url: str) -> str:
    """The moto server, reset: no bucket, trace, metric or log group left from another test."""
    reset_moto(moto_url)
    return moto_url


@pytest.fixture
def s3(aws_url: str) -> Any:
    """An S3 client of the reset moto server, with one empty bucket."""
    client = aws_client(aws_url, "s3")
    client.create_bucket(Bucket=BUCKET)
    return client
