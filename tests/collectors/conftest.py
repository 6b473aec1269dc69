"""Fixtures of the collector tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.builders.endpoint import Aws


@pytest.fixture
def stubbed_xray(aws: Aws) -> Iterator[tuple[Any, Stubber]]:
    """An X-Ray client as the collectors get it, and its Stubber (for the calls moto lacks:
    GetTraceSegmentDestination, GetIndexingRules); every answer added must be asked for."""
    client = aws.factory().xray()
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()
