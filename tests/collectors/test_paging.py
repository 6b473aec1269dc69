"""The one pagination helper: token names from botocore's paginator model, loops refused.

Exact-call contracts with botocore's Stubber (the local endpoint never repeats a token).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from collectors.base import RetrySettings
from collectors.lambda_config import LambdaConfigCollector
from collectors.paging import PagingError, tokens


def _lambda() -> Any:
    return boto3.client(  # type: ignore[call-overload]
        "lambda",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_token_names_come_from_botocore() -> None:
    assert tokens("lambda", "2015-03-31", "ListFunctions") == ("Marker", "NextMarker")
    assert tokens("logs", "2014-03-28", "FilterLogEvents") == ("nextToken", "nextToken")
    with pytest.raises(PagingError):
        tokens("logs", "2014-03-28", "GetQueryResults")


def test_an_endpoint_repeating_its_token_is_a_failure_not_a_loop() -> None:
    client = _lambda()
    with Stubber(client) as stub:
        page = {"Functions": [{"FunctionName": "orders"}], "NextMarker": "m1"}
        stub.add_response("list_functions", page)
        again = {"Functions": [{"FunctionName": "payments"}], "NextMarker": "m1"}
        stub.add_response("list_functions", again, {"MaxItems": 50, "Marker": "m1"})
        # the functions listed so far are still read (a denied API is skipped from then on)
        stub.add_response("get_function_concurrency", {})
        stub.add_client_error("list_provisioned_concurrency_configs", "AccessDeniedException")
        stub.add_response("get_function_concurrency", {})
        stub.add_client_error("get_account_settings", "AccessDeniedException")
        result = LambdaConfigCollector(
            client=client, retry=RetrySettings(max_attempts=1, call_attempts=1)
        ).collect()

    assert not result.complete and not result.listed and result.function_list is None
    assert [failure.code for failure in result.failures] == ["PagingError"]
