"""The one pagination helper: token names from botocore's paginator model, loops refused.

Exact-call contracts with botocore's Stubber (the local endpoint never repeats a token).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from collectors.base import RetrySettings
from collectors.contract import BuildContext
from collectors.lambda_config import LambdaConfigCollector
from collectors.metering import CallMeter
from collectors.paging import Gathered, PagingError, tokens
from tests.builders.stubbed import stubbed_client


def test_token_names_come_from_botocore() -> None:
    assert tokens("lambda", "2015-03-31", "ListFunctions") == ("Marker", "NextMarker")
    assert tokens("logs", "2014-03-28", "FilterLogEvents") == ("nextToken", "nextToken")
    with pytest.raises(PagingError):
        tokens("logs", "2014-03-28", "GetQueryResults")


def test_an_endpoint_repeating_its_token_is_a_failure_not_a_loop() -> None:
    client = stubbed_client("lambda")
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


def test_gathered_keeps_each_page_before_a_failure_and_fills_the_result_fields() -> None:
    client = stubbed_client("lambda")
    settings = RetrySettings(max_attempts=1, call_attempts=1)
    gathered = Gathered(CallMeter(settings=settings, sleep=lambda _: None))
    # NOTE: an exact-call contract (a page, then a refused second page): Stubber, not moto.
    with Stubber(client) as stub:
        stub.add_response("list_functions", {"Functions": [], "NextMarker": "m1"})
        stub.add_client_error("list_functions", "AccessDeniedException")
        api = "lambda:ListFunctions"
        pages = gathered.keep_pages("kind", api, client, "list_functions", {"MaxItems": 1})
        with pytest.raises(ClientError):
            list(pages)

    fields = gathered.fields()
    assert [(p.kind, p.api, dict(p.request)) for p in fields["pages"]] == [
        ("kind", api, {"MaxItems": 1})
    ]
    assert fields["failures"] == () and fields["warnings"] == ()
    assert fields["stats"].api_calls == 2


def test_a_build_context_hands_the_client_with_its_retry_settings_and_waits() -> None:
    def wait(_: float) -> None:
        return None

    retry = RetrySettings(max_attempts=2)
    context = BuildContext(
        factory=None,  # type: ignore[arg-type]
        retry=retry,
        sleep=wait,
        clock=lambda: datetime.now(UTC),
    )
    client = stubbed_client("lambda")
    assert context.client_options(client) == {"client": client, "retry": retry, "sleep": wait}
