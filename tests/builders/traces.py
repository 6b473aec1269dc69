"""Trace documents to seed the local endpoint with (put through ``tracelens.agent.seed``), and
aws/spans records (put in moto's CloudWatch Logs)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.spans import SPANS_LOG_GROUP
from tests.builders.endpoint import Aws


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
    throttled_table: str | None = None,
) -> SeededTrace:
    """An ``AWS::Lambda`` segment and its ``AWS::Lambda::Function`` segment; with
    ``throttled_table``, its handler's DynamoDB PutItem on that table is throttled (the SDK's
    subsegment, as in sample_traces/xray/daemon-segments.ndjson)."""
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
    invocation: dict[str, Any] = {
        "id": _hex(rng, 16),
        "name": "Invocation",
        "start_time": handler_start_s,
        "end_time": start_s + duration_s - 0.003,
    }
    if throttled_table is not None:
        invocation["subsegments"] = [_throttled_put(rng, handler_start_s, throttled_table)]
    subsegments = [invocation]
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


def _throttled_put(rng: random.Random, start_s: float, table: str) -> dict[str, Any]:
    return {
        "id": _hex(rng, 16),
        "name": "DynamoDB",
        "namespace": "aws",
        "start_time": start_s + 0.001,
        "end_time": start_s + 0.02,
        "error": True,
        "throttle": True,
        "cause": {
            "exceptions": [
                {
                    "id": _hex(rng, 16),
                    "message": "The level of configured provisioned throughput for the table "
                    "was exceeded.",
                    "type": "ProvisionedThroughputExceededException",
                    "remote": True,
                }
            ]
        },
        "http": {"response": {"status": 400, "content_length": 0}},
        "aws": {
            "operation": "PutItem",
            "request_id": _hex(rng, 32).upper(),
            "retries": 2,
            "table_name": table,
            "resource_names": [table],
        },
    }


def segments_of(*traces: SeededTrace) -> list[dict[str, Any]]:
    """The segment documents of ``traces``, for ``tracelens.agent.seed.put_segments``."""
    return [document for trace in traces for document in trace.documents]


def utc(epoch_s: float) -> datetime:
    """An aware UTC datetime."""
    return datetime.fromtimestamp(epoch_s, UTC)


def span_record(
    index: int, start_ns: int, *, region: str = "us-east-1", span_id: int | None = None
) -> dict[str, Any]:
    """An aws/spans record as Transaction Search writes it (flat dotted attributes): the root
    span of trace ``index`` (a trace id of its own), starting at ``start_ns``, lasting 120 ms.
    Its span id is ``span_id`` (default ``index + 1``) in 16 hex digits."""
    return {
        "resource": {"attributes": {"service.name": "orders", "cloud.region": region}},
        "scope": {"name": "aws.xray", "version": "1.0"},
        "traceId": f"6761c6a1{index:024x}",
        "spanId": f"{index + 1 if span_id is None else span_id:016x}",
        "parentSpanId": "",
        "flags": 256,
        "name": "orders",
        "kind": "SERVER",
        "startTimeUnixNano": start_ns,
        "endTimeUnixNano": start_ns + 120_000_000,
        "durationNano": 120_000_000,
        "attributes": {"aws.span.kind": "LOCAL_ROOT", "aws.local.service": "orders"},
        "status": {"code": "UNSET"},
    }


def seed_span_records(aws: Aws, first_ms: int, count: int, *, first_span_id: int = 1) -> list[str]:
    """``aws/spans`` created with one stream holding ``count`` records (``span_record``: trace
    ``i``, span id ``first_span_id + i``) 1.25 s apart from ``first_ms``; their messages.

    Start off a whole second (e.g. 125 ms past one): no record then falls on a whole second,
    where moto's inclusive bounds would repeat it."""
    logs = aws.client("logs")
    logs.create_log_group(logGroupName=SPANS_LOG_GROUP)
    logs.create_log_stream(logGroupName=SPANS_LOG_GROUP, logStreamName="default")
    times_ms = [first_ms + 1_250 * i for i in range(count)]
    messages = [
        json.dumps(span_record(i, ms * 1_000_000, span_id=first_span_id + i))
        for i, ms in enumerate(times_ms)
    ]
    events = [{"timestamp": ms, "message": m} for ms, m in zip(times_ms, messages, strict=True)]
    logs.put_log_events(logGroupName=SPANS_LOG_GROUP, logStreamName="default", logEvents=events)
    return messages
