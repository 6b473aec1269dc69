"""Logs Insights collector contracts with botocore's Stubber: the query, the 10,000-row cap, query states and deadlines, fallbacks (moto's Insights runs no query language)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from collectors.base import Window
from collectors.logs_insights import (
    QUERY_RESULTS,
    SIGNATURES,
    LogsInsightsCollector,
    signature_query,
    simple_query,
)
from tests.builders.stubbed import HOUR, RETRY, T0, stubbed_client


class FakeClock:
    """A monotonic clock that advances by ``step_s`` each time it is read."""

    def __init__(self, step_s: float) -> None:
        self.now_s = 0.0
        self.step_s = step_s

    def __call__(self) -> float:
        self.now_s += self.step_s
        return self.now_s


def _logs(client: Any, **kwargs: Any) -> LogsInsightsCollector:
    return LogsInsightsCollector(client=client, retry=RETRY, sleep=lambda _: None, **kwargs)


def _start(
    stub: Stubber,
    window: Window,
    query_id: str,
    *,
    query: str | None = None,
    groups: list[str] | None = None,
) -> None:
    stub.add_response(
        "start_query",
        {"queryId": query_id},
        {
            "logGroupNames": groups or ["/aws/lambda/orders"],
            "startTime": int(window.start.timestamp()),
            "endTime": int(window.end.timestamp()),
            "queryString": query or signature_query(window),
            "limit": 10_000,
        },
    )


def _rows(count: int, tag: str) -> list[list[dict[str, str]]]:
    return [
        [
            {"field": "@message", "value": f"END RequestId: {tag}{i}"},
            {"field": "@log", "value": "1:/aws/lambda/orders"},
        ]
        for i in range(count)
    ]


def test_the_query_reads_platform_lines_in_both_formats() -> None:
    query = signature_query(HOUR)

    assert query.startswith("fields @timestamp, @message, @log, @logStream\n")
    assert f"toMillis(@timestamp) >= {int(HOUR.start.timestamp() * 1000)}" in query
    assert f"toMillis(@timestamp) < {int(HOUR.end.timestamp() * 1000)}" in query
    pattern = re.search(r"like /(.*)/", query)
    assert pattern is not None
    for line in (
        "START RequestId: 1 Version: 3",
        '{"type":"platform.report","record":{}}',
        "Error: getaddrinfo ENOTFOUND db.internal",
        "Temporary failure in name resolution",
        "java.net.UnknownHostException: api",
        "Task timed out after 3.00 seconds",
        "INIT_START Runtime Version: python:3.12",
    ):
        assert re.search(pattern.group(1), line), line
    assert not re.search(pattern.group(1), "processing order 17")
    assert query.endswith("| sort @timestamp asc\n| limit 10000")
    assert len(SIGNATURES) == len(set(SIGNATURES))


def test_a_query_at_the_10000_row_cap_is_split_in_two() -> None:
    client = stubbed_client("logs")
    left, right = HOUR.halves()
    with Stubber(client) as stub:
        _start(stub, HOUR, "q-all")
        stub.add_response(
            "get_query_results", {"status": "Running", "results": []}, {"queryId": "q-all"}
        )
        stub.add_response(
            "get_query_results",
            {"status": "Complete", "results": _rows(10_000, "a")},
            {"queryId": "q-all"},
        )
        _start(stub, left, "q-left")
        stub.add_response(
            "get_query_results",
            {
                "status": "Complete",
                "results": _rows(6_000, "l"),
                "statistics": {"recordsMatched": 6000.0},
            },
            {"queryId": "q-left"},
        )
        _start(stub, right, "q-right")
        stub.add_response(
            "get_query_results",
            {"status": "Complete", "results": _rows(3, "r"), "statistics": {"recordsMatched": 9.0}},
            {"queryId": "q-right"},
        )
        right_left, right_right = right.halves()
        _start(stub, right_left, "q-rl")
        stub.add_response(
            "get_query_results",
            {"status": "Complete", "results": _rows(4, "x")},
            {"queryId": "q-rl"},
        )
        _start(stub, right_right, "q-rr")
        stub.add_response(
            "get_query_results",
            {"status": "Complete", "results": _rows(5, "y")},
            {"queryId": "q-rr"},
        )
        result = _logs(client).collect(HOUR, functions=["orders"])
        stub.assert_no_pending_responses()

    pages = list(result.pages_of(QUERY_RESULTS))
    assert [page.request["queryId"] for page in pages] == ["q-left", "q-rl", "q-rr"]
    assert sum(len(page.response["results"]) for page in pages) == 6_009
    assert result.complete


def test_a_capped_query_at_the_minimum_span_is_kept_and_flagged() -> None:
    client = stubbed_client("logs")
    second = Window(T0, T0 + timedelta(seconds=1))
    with Stubber(client) as stub:
        _start(stub, second, "q")
        stub.add_response(
            "get_query_results", {"status": "Complete", "results": _rows(10_000, "a")}
        )
        result = _logs(client).collect(second, functions=["orders"])

    assert result.truncated == (second,)
    assert len(list(result.pages_of(QUERY_RESULTS))) == 1


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout"])
def test_a_query_that_ends_badly_is_a_failure(status: str) -> None:
    client = stubbed_client("logs")
    with Stubber(client) as stub:
        _start(stub, HOUR, "q")
        stub.add_response("get_query_results", {"status": status, "results": []})
        result = _logs(client).collect(HOUR, functions=["orders"])

    assert not result.complete
    assert result.failures[0].code == status
    assert result.pages == ()


def test_a_query_still_running_at_the_deadline_is_stopped() -> None:
    client = stubbed_client("logs")
    with Stubber(client) as stub:
        _start(stub, HOUR, "q")
        for _ in range(3):
            stub.add_response("get_query_results", {"status": "Running", "results": []})
        stub.add_response("stop_query", {"success": True}, {"queryId": "q"})
        result = _logs(client, query_timeout_s=25.0, monotonic=FakeClock(10.0)).collect(
            HOUR, functions=["orders"]
        )
        stub.assert_no_pending_responses()

    assert result.failures[0].code == "PollTimeout"
    assert not result.complete


def test_a_rejected_query_falls_back_to_a_plain_one() -> None:
    client = stubbed_client("logs")
    with Stubber(client) as stub:
        stub.add_client_error("start_query", "MalformedQueryException", "unexpected symbol")
        _start(stub, HOUR, "q", query=simple_query())
        stub.add_response("get_query_results", {"status": "Complete", "results": _rows(2, "a")})
        result = _logs(client).collect(HOUR, functions=["orders"])

    assert result.mode == "insights-simple"
    assert result.complete
    assert len(list(result.pages_of(QUERY_RESULTS))) == 1


def test_without_start_query_permission_filter_log_events_is_used() -> None:
    client = stubbed_client("logs")
    end_ms = int(HOUR.end.timestamp() * 1000)
    base = {
        "logGroupName": "/aws/lambda/orders",
        "startTime": int(HOUR.start.timestamp() * 1000),
        "endTime": end_ms - 1,
        "filterPattern": ANY,
    }
    with Stubber(client) as stub:
        stub.add_client_error("start_query", "AccessDeniedException", "not authorized", 400)
        stub.add_response(
            "filter_log_events",
            {"events": [{"message": "END RequestId: 1", "timestamp": 1}], "nextToken": "t"},
            base,
        )
        stub.add_response(
            "filter_log_events",
            {"events": [{"message": "END RequestId: 2", "timestamp": 2}]},
            {**base, "nextToken": "t"},
        )
        result = _logs(client).collect(HOUR, functions=["orders"])
        stub.assert_no_pending_responses()

    assert result.mode == "filter-log-events"
    assert [len(p.response["events"]) for p in result.pages_of("logs.filter_log_events")] == [1, 1]
    assert result.complete
