"""LambdaConfigCollector against moto's Lambda.

moto 5.2.5 has ListFunctions (without Marker pagination) and GetFunctionConcurrency, but no
ListProvisionedConcurrencyConfigs and no GetAccountSettings (both answer 404): the collector
skips them with a warning.
"""

from __future__ import annotations

import pytest

from collectors.lambda_config import (
    GET_FUNCTION,
    LIST_FUNCTIONS,
    LambdaConfigCollector,
)
from tests.builders.endpoint import TEST_RETRY, Aws, no_sleep
from tracelens.agent.seed import create_functions

pytestmark = pytest.mark.integration

NAMES = ["orders", "payments", "switched-off"]


def test_functions_and_reserved_concurrency_in_cli_shapes(aws: Aws) -> None:
    lambda_client = aws.client("lambda")
    create_functions(aws.client("iam"), lambda_client, NAMES)
    lambda_client.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=5)
    lambda_client.put_function_concurrency(
        FunctionName="switched-off", ReservedConcurrentExecutions=0
    )

    result = LambdaConfigCollector(
        client=aws.factory().lambda_(), retry=TEST_RETRY, sleep=no_sleep
    ).collect()

    assert sorted(result.function_names) == NAMES
    (listing,) = result.pages_of(LIST_FUNCTIONS)
    assert {f["MemorySize"] for f in listing.response["Functions"]} == {256}
    functions = {
        page.response["Configuration"]["FunctionName"]: page.response
        for page in result.pages_of(GET_FUNCTION)
    }
    assert functions["orders"]["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    assert functions["switched-off"]["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    assert "Concurrency" not in functions["payments"]
    assert functions["payments"]["Configuration"]["Timeout"] == 10


def test_apis_the_endpoint_lacks_are_skipped_once_with_a_warning(aws: Aws) -> None:
    create_functions(aws.client("iam"), aws.client("lambda"), NAMES)

    result = LambdaConfigCollector(
        client=aws.factory().lambda_(), retry=TEST_RETRY, sleep=no_sleep
    ).collect(functions={"orders", "payments"})

    assert result.skipped_apis == {
        "lambda:ListProvisionedConcurrencyConfigs",
        "lambda:GetAccountSettings",
    }
    assert len(result.warnings) == 2
    assert all("not offered by endpoint (404)" in warning for warning in result.warnings)
    assert result.complete
    # one listing, two concurrency reads, one provisioned-concurrency try, one account try
    assert result.stats.api_calls == 5
    assert len(list(result.pages_of(GET_FUNCTION))) == 2
