"""CloudWatch collector contracts with botocore's Stubber: query labels, 500 queries per call, empty percentiles, failing groups (moto computes no percentiles)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.stub import Stubber

from collectors.base import Window
from collectors.cloudwatch import CloudWatchCollector, build_queries, metric_label
from tests.builders.stubbed import HOUR, RETRY, T0, stubbed_client


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
    client = stubbed_client("cloudwatch")
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
    client = stubbed_client("cloudwatch")
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
    client = stubbed_client("cloudwatch")
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
