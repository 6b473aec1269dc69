"""The Lambda analyses on frames built by the normalizer from segment documents."""

from __future__ import annotations

from typing import Any

import pytest

from analyses.invocations import invocations
from analyses.throttles import downstream_throttles, invocation_throttles

TRACE = "1-66322f00-0123456789abcdef01234567"
FN_ARN = "arn:aws:lambda:us-west-2:123456789012:function:random-name"


def _documents() -> list[dict[str, Any]]:
    caller = {
        "trace_id": TRACE,
        "id": "194fcc8747581230",
        "name": "Scorekeep",
        "start_time": 1714564800.0,
        "end_time": 1714564804.0,
        "origin": "AWS::ElasticBeanstalk::Environment",
        "subsegments": [
            {
                "id": "0c544c1b1bbff948",
                "name": "Lambda",
                "namespace": "aws",
                "start_time": 1714564800.05,
                "end_time": 1714564802.0,
                "http": {"response": {"status": 200}},
                "aws": {
                    "operation": "Invoke",
                    "function_name": "random-name",
                    "request_id": "ac086670-6373-11e7-a174-f31b3397f190",
                    "resource_names": ["random-name"],
                },
            },
            {
                "id": "0c544c1b1bbff949",
                "name": "Lambda",
                "namespace": "aws",
                "start_time": 1714564803.0,
                "end_time": 1714564803.01,
                "throttle": True,
                "error": True,
                "http": {"response": {"status": 429}},
                "cause": {
                    "exceptions": [
                        {
                            "id": "aaaaaaaaaaaaaaaa",
                            "type": "TooManyRequestsException",
                            "message": "Rate Exceeded.",
                        }
                    ]
                },
                "aws": {
                    "operation": "Invoke",
                    "function_name": "random-name",
                    "retries": 1,
                    "resource_names": ["random-name"],
                },
            },
        ],
    }
    service = {
        "trace_id": TRACE,
        "id": "1fb07842d944e714",
        "name": "random-name",
        "parent_id": "0c544c1b1bbff948",
        "origin": "AWS::Lambda",
        "resource_arn": FN_ARN,
        "start_time": 1714564800.1,
        "end_time": 1714564801.9,
        "http": {"response": {"status": 200}},
        "aws": {"request_id": "ac086670-6373-11e7-a174-f31b3397f190"},
    }
    function = {
        "trace_id": TRACE,
        "id": "00f91aa01f4984fd",
        "name": "random-name",
        "parent_id": "1fb07842d944e714",
        "origin": "AWS::Lambda::Function",
        "start_time": 1714564800.83,
        "end_time": 1714564801.85,
        "aws": {"function_arn": FN_ARN, "resource_names": ["random-name"]},
        "subsegments": [
            {
                "id": "2279c0030c955e52",
                "name": "Initialization",
                "start_time": 1714564800.064,
                "end_time": 1714564800.819,
                "aws": {"function_arn": FN_ARN},
            },
            {
                "id": "b29b548af4d54a0f",
                "name": "DynamoDB",
                "namespace": "aws",
                "start_time": 1714564801.0,
                "end_time": 1714564801.2,
                "throttle": True,
                "error": True,
                "http": {"response": {"status": 400}},
                "cause": {
                    "exceptions": [
                        {"id": "bbbbbbbbbbbbbbbb", "type": "ProvisionedThroughputExceededException"}
                    ]
                },
                "aws": {"operation": "PutItem", "table_name": "scores", "retries": 3},
            },
        ],
    }
    inferred = {
        "trace_id": TRACE,
        "id": "17ba309b32c7fbaf",
        "name": "DynamoDB",
        "parent_id": "b29b548af4d54a0f",
        "inferred": True,
        "origin": "AWS::DynamoDB::Table",
        "start_time": 1714564801.0,
        "end_time": 1714564801.2,
        "throttle": True,
        "aws": {"operation": "PutItem", "table_name": "scores"},
    }
    return [caller, service, function, inferred]


@pytest.fixture
def spans():  # type: ignore[no-untyped-def]
    normalize = pytest.importorskip("tracelens.ingest.normalize")
    return normalize.normalize_documents(_documents())


def test_cold_start_from_documents(spans) -> None:  # type: ignore[no-untyped-def]
    row = invocations(spans).row(0, named=True)
    assert row["function_name"] == "random-name"
    assert row["request_id"] == "ac086670-6373-11e7-a174-f31b3397f190"
    assert row["cold_kind"] == "on_demand"
    assert row["init_ms"] == pytest.approx(755.0)
    assert row["init_gap_ms"] == pytest.approx(11.0)
    assert row["duration_ms"] == pytest.approx(1020.0)


def test_throttles_from_documents(spans) -> None:  # type: ignore[no-untyped-def]
    invoked = invocation_throttles(spans).row(0, named=True)
    assert (invoked["source"], invoked["target"]) == ("Scorekeep", "random-name")
    assert invoked["throttled_attempts"] == 2  # the 429 after one retry
    downstream = downstream_throttles(spans)
    assert downstream.select(
        "source", "service", "resource", "operation", "throttled_calls", "calls", "retries"
    ).rows() == [("random-name", "DynamoDB", "scores", "PutItem", 1, 1, 3)]
