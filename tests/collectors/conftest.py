"""A moto server on a free loopback port for the integration tests, reset before every test.

Every client talks to it through an explicit ``endpoint_url`` with fake credentials: nothing
here can reach AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from collectors.base import RetrySettings
from collectors.session import AwsTarget, ClientFactory
from tests.moto_server import REGION, reset_moto

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


@pytest.fixture
def aws(moto_url: str) -> Aws:
    """A freshly reset moto endpoint."""
    reset_moto(moto_url)
    return Aws(moto_url)
