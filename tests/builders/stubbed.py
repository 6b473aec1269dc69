"""Clients for botocore's Stubber (an endpoint nothing listens on), and the window the contracts use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from collectors.base import RetrySettings, Window

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


HOUR = Window(T0, T0 + timedelta(hours=1))


RETRY = RetrySettings(max_attempts=1, call_attempts=3)


def stubbed_client(service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
