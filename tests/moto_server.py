"""The local AWS-compatible endpoint every integration test talks to: moto's server on 127.0.0.1.

Clients get fake credentials, hidden AWS config files and an explicit endpoint URL, so nothing
in the tests can reach AWS.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

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
