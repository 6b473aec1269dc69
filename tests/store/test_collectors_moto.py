"""The real collectors' pages, read from moto, stored in S3 on moto and loaded back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from collectors.base import RetrySettings, Window
from collectors.cloudwatch import CloudWatchCollector
from collectors.logs_insights import LogsInsightsCollector
from collectors.xray import XRayCollector
from tests.builders.results import (
    ACCOUNT,
    BUCKET,
    REGION,
    SPANS_PER_TRACE,
    aws_client,
    invocation_lines,
    traces_at,
)
from tracelens.store import RunRecord, XRayState, open_store

pytestmark = pytest.mark.integration

RETRY = RetrySettings(max_attempts=2, call_attempts=2, connect_timeout_s=2, read_timeout_s=5)


def _no_sleep(_: float) -> None:
    """Collectors' own waits, skipped."""


def _seed(url: str, now: datetime) -> list[str]:
    traces = traces_at([now - timedelta(minutes=5), now - timedelta(minutes=4)])
    documents = [json.dumps(d) for _, docs in traces for d in docs]
    aws_client(url, "xray").put_trace_segments(TraceSegmentDocuments=documents)
    aws_client(url, "cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "FunctionName", "Value": "orders"}],
                "Timestamp": now - timedelta(minutes=5),
                "Value": 7.0,
            }
        ],
    )
    logs = aws_client(url, "logs")
    group, stream = "/aws/lambda/orders", "2026/11/20/[$LATEST]0123456789abcdef"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    at_ms = int((now - timedelta(minutes=5)).timestamp() * 1000)
    lines = invocation_lines("r-1", 12.5, init_ms=150.0)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": at_ms + i, "message": line} for i, line in enumerate(lines)],
    )
    return [tid for tid, _ in traces]


def test_collect_store_advance_and_load(aws_url: str, s3: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    trace_ids = _seed(aws_url, now)
    window = Window(now - timedelta(minutes=10), now)
    store = open_store(f"s3://{BUCKET}/agent", s3_client=s3)
    xray = XRayCollector(client=aws_client(aws_url, "xray"), retry=RETRY, sleep=_no_sleep)
    metrics = CloudWatchCollector(
        client=aws_client(aws_url, "cloudwatch"),
        retry=RETRY,
        sleep=_no_sleep,
        clock=lambda: now + timedelta(hours=1),
    )
    logs = LogsInsightsCollector(
        client=aws_client(aws_url, "logs"), retry=RETRY, sleep=_no_sleep, poll_interval_s=0.0
    )

    state = XRayState.from_checkpoint(store.checkpoint("xray", ACCOUNT, REGION))
    traced = xray.collect(window, known=state.complete, partial=state.partial)
    receipt = store.persist(traced, account=ACCOUNT, region=REGION)
    store.advance(receipt, state=state.after(traced, now=now).as_mapping())
    for result in (
        metrics.collect(window, functions=["orders"]),
        logs.collect(window, functions=["orders"]),
    ):
        store.advance(store.persist(result, account=ACCOUNT, region=REGION))
    store.record_run(
        RunRecord.of_result(
            traced,
            account=ACCOUNT,
            region=REGION,
            started_at=now,
            duration_ms=1.0,
            items=receipt.items,
        )
    )

    inputs, problems = store.load_inputs(since=window.start, until=window.end)

    assert problems == []
    assert sorted(inputs.traces.spans.get_column("trace_id").unique()) == sorted(trace_ids)
    assert inputs.traces.spans.height == 2 * SPANS_PER_TRACE
    assert inputs.metrics is not None
    invocations = inputs.metrics.filter(metric="Invocations", stat="Sum")
    assert invocations.select("function_name", "value").rows() == [("orders", 7.0)]
    assert inputs.logs is not None
    assert inputs.logs.reports.select("function_name", "request_id", "init_duration_ms").rows() == [
        ("orders", "r-1", 150.0)
    ]
    checkpoint = store.checkpoint("xray", ACCOUNT, REGION)
    assert checkpoint is not None and checkpoint.window_end == now
    assert XRayState.from_checkpoint(checkpoint).complete == dict.fromkeys(trace_ids, 0)
    assert [run.status for run in store.runs()[0]] == ["ok"]

    again = xray.collect(window, known=XRayState.from_checkpoint(checkpoint).complete)
    assert again.trace_ids == frozenset()  # stored traces are not fetched twice
