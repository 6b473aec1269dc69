"""All collectors through the fault-injecting proxy: nothing lost, nothing twice, all counted.

Each source is collected twice from the same seeded moto state: straight from moto (the
baseline) and through :class:`FaultProxy` (throttles, 5xx, slow responses at a fixed seed).
The two must hold the same traces, datapoints, log lines and functions, each exactly once,
and the runs through the proxy must count every throttle it injected.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff

import collectors
from collectors.base import CollectorResult, RetrySettings, Window, floor_time
from collectors.cloudwatch import METRIC_DATA, CloudWatchCollector
from collectors.lambda_config import GET_FUNCTION, LambdaConfigCollector
from collectors.logs_insights import QUERY_RESULTS, LogsInsightsCollector
from collectors.session import ClientFactory
from collectors.xray import TRACES, XRayCollector
from tests.builders.endpoint import TEST_RETRY, Aws, no_sleep
from tests.builders.fault_proxy import FaultPlan, FaultProxy
from tests.builders.traces import lambda_trace, segments_of, utc
from tracelens.agent.seed import create_functions, put_log_lines, put_metric, put_segments

pytestmark = pytest.mark.integration

FUNCTIONS = ["orders", "payments", "stock"]
PLAN = FaultPlan(throttle_rate=0.3, server_error_rate=0.1, slow_rate=0.1, seed=20240611)


@pytest.fixture(autouse=True)
def _short_botocore_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore waits up to 1 s before retrying a throttle: shorten that to keep this fast.

    botocore's retry logic itself (which errors, how many attempts) is unchanged.
    """
    monkeypatch.setattr(
        ExponentialBackoff,
        "_DEFAULT_BACKOFF_CONFIG",
        {"throttling_base_scale": 0.01, "non_throttling_base_scale": 0.01},
    )


@dataclass(frozen=True)
class Runs:
    """One result per source."""

    xray: CollectorResult
    metrics: CollectorResult
    logs: CollectorResult
    config: CollectorResult

    def all(self) -> list[CollectorResult]:
        return [self.xray, self.metrics, self.logs, self.config]


def _seed(aws: Aws, now: datetime) -> None:
    rng = random.Random(11)
    now_s = now.timestamp()
    put_segments(
        aws.client("xray"),
        segments_of(*(lambda_trace(rng, now_s - 1700 + 71 * i) for i in range(23))),
    )
    cloudwatch = aws.client("cloudwatch")
    for offset, function in enumerate(FUNCTIONS):
        points = [(now - timedelta(minutes=m), float(m + offset)) for m in range(12, 40, 3)]
        put_metric(cloudwatch, "Invocations", points, function=function)
        put_metric(cloudwatch, "Throttles", points[::2], function=function)
    logs = aws.client("logs")
    first_ms = int(now_s - 1500) * 1000 + 125
    for function in FUNCTIONS:
        lines = [
            (first_ms + 9_250 * i, f"REPORT RequestId: {function}-{i}\tDuration: {i}.5 ms")
            for i in range(30)
        ]
        put_log_lines(logs, function, lines)
    create_functions(aws.client("iam"), aws.client("lambda"), FUNCTIONS)


@contextmanager
def _recording_calls(factory: ClientFactory, calls: set[str]) -> Iterator[dict[str, Any]]:
    """Clients that record every operation they call as an IAM action."""

    def record(model: Any, **_: Any) -> None:
        prefix = {"monitoring": "cloudwatch"}.get(model.service_model.signing_name)
        calls.add(f"{prefix or model.service_model.signing_name}:{model.name}")

    clients = {
        "xray": factory.xray(),
        "cloudwatch": factory.cloudwatch(),
        "logs": factory.logs(),
        "lambda": factory.lambda_(),
    }
    for client in clients.values():
        client.meta.events.register("before-call", record)
    yield clients


def _collect(factory: ClientFactory, now: datetime, calls: set[str]) -> Runs:
    window = Window(now - timedelta(hours=1), now)
    with _recording_calls(factory, calls) as clients:
        return Runs(
            xray=XRayCollector(client=clients["xray"], retry=TEST_RETRY, sleep=no_sleep).collect(
                window
            ),
            metrics=CloudWatchCollector(
                client=clients["cloudwatch"], retry=TEST_RETRY, sleep=no_sleep, clock=lambda: now
            ).collect(window, functions=FUNCTIONS, account_level=False),
            logs=LogsInsightsCollector(
                client=clients["logs"], retry=TEST_RETRY, sleep=no_sleep, poll_interval_s=0.0
            ).collect(window, functions=FUNCTIONS),
            config=LambdaConfigCollector(
                client=clients["lambda"], retry=TEST_RETRY, sleep=no_sleep
            ).collect(),
        )


def _traces(result: CollectorResult) -> Counter[str]:
    return Counter(
        json.dumps(trace, sort_keys=True)
        for page in result.pages_of(TRACES)
        for trace in page.response["Traces"]
    )


def _datapoints(result: CollectorResult) -> Counter[tuple[str, datetime, float]]:
    return Counter(
        (series["Label"], ts, value)
        for page in result.pages_of(METRIC_DATA)
        for series in page.response["MetricDataResults"]
        for ts, value in zip(series["Timestamps"], series["Values"], strict=True)
    )


