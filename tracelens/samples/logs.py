"""Lambda CloudWatch Logs events for every traced invocation, in each function's log format.

Text format functions get the platform lines (``INIT_START``, ``START``, ``END``, ``REPORT``
with ``XRAY TraceId``, ``RESTORE_START``/``RESTORE_REPORT`` for SnapStart, ``Task timed out``)
and runtime-specific application lines. JSON format functions get ``platform.*`` records and
JSON application records. Messages keep the trailing newline CloudWatch stores for text lines.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tracelens.samples.app import REGION, FunctionSpec
from tracelens.samples.environments import ON_DEMAND, PROVISIONED, SNAPSTART
from tracelens.samples.world import InvocationRecord


@dataclass(frozen=True, order=True)
class LogEvent:
    """One CloudWatch Logs event of a function's log group."""

    timestamp_ms: int
    message: str
    log_stream: str


def runtime_version_arn(spec: FunctionSpec) -> str:
    digest = hashlib.sha256(spec.runtime_version.encode()).hexdigest()
    return f"arn:aws:lambda:{REGION}::runtime:{digest}"


def _ms(t_s: float) -> int:
    return round(t_s * 1000)


def iso_ms(t_s: float) -> str:
    """``2026-11-20T09:00:01.123Z`` as Lambda runtimes print times."""
    moment = datetime.fromtimestamp(round(t_s, 3), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _app_line(spec: FunctionSpec, rec: InvocationRecord, t_s: float, level: str, text: str) -> str:
    if spec.runtime.startswith("nodejs"):
        return f"{iso_ms(t_s)}\t{rec.request_id}\t{level}\t{text}\n"
    if spec.runtime.startswith("python"):
        return f"[{level}]\t{iso_ms(t_s)}\t{rec.request_id}\t{text}\n"
    if spec.runtime.startswith("java"):
        stamp = iso_ms(t_s).replace("T", " ").rstrip("Z")
        return f"{stamp} {rec.request_id} {level} ExportHandler - {text}\n"
    moment = datetime.fromtimestamp(t_s, UTC)
    return f"{moment:%Y/%m/%d %H:%M:%S} {text}\n"


def _report_line(rec: InvocationRecord) -> str:
    spec = rec.function
    parts = [
        f"REPORT RequestId: {rec.request_id}",
        f"Duration: {rec.duration_ms:.2f} ms",
        f"Billed Duration: {rec.billed_ms} ms",
        f"Memory Size: {spec.memory_mb} MB",
        f"Max Memory Used: {rec.max_memory_mb} MB",
    ]
    if rec.init is not None and rec.init.kind == ON_DEMAND:
        parts.append(f"Init Duration: {rec.init.duration_ms:.2f} ms")
    if rec.init is not None and rec.init.kind == SNAPSTART:
        parts.append(f"Restore Duration: {rec.init.duration_ms:.2f} ms")
        parts.append(f"Billed Restore Duration: {rec.billed_restore_ms} ms")
    if rec.status == "timeout":
        parts.append("Status: timeout")
    xray = f"XRAY TraceId: {rec.trace_id}\tSegmentId: {rec.function_segment_id}\tSampled: true"
    return "\t".join(parts) + "\t\n" + xray + "\t\n"


def _error_line(rec: InvocationRecord, t_s: float) -> str | None:
    error = rec.error
    if error is None or rec.status == "timeout":
        return None
    payload: dict[str, Any] = {"errorType": error.type, "errorMessage": error.message}
    payload.update(dict(error.log_fields))
    payload["stack"] = [
        f"{error.type}: {error.message}",
        "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
    ]
    return (
        f"{iso_ms(t_s)}\t{rec.request_id}\tERROR\tInvoke Error \t"
        f"{json.dumps(payload, separators=(',', ':'))}\n"
    )


def text_events(rec: InvocationRecord) -> list[tuple[float, str]]:
    """The text-format events of one invocation, as (time, message)."""
    spec = rec.function
    version = (
        f"Runtime Version: {spec.runtime_version}\tRuntime Version ARN: "
        f"{runtime_version_arn(spec)}\n"
    )
    events: list[tuple[float, str]] = []
    init = rec.init
    if init is not None and init.kind == SNAPSTART:
        events.append((init.start_s, "RESTORE_START " + version))
        events.append(
            (
                init.start_s + init.duration_ms / 1000,
                f"RESTORE_REPORT Restore Duration: {init.duration_ms:.2f} ms\n",
            )
        )
    elif init is not None:
        events.append((init.start_s, "INIT_START " + version))
    events.append((rec.start_s, f"START RequestId: {rec.request_id} Version: {spec.version}\n"))
    events += [(t, _app_line(spec, rec, t, level, text)) for t, level, text in rec.app_logs]
    error_line = _error_line(rec, rec.end_s)
    if error_line is not None:
        events.append((rec.end_s, error_line))
    if rec.status == "timeout":
        events.append(
            (
                rec.end_s,
                f"{iso_ms(rec.end_s)} {rec.request_id} Task timed out after "
                f"{spec.timeout_s:.2f} seconds\n",
            )
        )
    done_s = rec.end_s + 0.001
    events.append((done_s, f"END RequestId: {rec.request_id}\n"))
    events.append((done_s, _report_line(rec)))
    return events


def _record(t_s: float, type_: str, record: dict[str, Any]) -> tuple[float, str]:
    text = json.dumps({"time": iso_ms(t_s), "type": type_, "record": record}, separators=(",", ":"))
    return t_s, text


def json_events(rec: InvocationRecord) -> list[tuple[float, str]]:
    """The JSON-log-format events of one invocation (``platform.*`` and app records)."""
    spec = rec.function
    tracing = {
        "spanId": rec.function_segment_id,
        "type": "X-Amzn-Trace-Id",
        "value": f"Root={rec.trace_id};Parent={rec.lambda_segment_id};Sampled=1",
    }
    events: list[tuple[float, str]] = []
    init = rec.init
    if init is not None:
        kind = "provisioned-concurrency" if init.kind == PROVISIONED else "on-demand"
        events.append(
            _record(
                init.start_s,
                "platform.initStart",
                {
                    "initializationType": kind,
                    "phase": "init",
                    "runtimeVersion": spec.runtime_version,
                    "runtimeVersionArn": runtime_version_arn(spec),
                    "functionName": spec.name,
                    "functionVersion": spec.version,
                },
            )
        )
        events.append(
            _record(
                init.start_s + init.duration_ms / 1000,
                "platform.initReport",
                {
                    "initializationType": kind,
                    "phase": "init",
                    "status": "success",
                    "metrics": {"durationMs": init.duration_ms},
                },
            )
        )
    events.append(
        _record(
            rec.start_s,
            "platform.start",
            {"requestId": rec.request_id, "version": spec.version, "tracing": tracing},
        )
    )
    for t, level, text in rec.app_logs:
        stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        app = {
            "timestamp": stamp,
            "level": level,
            "message": text,
            "logger": "root",
            "requestId": rec.request_id,
        }
        events.append((t, json.dumps(app, separators=(",", ":"), ensure_ascii=False)))
    metrics: dict[str, Any] = {
        "durationMs": rec.duration_ms,
        "billedDurationMs": rec.billed_ms,
        "memorySizeMB": spec.memory_mb,
        "maxMemoryUsedMB": rec.max_memory_mb,
    }
    if init is not None and init.kind == ON_DEMAND:
        metrics["initDurationMs"] = init.duration_ms
    events.append(
        _record(
            rec.end_s + 0.001,
            "platform.report",
            {
                "requestId": rec.request_id,
                "metrics": metrics,
                "tracing": tracing,
                "status": rec.status,
            },
        )
    )
    return events


def render_logs(
    records: list[InvocationRecord], functions: tuple[FunctionSpec, ...]
) -> dict[str, tuple[LogEvent, ...]]:
    """Every function's log events in time order (functions never invoked have none)."""
    out: dict[str, tuple[LogEvent, ...]] = {}
    for spec in functions:
        events: list[LogEvent] = []
        for rec in records:
            if rec.function.name != spec.name:
                continue
            render = json_events if spec.log_format == "JSON" else text_events
            events += [LogEvent(_ms(t), message, rec.log_stream) for t, message in render(rec)]
        if events:
            # NOTE: a stable sort keeps each invocation's lines in order within a millisecond.
            out[spec.name] = tuple(sorted(events, key=lambda e: e.timestamp_ms))
    return out
