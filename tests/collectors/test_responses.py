"""Answers cut short: the keys each API always returns, checked on every call a collector makes.

The X-Ray case runs through botocore's Stubber (an exact-call contract: a stubbed 200 whose
body lacks ``TraceSummaries``); the byte-level truncation runs against the local endpoint in
tests/collectors/test_fault_injection.py.
"""

from __future__ import annotations

import botocore.session
from botocore.stub import Stubber

import collectors
from collectors.responses import REQUIRED_KEYS, missing_keys
from collectors.xray import XRayCollector
from tests.builders.stubbed import HOUR, RETRY, T0, stubbed_client

_SERVICES = {"cloudwatch": "cloudwatch", "logs": "logs", "lambda": "lambda", "xray": "xray"}


def test_every_api_the_collectors_call_has_its_rule_and_every_key_is_in_the_model() -> None:
    session = botocore.session.get_session()
    for api in collectors.API_CALLS - {"sts:AssumeRole"}:
        assert api in REQUIRED_KEYS, api
    for api, keys in REQUIRED_KEYS.items():
        prefix, operation = api.split(":")
        model = session.get_service_model(_SERVICES[prefix]).operation_model(operation)
        assert model.output_shape is not None
        assert keys <= set(model.output_shape.members), api


def test_a_query_result_needs_its_rows_only_once_complete() -> None:
    assert missing_keys("logs:GetQueryResults", {"status": "Running"}) == []
    assert missing_keys("logs:GetQueryResults", {"status": "Complete"}) == ["results"]
    assert missing_keys("logs:GetQueryResults", {}) == ["status"]
    assert missing_keys("lambda:GetFunctionConcurrency", {}) == []


def test_a_summaries_answer_without_its_list_is_retried_then_a_failure() -> None:
    client = stubbed_client("xray")
    sleeps: list[float] = []
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response("get_trace_summaries", {"ApproximateTime": T0})
        result = XRayCollector(client=client, retry=RETRY, sleep=sleeps.append).collect(HOUR)
        stub.assert_no_pending_responses()

    assert not result.complete
    (failure,) = result.failures
    assert (failure.api, failure.code, failure.retryable) == (
        "xray:GetTraceSummaries",
        "IncompleteResponse",
        True,
    )
    assert "TraceSummaries" in failure.message
    assert result.stats.retries == 2 and len(sleeps) == 2
    assert not result.pages
