"""The local AWS-compatible endpoint every integration test talks to: moto's server on 127.0.0.1.

Clients get fake credentials, hidden AWS config files and an explicit endpoint URL, so nothing
in the tests can reach AWS. The ``moto_url`` and ``aws`` fixtures (tests/conftest.py) serve it.
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
    "AWS_DEFAULT_REGION": REGION,
}
CLEARED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
# botocore may retry once; the collector may call again twice. Kept small so that a test that
# exercises retries stays fast (botocore sleeps up to a second before its retry).
TEST_RETRY = RetrySettings(max_attempts=2, call_attempts=3, connect_timeout_s=2, read_timeout_s=5)


def serve_moto(aws_home: Path) -> Iterator[str]:
    """Run moto's threaded server on a free loopback port while the generator is open."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_ENV.items():
            env.setenv(name, value)
        for name in CLEARED_ENV:
            env.delenv(name, raising=False)
        # NOTE: never read the developer's own AWS config or credentials files.
        env.setenv("AWS_CONFIG_FILE", str(aws_home / "config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws_home / "credentials"))
        logging.getLogger("werkzeug").disabled = True
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def reset_moto(url: str) -> None:
    """Forget every resource: each test starts from an empty account."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def no_sleep(_: float) -> None:
    """Collectors' own waits, skipped in tests."""


@dataclass(frozen=True)
class Aws:
    """The local endpoint, freshly reset: clients for seeding and checking, collectors' factories."""

    url: str

    def client(self, service: str) -> Any:
        """A client straight to moto."""
        return boto3.client(service, endpoint_url=self.url, region_name=REGION)  # type: ignore[call-overload]

    def factory(self, endpoint_url: str | None = None) -> ClientFactory:
        """Clients as the collectors get them (default: straight to moto)."""
        target = AwsTarget(account="test", region=REGION, endpoint_url=endpoint_url or self.url)
        return ClientFactory(target, retry=TEST_RETRY)

    def queue(self, name: str) -> tuple[str, str]:
        """A new SQS queue: (url, arn)."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, attributes["Attributes"]["QueueArn"]

    def received(self, queue_url: str) -> list[str]:
        """Bodies of the messages waiting in a queue."""
        sqs = self.client("sqs")
        bodies: list[str] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def recorded_calls(client: Any) -> list[str]:
    """The operations ``client`` sends from now on, in order (appended as they are sent)."""
    sent: list[str] = []
    client.meta.events.register(
        "before-call", lambda model, **_: sent.append(model.name), unique_id="test-calls"
    )
    return sent
