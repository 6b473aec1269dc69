"""A moto server on a free loopback port for the integration tests, reset before every test.

Every client talks to it through an explicit ``endpoint_url`` with fake credentials: nothing
here can reach AWS.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from collectors.base import RetrySettings
from collectors.session import AwsTarget, ClientFactory

REGION = "us-east-1"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# botocore may retry once; the collector may call again twice. Kept small so that a test that
# exercises retries stays fast (botocore sleeps up to a second before its retry).
TEST_RETRY = RetrySettings(max_attempts=2, call_attempts=3, connect_timeout_s=2, read_timeout_s=5)


def no_sleep(_: float) -> None:
    """Collectors' own waits, skipped in tests."""


@dataclass(frozen=True)
class Aws:
    """The local endpoint: seeding clients and factories for the collectors' clients."""

    url: str

    def client(self, service: str) -> Any:
        """A client straight to moto, for seeding."""
        return boto3.client(service, endpoint_url=self.url, region_name=REGION)  # type: ignore[call-overload]

    def factory(self, endpoint_url: str | None = None) -> ClientFactory:
        """Clients as the collectors get them (default: straight to moto)."""
        target = AwsTarget(account="test", region=REGION, endpoint_url=endpoint_url or self.url)
        return ClientFactory(target, retry=TEST_RETRY)


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start moto's threaded server on 127.0.0.1 with a free port, fake credentials in env."""
    missing = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_ENV.items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        # NOTE: never read the developer's own AWS config or credentials files.
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
def aws(moto_url: str) -> Aws:
    """A freshly reset moto endpoint."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return Aws(moto_url)
