"""Seed the local endpoint through the real APIs: trace segments, metrics, log lines, functions."""

from __future__ import annotations

import io
import json
import random
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class SeededTrace:
    """A trace put with PutTraceSegments: its id and its segment documents as sent."""

    trace_id: str
    documents: tuple[dict[str, Any], ...]


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def lambda_trace(
    rng: random.Random,
    start_s: float,
    *,
    function: str = "orders",
    duration_s: float = 0.12,
    cold: bool = False,
    in_progress: bool = False,
) -> SeededTrace:
    """An ``AWS::Lambda`` segment and its ``AWS::Lambda::Function`` segment."""
    trace_id = f"1-{int(start_s):08x}-{_hex(rng, 24)}"
    service_id = _hex(rng, 16)
    service: dict[str, Any] = {
        "name": function,
        "id": service_id,
        "trace_id": trace_id,
        "start_time": start_s,
        "origin": "AWS::Lambda",
        "http": {"response": {"status": 200}},
        "aws": {"request_id": f"req-{_hex(rng, 8)}"},
    }
    if in_progress:
        service["in_progress"] = True
        return SeededTrace(trace_id, (service,))
    service["end_time"] = start_s + duration_s
    handler_start_s = start_s + (0.08 if cold else 0.004)
    subsegments = [
        {
            "id": _hex(rng, 16),
            "name": "Invocation",
            "start_time": handler_start_s,
            "end_time": start_s + duration_s - 0.003,
        }
    ]
    if cold:
        subsegments.insert(
            0,
            {
                "id": _hex(rng, 16),
                "name": "Initialization",
                "start_time": start_s + 0.002,
                "end_time": handler_start_s,
            },
        )
    function_segment = {
        "name": function,
        "id": _hex(rng, 16),
        "trace_id": trace_id,
        "parent_id": service_id,
        "start_time": start_s + 0.002,
        "end_time": start_s + duration_s - 0.002,
        "origin": "AWS::Lambda::Function",
        "subsegments": subsegments,
    }
    return SeededTrace(trace_id, (service, function_segment))


def put_traces(xray: Any, traces: list[SeededTrace]) -> None:
    """PutTraceSegments for every document; fail loudly on an unprocessed one."""
    documents = [json.dumps(doc) for trace in traces for doc in trace.documents]
    for offset in range(0, len(documents), 50):
        response = xray.put_trace_segments(TraceSegmentDocuments=documents[offset : offset + 50])
        assert response["UnprocessedTraceSegments"] == []


def put_metric(
    cloudwatch: Any,
    metric: str,
    points: list[tuple[datetime, float]],
    *,
    function: str | None = None,
) -> None:
    """PutMetricData in AWS/Lambda, per function (FunctionName dimension) or account level."""
    dimensions = [{"Name": "FunctionName", "Value": function}] if function else []
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": metric, "Dimensions": dimensions, "Timestamp": ts, "Value": value}
            for ts, value in points
        ],
    )


def put_log_lines(logs: Any, function: str, lines: list[tuple[int, str]]) -> None:
    """Create ``/aws/lambda/<function>`` with one stream and put ``(epoch ms, message)`` lines."""
    group = f"/aws/lambda/{function}"
    stream = "2024/01/01/[$LATEST]0123456789abcdef"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = [{"timestamp": ms, "message": message} for ms, message in sorted(lines)]
    for offset in range(0, len(events), 5000):
        logs.put_log_events(
            logGroupName=group, logStreamName=stream, logEvents=events[offset : offset + 5000]
        )


def create_functions(iam: Any, lambda_client: Any, names: list[str]) -> None:
    """CreateFunction for each name (moto needs an IAM role and a zip)."""
    role = iam.create_role(
        RoleName="tracelens-test-function",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("handler.py", "def handle(event, context):\n    return event\n")
    for name in names:
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": archive.getvalue()},
            MemorySize=256,
            Timeout=10,
        )


def utc(epoch_s: float) -> datetime:
    """An aware UTC datetime."""
    return datetime.fromtimestamp(epoch_s, UTC)
