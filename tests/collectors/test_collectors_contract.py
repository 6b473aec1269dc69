"""Exact-call contracts and rare error paths of the collectors, with botocore's Stubber.

Everything a local endpoint can show is tested in tests/collectors/ against moto; here are
the calls moto cannot answer the way AWS does (pagination, partial traces, the 10,000-row cap,
throttling that outlasts botocore's retries, AccessDenied) and the shipped IAM policy.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

import collectors
from collectors.base import RetrySettings, Window
from collectors.cloudwatch import CloudWatchCollector, build_queries, metric_label
from collectors.lambda_config import GET_FUNCTION, LambdaConfigCollector
from collectors.logs_insights import (
    QUERY_RESULTS,
    SIGNATURES,
    LogsInsightsCollector,
    signature_query,
    simple_query,
)
from collectors.session import AwsTarget, ClientFactory
from collectors.xray import TRACES, XRayCollector

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOUR = Window(T0, T0 + timedelta(hours=1))
RETRY = RetrySettings(max_attempts=1, call_attempts=3)


def _client(service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def xray(sleeps: list[float]) -> Iterator[tuple[XRayCollector, Stubber]]:
    client = _client("xray")
    with Stubber(client) as stub:
        yield XRayCollector(client=client, retry=RETRY, sleep=sleeps.append), stub
        stub.assert_no_pending_responses()


def _tid(n: int) -> str:
    return f"1-66322a40-{n:024x}"


def _summary(n: int, *, revision: int = 1, partial: bool = False) -> dict[str, Any]:
    return {"Id": _tid(n), "Revision": revision, "IsPartial": partial}


def _trace(n: int, **extra: Any) -> dict[str, Any]:
    document = json.dumps({"id": f"{n:016x}", "trace_id": _tid(n), "name": "f"})
    return {
        "Id": _tid(n),
        "Duration": 0.1,
        "Segments": [{"Id": f"{n:016x}", "Document": document}],
        **extra,
    }


def _summaries_call(
    stub: Stubber,
    window: Window,
    ids: list[dict[str, Any]],
    token: str | None = None,
    next_token: str | None = None,
) -> None:
    params: dict[str, Any] = {
        "StartTime": window.start,
        "EndTime": window.end,
        "TimeRangeType": "TraceId",
    }
    if token:
        params["NextToken"] = token
    response: dict[str, Any] = {"TraceSummaries": ids}
    if next_token:
        response["NextToken"] = next_token
    stub.add_response("get_trace_summaries", response, params)


# --- X-Ray ------------------------------------------------------------------------------------


def test_summaries_follow_next_token_over_the_same_window(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1), _summary(2)], next_token="page-2")
    _summaries_call(stub, HOUR, [_summary(3)], token="page-2")
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(n) for n in (1, 2, 3)]},
        {"TraceIds": [_tid(1), _tid(2), _tid(3)]},
    )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(1), _tid(2), _tid(3)}
    assert [page.kind for page in result.pages] == ["xray.get_trace_summaries"] * 2 + [TRACES]
    assert result.complete
    assert result.stats.api_calls == 3


def test_batches_hold_five_distinct_ids_and_follow_next_token(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    # id 3 is listed twice: it is fetched once
    _summaries_call(stub, HOUR, [_summary(n) for n in (1, 2, 3, 3, 4, 5, 6, 7)])
    first = [_tid(n) for n in (1, 2, 3, 4, 5)]
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(1), _trace(2)], "NextToken": "more"},
        {"TraceIds": first},
    )
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(n) for n in (3, 4, 5)]},
        {"TraceIds": first, "NextToken": "more"},
    )
    stub.add_response(
        "batch_get_traces", {"Traces": [_trace(6), _trace(7)]}, {"TraceIds": [_tid(6), _tid(7)]}
    )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(n) for n in range(1, 8)}
    assert result.complete


def test_unprocessed_ids_are_retried_then_reported(
    xray: tuple[XRayCollector, Stubber], sleeps: list[float]
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1), _summary(2)])
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(1)], "UnprocessedTraceIds": [_tid(2)]},
        {"TraceIds": [_tid(1), _tid(2)]},
    )
    for _ in range(3):
        stub.add_response(
            "batch_get_traces",
            {"Traces": [], "UnprocessedTraceIds": [_tid(2)]},
            {"TraceIds": [_tid(2)]},
        )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(1)}
    assert result.failed_ids == {_tid(2)}
    assert not result.complete
    (failure,) = result.failures
    assert (failure.key, failure.code, failure.retryable) == (_tid(2), "UnprocessedTraceId", True)
    assert len(sleeps) == 3


def test_an_unprocessed_id_fetched_on_retry_is_not_failed(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1), _summary(2)])
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(1)], "UnprocessedTraceIds": [_tid(2)]},
        {"TraceIds": [_tid(1), _tid(2)]},
    )
    stub.add_response(
        "batch_get_traces", {"Traces": [_trace(2, LimitExceeded=True)]}, {"TraceIds": [_tid(2)]}
    )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(1), _tid(2)}
    assert result.limit_exceeded_ids == {_tid(2)}
    assert result.failed_ids == frozenset()
    assert result.complete


def test_partial_traces_are_fetched_again_only_when_their_revision_grows(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1, revision=1, partial=True)])
    stub.add_response("batch_get_traces", {"Traces": [_trace(1)]}, {"TraceIds": [_tid(1)]})
    first = collector.collect(HOUR)

    _summaries_call(stub, HOUR, [_summary(1, revision=1, partial=True)])
    unchanged = collector.collect(HOUR, partial={_tid(1): first.revisions[_tid(1)]})

    _summaries_call(stub, HOUR, [_summary(1, revision=2)])
    stub.add_response("batch_get_traces", {"Traces": [_trace(1)]}, {"TraceIds": [_tid(1)]})
    completed = collector.collect(HOUR, partial={_tid(1): 1})

    _summaries_call(stub, HOUR, [_summary(1, revision=2)])
    stored = collector.collect(HOUR, known={_tid(1): completed.revisions[_tid(1)]})

    one = frozenset({_tid(1)})
    assert (first.partial_ids, first.trace_ids) == (one, one)
    assert (unchanged.skipped_ids, unchanged.trace_ids) == (one, frozenset())
    assert (completed.partial_ids, completed.trace_ids) == (frozenset(), one)
    assert (stored.skipped_ids, stored.trace_ids) == (one, frozenset())


def test_a_trace_seen_in_two_spans_is_fetched_once(sleeps: list[float]) -> None:
    client = _client("xray")
    collector = XRayCollector(
        client=client, retry=RETRY, sleep=sleeps.append, max_span=timedelta(minutes=30)
    )
    first, second = HOUR.split(timedelta(minutes=30))
    with Stubber(client) as stub:
        _summaries_call(stub, first, [_summary(1), _summary(2, revision=1)])
        _summaries_call(stub, second, [_summary(2, revision=3), _summary(3)])
        stub.add_response(
            "batch_get_traces",
            {"Traces": [_trace(n) for n in (1, 2, 3)]},
            {"TraceIds": [_tid(1), _tid(2), _tid(3)]},
        )
        result = collector.collect(HOUR)

    assert result.revisions[_tid(2)] == 3
    assert result.trace_ids == {_tid(1), _tid(2), _tid(3)}


def test_a_rejected_range_is_read_in_halves(xray: tuple[XRayCollector, Stubber]) -> None:
    collector, stub = xray
    stub.add_client_error(
        "get_trace_summaries",
        "InvalidRequestException",
        "Time range too large",
        expected_params={"StartTime": HOUR.start, "EndTime": HOUR.end, "TimeRangeType": "TraceId"},
    )
    left, right = HOUR.halves()
    _summaries_call(stub, left, [])
    _summaries_call(stub, right, [])

    result = collector.collect(HOUR)

    assert result.complete
    assert any("reading it in halves" in warning for warning in result.warnings)


def test_throttling_that_outlasts_retries_fails_only_its_batch(
    xray: tuple[XRayCollector, Stubber], sleeps: list[float]
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(n) for n in range(10)])
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(n) for n in range(5)]},
        {"TraceIds": [_tid(n) for n in range(5)]},
    )
    for _ in range(3):
        stub.add_client_error(
            "batch_get_traces",
            "ThrottledException",
            "Rate exceeded",
            429,
            response_meta={"RetryAttempts": 1},
        )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(n) for n in range(5)}
    assert result.failed_ids == {_tid(n) for n in range(5, 10)}
    assert not result.complete
    assert all(f.code == "ThrottledException" and f.retryable for f in result.failures)
    assert result.stats.throttles == 3
    # botocore's retry in each of the 3 responses, plus the collector's 2 calls again
    assert result.stats.retries == 3 + 2
    assert sleeps == [RETRY.backoff_s(1), RETRY.backoff_s(2)]


def test_retry_attempts_in_the_response_metadata_are_counted(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    stub.add_response(
        "get_trace_summaries", {"TraceSummaries": [], "ResponseMetadata": {"RetryAttempts": 2}}
    )

    result = collector.collect(HOUR)

    assert result.stats.retries == 2
    assert result.stats.api_calls == 1


def test_fetch_asks_for_each_id_once(xray: tuple[XRayCollector, Stubber]) -> None:
    collector, stub = xray
    stub.add_response(
        "batch_get_traces", {"Traces": [_trace(1), _trace(2)]}, {"TraceIds": [_tid(1), _tid(2)]}
    )

    result = collector.fetch([_tid(1), _tid(2), _tid(1)])

    assert result.trace_ids == {_tid(1), _tid(2)}
    assert result.window is None


# --- CloudWatch -------------------------------------------------------------------------------


def _metrics(client: Any, now: datetime) -> CloudWatchCollector:
    return CloudWatchCollector(client=client, retry=RETRY, sleep=lambda _: None, clock=lambda: now)


def test_metric_queries_follow_the_label_convention() -> None:
    queries = build_queries(["orders"], account_level=True, period=timedelta(minutes=1))

    assert [q["Id"] for q in queries] == [f"m{i}" for i in range(13)]
    assert [q["Label"] for q in queries] == [
        "orders Invocations Sum",
        "orders Errors Sum",
        "orders Throttles Sum",
        "orders Duration p50",
        "orders Duration p95",
        "orders Duration p99",
        "orders Duration Average",
        "orders ConcurrentExecutions Maximum",
        "orders ProvisionedConcurrencyUtilization Maximum",
        "orders ProvisionedConcurrencySpilloverInvocations Sum",
        "(account) ConcurrentExecutions Maximum",
        "(account) UnreservedConcurrentExecutions Maximum",
        "(account) ClaimedAccountConcurrency Maximum",
    ]
    assert queries[0]["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/Lambda",
            "MetricName": "Invocations",
            "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
        },
        "Period": 60,
        "Stat": "Sum",
    }
    assert queries[-1]["MetricStat"]["Metric"]["Dimensions"] == []
    assert metric_label(None, "ConcurrentExecutions", "Maximum") == queries[10]["Label"]


def test_calls_hold_at_most_500_queries_and_follow_next_token() -> None:
    client = _client("cloudwatch")
    names = [f"fn{i:03d}" for i in range(80)]
    now = T0 + timedelta(hours=2, seconds=42)
    window_start, window_end = T0 - timedelta(minutes=10), HOUR.end
    standard: list[dict[str, Any]] = []
    percentile: list[dict[str, Any]] = []
    for query in build_queries(names, account_level=True, period=timedelta(minutes=1)):
        (standard if query["MetricStat"]["Stat"][0].isupper() else percentile).append(query)
    with Stubber(client) as stub:
        base = {"StartTime": window_start, "EndTime": window_end, "ScanBy": "TimestampAscending"}
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [], "NextToken": "n"},
            {**base, "MetricDataQueries": standard[:500]},
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": []},
            {**base, "MetricDataQueries": standard[:500], "NextToken": "n"},
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": []},
            {**base, "MetricDataQueries": standard[500:]},
        )
        stub.add_response(
            "get_metric_data", {"MetricDataResults": []}, {**base, "MetricDataQueries": percentile}
        )
        result = _metrics(client, now).collect(HOUR, functions=names)
        stub.assert_no_pending_responses()

    assert len(standard) == 80 * 7 + 3
    assert result.stats.api_calls == 4
    assert result.query_window == Window(window_start, window_end)
    assert result.window == HOUR
    assert result.failures == ()


def test_an_empty_percentile_next_to_a_filled_average_is_a_warning() -> None:
    client = _client("cloudwatch")
    ts = [T0 + timedelta(minutes=1)]
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "m6",
                        "Label": "orders Duration Average",
                        "Timestamps": ts,
                        "Values": [12.0],
                        "StatusCode": "Complete",
                    },
                ]
            },
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "m4",
                        "Label": "orders Duration p95",
                        "Timestamps": [],
                        "Values": [],
                        "StatusCode": "Complete",
                    },
                ]
            },
        )
        result = _metrics(client, T0 + timedelta(hours=2)).collect(
            HOUR, functions=["orders"], account_level=False
        )

    assert result.degraded_stats == {"p95"}
    assert result.complete
    assert any("orders Duration p95 returned no datapoints" in w for w in result.warnings)


def test_a_failing_standard_group_makes_the_window_incomplete() -> None:
    client = _client("cloudwatch")
    with Stubber(client) as stub:
        stub.add_client_error("get_metric_data", "InvalidParameterValue", "bad", 400)
        stub.add_response("get_metric_data", {"MetricDataResults": []})
        result = _metrics(client, T0 + timedelta(hours=2)).collect(HOUR, functions=["orders"])

    assert not result.complete
    (failure,) = result.failures
    assert (failure.key, failure.code, failure.retryable) == (
        "standard",
        "InvalidParameterValue",
        False,
    )


# --- Logs Insights ----------------------------------------------------------------------------


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
    client = _client("logs")
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
    client = _client("logs")
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
    client = _client("logs")
    with Stubber(client) as stub:
        _start(stub, HOUR, "q")
        stub.add_response("get_query_results", {"status": status, "results": []})
        result = _logs(client).collect(HOUR, functions=["orders"])

    assert not result.complete
    assert result.failures[0].code == status
    assert result.pages == ()


def test_a_query_still_running_at_the_deadline_is_stopped() -> None:
    client = _client("logs")
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
    client = _client("logs")
    with Stubber(client) as stub:
        stub.add_client_error("start_query", "MalformedQueryException", "unexpected symbol")
        _start(stub, HOUR, "q", query=simple_query())
        stub.add_response("get_query_results", {"status": "Complete", "results": _rows(2, "a")})
        result = _logs(client).collect(HOUR, functions=["orders"])

    assert result.mode == "insights-simple"
    assert result.complete
    assert len(list(result.pages_of(QUERY_RESULTS))) == 1


def test_without_start_query_permission_filter_log_events_is_used() -> None:
    client = _client("logs")
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


# --- Lambda configuration ---------------------------------------------------------------------


def _function(name: str) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:us-east-1:1:function:{name}",
        "MemorySize": 128,
    }


def test_list_functions_follows_the_marker_and_access_denied_is_skipped() -> None:
    client = _client("lambda")
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
    client = _client("lambda")
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


# --- Sessions, settings, windows, the IAM policy ----------------------------------------------


class _SourceSession:
    """A source session whose STS client is stubbed (no credentials chain, no network)."""

    def __init__(self, sts_stub_setup: Any) -> None:
        self.sts = _client("sts")
        self.stub = Stubber(self.sts)
        sts_stub_setup(self.stub)
        self.stub.activate()

    def get_credentials(self) -> Any:
        return boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        ).get_credentials()

    def client(self, service: str, **_: Any) -> Any:
        assert service == "sts"
        return self.sts


def test_the_role_is_assumed_with_the_external_id_on_first_use() -> None:
    def expect(stub: Stubber) -> None:
        stub.add_response(
            "assume_role",
            {
                "Credentials": {
                    "AccessKeyId": "ASIAROLEKEY123456",
                    "SecretAccessKey": "s",
                    "SessionToken": "t",
                    "Expiration": T0 + timedelta(days=3650),
                }
            },
            {
                "RoleArn": "arn:aws:iam::2:role/reader",
                "RoleSessionName": "tracelens",
                "ExternalId": "ext-42",
            },
        )

    source = _SourceSession(expect)
    target = AwsTarget(
        account="b", region="eu-west-1", role_arn="arn:aws:iam::2:role/reader", external_id="ext-42"
    )
    factory = ClientFactory(target, session=source)  # type: ignore[arg-type]

    credentials = factory.session().get_credentials()

    assert credentials is not None
    assert credentials.get_frozen_credentials().access_key == "ASIAROLEKEY123456"
    source.stub.assert_no_pending_responses()
    assert "ext-42" not in repr(target)


def test_targets_and_settings_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="external_id without role_arn"):
        AwsTarget(account="a", region="us-east-1", external_id="x")
    with pytest.raises(ValueError, match="no region"):
        AwsTarget(account="a", region="")
    config = RetrySettings(mode="adaptive", max_attempts=4).botocore_config()
    assert config.retries == {  # type: ignore[attr-defined]
        "mode": "adaptive",
        "total_max_attempts": 4,
    }


def test_windows_split_and_halve_exactly() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        Window(datetime(2024, 1, 1), datetime(2024, 1, 2))
    with pytest.raises(ValueError, match="must be after start"):
        Window(T0, T0)
    parts = Window(T0, T0 + timedelta(minutes=150)).split(timedelta(hours=1))
    assert [p.span for p in parts] == [
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(minutes=30),
    ]
    assert Window(T0, T0 + timedelta(seconds=5)).halves()[0].end == T0 + timedelta(seconds=2)


def test_the_shipped_policy_allows_every_call_and_nothing_that_writes() -> None:
    text = importlib.resources.files("collectors").joinpath(collectors.IAM_POLICY_FILE).read_text()
    policy = json.loads(text)
    allowed = {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
    }
    read_only = re.compile(r"^[a-z0-9-]+:(Get|List|BatchGet|Describe)[A-Za-z]+$")
    # Insights queries only read logs; AssumeRole only obtains credentials to read with.
    known_reads = {"logs:StartQuery", "logs:StopQuery", "logs:FilterLogEvents", "sts:AssumeRole"}

    assert allowed >= collectors.API_CALLS
    assert allowed <= collectors.API_CALLS
    assert all(read_only.match(a) or a in known_reads for a in allowed)
    assert not any("*" in action for action in allowed)
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