def _log_rows(result: CollectorResult) -> Counter[str]:
    return Counter(
        json.dumps(row, sort_keys=True)
        for page in result.pages_of(QUERY_RESULTS)
        for row in page.response["results"]
    )


def _functions(result: CollectorResult) -> list[Any]:
    return sorted(
        (json.dumps(page.response, sort_keys=True) for page in result.pages_of(GET_FUNCTION)),
    )


def test_every_item_arrives_exactly_once_and_every_throttle_is_counted(aws: Aws) -> None:
    now = floor_time(datetime.now(UTC), timedelta(minutes=1))
    _seed(aws, now)
    calls: set[str] = set()
    baseline = _collect(aws.factory(), now, calls)

    with FaultProxy(aws.url, PLAN) as proxy:
        faulty = _collect(aws.factory(proxy.url), now, calls)

    assert len(_traces(baseline.xray)) == 23
    assert _traces(faulty.xray) == _traces(baseline.xray)
    assert max(_traces(faulty.xray).values()) == 1
    assert len(_datapoints(baseline.metrics)) == 3 * 10 + 3 * 5
    assert _datapoints(faulty.metrics) == _datapoints(baseline.metrics)
    assert len(_log_rows(baseline.logs)) == 3 * 30
    assert _log_rows(faulty.logs) == _log_rows(baseline.logs)
    assert _functions(faulty.config) == _functions(baseline.config)
    assert len(_functions(faulty.config)) == 3
    assert all(result.complete for result in faulty.all())

    throttles = proxy.injected_count("throttle")
    assert throttles > 5
    assert proxy.injected_count("server_error") > 0
    assert proxy.injected_count("slow") > 0
    assert sum(result.stats.throttles for result in faulty.all()) == throttles
    # every injected throttle or 5xx was answered by exactly one request sent again
    sources = zip(faulty.all(), ("xray", "monitoring", "logs", "lambda"), strict=True)
    for result, service in sources:
        injected = proxy.injected_count("throttle", services={service}) + proxy.injected_count(
            "server_error", services={service}
        )
        assert result.stats.retries == injected, service
    assert calls <= collectors.API_CALLS


def test_timed_out_slow_responses_are_retried_without_duplicates(aws: Aws) -> None:
    now_s = time.time()
    rng = random.Random(5)
    traces = [lambda_trace(rng, now_s - 900 + 60 * i) for i in range(11)]
    put_segments(aws.client("xray"), segments_of(*traces))
    plan = FaultPlan(slow_rate=0.4, slow_delay_s=0.4, seed=3)
    impatient = RetrySettings(max_attempts=3, call_attempts=3, read_timeout_s=0.2)

    with FaultProxy(aws.url, plan) as proxy:
        factory = ClientFactory(aws.factory(proxy.url).target, retry=impatient)
        result = XRayCollector(client=factory.xray(), retry=impatient, sleep=no_sleep).collect(
            Window(utc(now_s - 1200), utc(now_s))
        )

    assert proxy.injected_count("slow") > 0
    assert result.trace_ids == {trace.trace_id for trace in traces}
    assert max(_traces(result).values()) == 1
    assert result.stats.retries >= 1
    assert result.complete


def test_answers_cut_short_are_failures_never_empty_windows(aws: Aws) -> None:
    # Every answer arrives with its full Content-Length but half its body: botocore returns
    # HTTP 200 without the list keys. Nothing may read as "no items" or count as complete.
    now = floor_time(datetime.now(UTC), timedelta(minutes=1))
    _seed(aws, now)
    plan = FaultPlan(truncate_rate=1.0, max_consecutive_faults=10_000)

    with FaultProxy(aws.url, plan) as proxy:
        cut = _collect(aws.factory(proxy.url), now, set())

    assert proxy.injected_count("truncate") > 0
    for result in cut.all():
        assert not result.complete, result.source
        assert result.failures, result.source
        assert {failure.code for failure in result.failures} == {"IncompleteResponse"}
        assert all(failure.retryable for failure in result.failures)
        assert "cut short" in result.failures[0].message
    assert not list(cut.xray.pages_of("xray.get_trace_summaries"))
    assert not cut.metrics.degraded_stats  # type: ignore[attr-defined]
    assert not cut.config.listed  # type: ignore[attr-defined]
    assert not cut.config.function_names  # type: ignore[attr-defined]


def test_answers_cut_short_once_are_read_again_in_full(aws: Aws) -> None:
    now = floor_time(datetime.now(UTC), timedelta(minutes=1))
    _seed(aws, now)
    baseline = _collect(aws.factory(), now, set())
    plan = FaultPlan(truncate_rate=1.0, max_consecutive_faults=1)

    with FaultProxy(aws.url, plan) as proxy:
        healed = _collect(aws.factory(proxy.url), now, set())

    assert all(result.complete for result in healed.all())
    assert _traces(healed.xray) == _traces(baseline.xray)
    assert len(_traces(healed.xray)) == 23
    assert _datapoints(healed.metrics) == _datapoints(baseline.metrics)
    assert _log_rows(healed.logs) == _log_rows(baseline.logs)
    assert _functions(healed.config) == _functions(baseline.config)
    sources = zip(healed.all(), ("xray", "monitoring", "logs", "lambda"), strict=True)
    for result, service in sources:
        # NOTE: an error answer cut short (moto's 404 for an API it lacks) is still an error.
        cut = proxy.injected_count("truncate", services={service})
        assert 0 < result.stats.retries <= cut, service
