"""Clients for botocore's Stubber (an endpoint nothing listens on), the window the contracts use,
and AWS's answers to the X-Ray calls moto lacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber

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


def answer_destination(stub: Stubber, where: str, status: str = "ACTIVE") -> None:
    """X-Ray's answer to GetTraceSegmentDestination (``where``: ``XRay`` or ``CloudWatchLogs``,
    ``status``: ``ACTIVE`` or ``PENDING``, as botocore's model has them) and, for
    ``CloudWatchLogs``, to GetIndexingRules: the default rule, indexing 1% of the traces."""
    stub.add_response("get_trace_segment_destination", {"Destination": where, "Status": status}, {})
    if where == "CloudWatchLogs":
        rule = {
            "Name": "Default",
            "ModifiedAt": datetime(2026, 1, 5, tzinfo=UTC),
            "Rule": {"Probabilistic": {"DesiredSamplingPercentage": 1.0}},
        }
        stub.add_response("get_indexing_rules", {"IndexingRules": [rule]}, {})
