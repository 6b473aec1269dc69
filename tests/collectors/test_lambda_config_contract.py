"""Lambda configuration collector contracts with botocore's Stubber: markers, AccessDenied, throttling that outlasts retries."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

from collectors.lambda_config import GET_FUNCTION, LambdaConfigCollector
from tests.builders.stubbed import RETRY, stubbed_client


def _function(name: str) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:us-east-1:1:function:{name}",
        "MemorySize": 128,
    }


def test_list_functions_follows_the_marker_and_access_denied_is_skipped() -> None:
    client = stubbed_client("lambda")
    with Stubber(client) as stub:
        stub.add_response(
            "list_functions", {"Functions": [_function("a")], "NextMarker": "m"}, {"MaxItems": 50}
        )
        stub.add_response(
            "list_functions", {"Functions": [_function("b")]}, {"MaxItems": 50, "Marker": "m"}
        )
        stub.add_response(
            "get_function_concurrency", {"ReservedConcurrentExecutions": 3}, {"FunctionName": "a"}
        )
        stub.add_response(
            "list_provisioned_concurrency_configs",
            {"ProvisionedConcurrencyConfigs": [], "NextMarker": "p"},
            {"FunctionName": "a"},
        )
        stub.add_response(
            "list_provisioned_concurrency_configs",
            {"ProvisionedConcurrencyConfigs": []},
            {"FunctionName": "a", "Marker": "p"},
        )
        stub.add_client_error(
            "get_function_concurrency", "ResourceNotFoundException", "Function not found", 404
        )
        stub.add_response(
            "list_provisioned_concurrency_configs",
            {"ProvisionedConcurrencyConfigs": []},
            {"FunctionName": "b"},
        )
        stub.add_client_error(
            "get_account_settings", "AccessDeniedException", "not authorized", 403
        )
        result = LambdaConfigCollector(client=client, retry=RETRY, sleep=lambda _: None).collect()
        stub.assert_no_pending_responses()

    assert result.function_names == ("a", "b")
    (page,) = result.pages_of(GET_FUNCTION)
    assert page.response == {
        "Configuration": _function("a"),
        "Concurrency": {"ReservedConcurrentExecutions": 3},
    }
    assert result.skipped_apis == {"lambda:GetAccountSettings"}
    assert any("not permitted" in w for w in result.warnings)
    assert any("deleted meanwhile" in w for w in result.warnings)
    assert result.complete


def test_lambda_throttling_that_outlasts_retries_is_a_failure() -> None:
    client = stubbed_client("lambda")
    with Stubber(client) as stub:
        stub.add_response("list_functions", {"Functions": [_function("a")]})
        for _ in range(3):
            stub.add_client_error(
                "get_function_concurrency", "TooManyRequestsException", "Rate exceeded", 429
            )
        stub.add_response(
            "list_provisioned_concurrency_configs", {"ProvisionedConcurrencyConfigs": []}
        )
        stub.add_response("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": 1000}})
        result = LambdaConfigCollector(client=client, retry=RETRY, sleep=lambda _: None).collect()

    assert not result.complete
    assert result.failures[0].code == "TooManyRequestsException"
    assert result.stats.throttles == 3
