"""Fixtures of the store tests: a local store with a ticking clock; a local moto server.

The moto server listens on 127.0.0.1 only and every client gets fake credentials and an
explicit ``endpoint_url``: nothing here can reach AWS.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.store.results import REGION, Ticker
from tracelens.store import Store, open_store


@pytest.fixture
def clock() -> Ticker:
    """A clock one second later at every reading."""
    return Ticker()


@pytest.fixture
def store(tmp_path: Path, clock: Ticker) -> Store:
    """An empty local store under the test's temporary directory."""
    return open_store(tmp_path / "store", clock=clock)


FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
BUCKET = "tracelens-test"


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's threaded server on a free loopback port, with fake credentials only."""
    missing = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_ENV.items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(Path(missing)))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(Path(missing)))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def aws_url(moto_url: str) -> str:
    """The moto server, reset: no bucket, trace, metric or log group left from another test."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_url


def aws_client(url: str, service: str) -> Any:
    """A client of ``service`` on the local endpoint."""
    return boto3.client(service, endpoint_url=url, region_name=REGION)  # type: ignore[call-overload]


@pytest.fixture
def s3(aws_url: str) -> Any:
    """An S3 client of the reset moto server, with one empty bucket."""
    client = aws_client(aws_url, "s3")
    client.create_bucket(Bucket=BUCKET)
    return client
