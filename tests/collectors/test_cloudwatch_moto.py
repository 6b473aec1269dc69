"""CloudWatchCollector against moto's GetMetricData (JSON protocol over HTTP).

moto computes Sum/Average/Maximum/Minimum/SampleCount but fails the whole call (HTTP 500) when
a percentile statistic meets data, never paginates, and matches a no-dimension (account level)
query against datapoints of every dimension set.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.base import Window, floor_time
from collectors.cloudwatch import METRIC_DATA, CloudWatchCollector, MetricsResult
from tests.builders.endpoint import TEST_RETRY, Aws, no_sleep
from tracelens.agent.seed import put_metric

pytestmark = pytest.mark.integration

MINUTE = timedelta(minutes=1)
LAG = timedelta(minutes=10)


def _datapoints(result: MetricsResult) -> Counter[tuple[str, datetime, float]]:
    """(label, timestamp, value) of every datapoint in the result's pages."""
    points: Counter[tuple[str, datetime, float]] = Counter()
    for page in result.pages_of(METRIC_DATA):
        for series in page.response["MetricDataResults"]:
            for ts, value in zip(series["Timestamps"], series["Values"], strict=True):
                points[(series["Label"], ts, value)] += 1
    return points


def _collector(aws: Aws, now: datetime) -> CloudWatchCollector:
    return CloudWatchCollector(
        client=aws.factory().cloudwatch(), retry=TEST_RETRY, sleep=no_sleep, clock=lambda: now
    )


def _seed(cloudwatch: Any, now: datetime) -> list[datetime]:
    minutes = [now - timedelta(minutes=m) for m in (30, 25, 20)]
    for function, base in (("orders", 10.0), ("payments", 100.0)):
        put_metric(cloudwatch, "Invocations", [(ts, base) for ts in minutes], function=function)
        put_metric(cloudwatch, "Errors", [(minutes[0], 1.0)], function=function)
        put_metric(
            cloudwatch,
            "Duration",
            [(ts + timedelta(seconds=s), base + s) for ts in minutes for s in (0, 10, 20)],
            function=function,
        )
    put_metric(cloudwatch, "UnreservedConcurrentExecutions", [(minutes[1], 7.0)])
    put_metric(cloudwatch, "ClaimedAccountConcurrency", [(minutes[1], 12.0)])
    return minutes


def test_labels_values_and_degraded_percentiles(aws: Aws) -> None:
    now = floor_time(datetime.now(UTC), MINUTE)
    minutes = _seed(aws.client("cloudwatch"), now)

    result = _collector(aws, now).collect(
        Window(now - timedelta(hours=1), now), functions=["orders", "payments"], lag=LAG
    )

    points = _datapoints(result)
    assert max(points.values()) == 1  # every datapoint exactly once
    assert {("orders Invocations Sum", ts, 10.0) for ts in minutes} <= set(points)
    assert ("payments Errors Sum", minutes[0], 1.0) in points
    assert ("orders Duration Average", minutes[0], 20.0) in points  # mean of 10, 20, 30
    assert ("payments Duration Maximum", minutes[0], 120.0) not in points  # not queried
    assert ("(account) UnreservedConcurrentExecutions Maximum", minutes[1], 7.0) in points
    assert ("(account) ClaimedAccountConcurrency Maximum", minutes[1], 12.0) in points
    labels = {
        s["Label"] for p in result.pages_of(METRIC_DATA) for s in p.response["MetricDataResults"]
    }
    assert len(labels) == 2 * 7 + 3  # the standard statistics of 2 functions and the account
    assert result.degraded_stats == {"p50", "p95", "p99"}
    assert any("percentile statistics failed" in warning for warning in result.warnings)
    assert result.complete
    assert result.failures == ()
    assert result.window == Window(now - timedelta(hours=1), now - LAG)


def test_without_percentiles_none_is_asked_for_and_they_stay_unknown(aws: Aws) -> None:
    now = floor_time(datetime.now(UTC), MINUTE)
    minutes = _seed(aws.client("cloudwatch"), now)
    collector = CloudWatchCollector(
        client=aws.factory().cloudwatch(),
        retry=TEST_RETRY,
        sleep=no_sleep,
        clock=lambda: now,
        percentiles=False,
    )

    result = collector.collect(
        Window(now - timedelta(hours=1), now), functions=["orders", "payments"], lag=LAG
    )

    asked = {
        query["MetricStat"]["Stat"]
        for page in result.pages_of(METRIC_DATA)
        for query in page.request["MetricDataQueries"]
    }
    assert asked.isdisjoint({"p50", "p95", "p99"})
    assert ("orders Duration Average", minutes[0], 20.0) in _datapoints(result)
    assert result.degraded_stats == {"p50", "p95", "p99"}  # unknown, not zero
    assert result.warnings == ()  # nothing failed: nothing to say
    assert result.stats.api_calls == 1
    assert result.complete


def test_the_trailing_lag_is_read_again_and_picks_up_late_datapoints(aws: Aws) -> None:
    now = floor_time(datetime.now(UTC), MINUTE)
    cloudwatch = aws.client("cloudwatch")
    late_minute = now - timedelta(minutes=15)
    put_metric(cloudwatch, "Invocations", [(late_minute, 4.0)], function="orders")

    first = _collector(aws, now).collect(
        Window(now - timedelta(hours=1), now), functions=["orders"], lag=LAG, account_level=False
    )
    put_metric(cloudwatch, "Invocations", [(late_minute, 3.0)], function="orders")  # arrives late
    later = now + timedelta(minutes=5)
    assert first.window is not None
    second = _collector(aws, later).collect(
        Window(first.window.end, later), functions=["orders"], lag=LAG, account_level=False
    )

    assert first.window.end == now - LAG
    assert ("orders Invocations Sum", late_minute, 4.0) in _datapoints(first)
    assert second.query_window == Window(now - 2 * LAG, later - LAG)
    assert ("orders Invocations Sum", late_minute, 7.0) in _datapoints(second)


def test_a_window_that_ends_inside_the_lag_reads_nothing_yet(aws: Aws) -> None:
    now = floor_time(datetime.now(UTC), MINUTE)

    result = _collector(aws, now).collect(
        Window(now - timedelta(minutes=5), now), functions=["orders"], lag=LAG
    )

    assert result.pages == ()
    assert result.window is None
    assert result.stats.api_calls == 0
