"""Collector results built by hand, with pages in the shapes the real APIs return.

Page shapes follow botocore's service models: BatchGetTraces (``Traces[].Segments[].Document``
as JSON strings), GetMetricData (``Timestamps`` as ``datetime``, as botocore parses them),
GetQueryResults (``results`` rows of ``{"field", "value"}``), FilterLogEvents (``events``), and
the Lambda configuration calls as :mod:`collectors.lambda_config` records them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from collectors.base import CallStats, Failure, RawPage, Window
from collectors.cloudwatch import METRIC_DATA, MetricsResult
from collectors.lambda_config import (
    ACCOUNT_SETTINGS,
    GET_FUNCTION,
    LIST_FUNCTIONS,
    PROVISIONED,
    LambdaConfigResult,
)
from collectors.logs_insights import FILTERED_EVENTS, QUERY_RESULTS, LogsResult
from collectors.xray import SUMMARIES, TRACES, XRayResult

ACCOUNT = "123456789012"
REGION = "us-east-1"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(minutes=10))

Document = dict[str, Any]


class Ticker:
    """A clock that moves one second per reading: later stores are later."""

    def __init__(self, start: datetime = T0 + timedelta(hours=1)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def trace_id(start: datetime, n: int) -> str:
    """An X-Ray trace id starting at ``start`` (the id carries its epoch seconds)."""
    return f"1-{int(start.timestamp()):08x}-{n:024x}"


def lambda_trace(
    tid: str, start: datetime, *, function: str = "orders", in_progress: bool = False
) -> list[Document]:
    """An ``AWS::Lambda`` segment and its ``AWS::Lambda::Function`` segment (4 spans)."""
    n = int(tid[-6:], 16)
    start_s = start.timestamp()
    service: Document = {
        "name": function,
        "id": f"{n:08x}aaaaaaaa",
        "trace_id": tid,
        "start_time": start_s,
        "origin": "AWS::Lambda",
        "aws": {"request_id": f"req-{n}"},
    }
    if in_progress:
        service["in_progress"] = True
        return [service]
    service["end_time"] = start_s + 0.2
    handler: Document = {
        "name": function,
        "id": f"{n:08x}bbbbbbbb",
        "trace_id": tid,
        "parent_id": service["id"],
        "start_time": start_s + 0.01,
        "end_time": start_s + 0.19,
        "origin": "AWS::Lambda::Function",
        "subsegments": [
            {
                "id": f"{n:08x}cccccccc",
                "name": "DynamoDB",
                "namespace": "aws",
                "start_time": start_s + 0.02,
                "end_time": start_s + 0.05,
                "aws": {"operation": "GetItem", "table_name": "orders"},
            },
            {
                "id": f"{n:08x}dddddddd",
                "name": "api.example.com",
                "namespace": "remote",
                "start_time": start_s + 0.06,
                "end_time": start_s + 0.18,
                "http": {"request": {"url": "https://api.example.com/x", "method": "GET"}},
            },
        ],
    }
    return [service, handler]


SPANS_PER_TRACE = 4
SEGMENTS_PER_TRACE = 2


def traces_at(starts: Iterable[datetime], *, first: int = 1) -> list[tuple[str, list[Document]]]:
    """One complete Lambda trace per start time."""
    made = []
    for n, start in enumerate(starts, start=first):
        tid = trace_id(start, n)
        made.append((tid, lambda_trace(tid, start)))
    return made


def batch_page(traces: Sequence[tuple[str, list[Document]]]) -> RawPage:
    """One BatchGetTraces page."""
    response = {
        "Traces": [
            {
                "Id": tid,
                "Duration": 0.2,
                "LimitExceeded": False,
                "Segments": [{"Id": d["id"], "Document": json.dumps(d)} for d in documents],
            }
            for tid, documents in traces
        ],
        "UnprocessedTraceIds": [],
    }
    return RawPage(TRACES, "xray:BatchGetTraces", {"TraceIds": [t for t, _ in traces]}, response)


def summaries_page(
    traces: Sequence[tuple[str, list[Document]]], *, revision: int = 1, partial: bool = False
) -> RawPage:
    """One GetTraceSummaries page naming ``traces``."""
    summaries = [{"Id": tid, "Revision": revision, "IsPartial": partial} for tid, _ in traces]
    request = {"StartTime": WINDOW.start, "EndTime": WINDOW.end, "TimeRangeType": "TraceId"}
    response = {"TraceSummaries": summaries, "ApproximateTime": WINDOW.end}
    return RawPage(SUMMARIES, "xray:GetTraceSummaries", request, response)


def xray_result(
    traces: Sequence[tuple[str, list[Document]]],
    *,
    window: Window | None = WINDOW,
    revision: int = 1,
    partial: Iterable[str] = (),
    failed: Iterable[str] = (),
) -> XRayResult:
    """An X-Ray run: one summaries page, then BatchGetTraces pages of five traces."""
    failed_ids = frozenset(failed)
    fetched = [(tid, docs) for tid, docs in traces if tid not in failed_ids]
    pages = [summaries_page(traces, revision=revision)]
    pages += [batch_page(fetched[i : i + 5]) for i in range(0, len(fetched), 5)]
    failures = tuple(
        Failure("xray:BatchGetTraces", tid, "ThrottlingException", "Rate exceeded", True)
        for tid in sorted(failed_ids)
    )
    return XRayResult(
        source="xray",
        window=window,
        pages=tuple(pages),
        failures=failures,
        warnings=(),
        stats=CallStats(api_calls=len(pages), throttles=len(failures), retries=len(failures)),
        complete=not failed_ids,
        trace_ids=frozenset(tid for tid, _ in fetched),
        revisions={tid: revision for tid, _ in traces},
        partial_ids=frozenset(partial),
        failed_ids=failed_ids,
    )


def metric_series(label: str, points: dict[datetime, float], n: int = 0) -> dict[str, Any]:
    """One ``MetricDataResults`` entry (timestamps newest first, as CloudWatch sorts them)."""
    stamps = sorted(points, reverse=True)
    return {
        "Id": f"m{n}",
        "Label": label,
        "Timestamps": stamps,
        "Values": [points[stamp] for stamp in stamps],
        "StatusCode": "Complete",
    }


def metrics_result(series: Sequence[dict[str, Any]], *, window: Window = WINDOW) -> MetricsResult:
    """A CloudWatch run with one GetMetricData page."""
    request = {"StartTime": window.start, "EndTime": window.end, "ScanBy": "TimestampAscending"}
    page = RawPage(
        METRIC_DATA,
        "cloudwatch:GetMetricData",
        request,
        {"MetricDataResults": list(series), "Messages": []},
    )
    return MetricsResult(
        source="cloudwatch",
        window=window,
        pages=(page,),
        failures=(),
        warnings=(),
        stats=CallStats(api_calls=1),
        complete=True,
        query_window=window,
    )


def insights_row(at: datetime, message: str, function: str = "orders") -> list[dict[str, str]]:
    """One Logs Insights result row, fields as the collector's query asks for them."""
    return [
        {"field": "@timestamp", "value": at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]},
        {"field": "@message", "value": message},
        {"field": "@log", "value": f"{ACCOUNT}:/aws/lambda/{function}"},
        {"field": "@logStream", "value": "2026/11/20/[$LATEST]0123456789abcdef"},
    ]


def invocation_lines(request_id: str, duration_ms: float, *, init_ms: float | None) -> list[str]:
    """The platform lines of one invocation, in the text log format."""
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms} ms\tBilled Duration: "
        f"{int(duration_ms) + 1} ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB"
    )
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms} ms"
    return [
        f"START RequestId: {request_id} Version: $LATEST",
        f"END RequestId: {request_id}",
        report,
    ]


def insights_page(rows: Sequence[list[dict[str, str]]], window: Window = WINDOW) -> RawPage:
    """A completed GetQueryResults page."""
    request = {"queryId": "q-1", "logGroupNames": ["/aws/lambda/orders"]}
    response = {
        "results": list(rows),
        "statistics": {"recordsMatched": float(len(rows)), "recordsScanned": 100.0},
        "status": "Complete",
    }
    return RawPage(QUERY_RESULTS, "logs:GetQueryResults", request, response)


def filter_events_page(function: str, events: Sequence[tuple[datetime, str]]) -> RawPage:
    """A FilterLogEvents page (its events do not name their log group; the request does)."""
    request = {"logGroupName": f"/aws/lambda/{function}", "filterPattern": '?"REPORT"'}
    response = {
        "events": [
            {
                "logStreamName": "2026/11/20/[$LATEST]fedcba9876543210",
                "timestamp": int(at.timestamp() * 1000),
                "message": message,
                "ingestionTime": int(at.timestamp() * 1000) + 500,
                "eventId": f"{n:056d}",
            }
            for n, (at, message) in enumerate(events)
        ],
        "searchedLogStreams": [],
    }
    return RawPage(FILTERED_EVENTS, "logs:FilterLogEvents", request, response)


def logs_result(pages: Sequence[RawPage], *, window: Window = WINDOW) -> LogsResult:
    """A Logs run."""
    return LogsResult(
        source="logs",
        window=window,
        pages=tuple(pages),
        failures=(),
        warnings=(),
        stats=CallStats(api_calls=len(pages)),
        complete=True,
    )


def configuration(name: str, *, memory_mb: int = 512) -> dict[str, Any]:
    """A ``FunctionConfiguration`` as ListFunctions returns it."""
    return {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "Runtime": "python3.12",
        "MemorySize": memory_mb,
        "Timeout": 30,
        "CodeSize": 4096,
        "Architectures": ["arm64"],
        "LastModified": "2026-11-02T14:21:07.000+0000",
        "Version": "$LATEST",
    }


def lambda_result(
    functions: dict[str, int], *, reserved: dict[str, int] | None = None, limit: int = 1000
) -> LambdaConfigResult:
    """A Lambda configuration run: ``functions`` maps names to memory sizes."""
    configurations = [configuration(name, memory_mb=mb) for name, mb in functions.items()]
    pages = [
        RawPage(
            LIST_FUNCTIONS, "lambda:ListFunctions", {"MaxItems": 50}, {"Functions": configurations}
        )
    ]
    for config in configurations:
        page: dict[str, Any] = {"Configuration": config}
        name = config["FunctionName"]
        if reserved and name in reserved:
            page["Concurrency"] = {"ReservedConcurrentExecutions": reserved[name]}
        pages.append(
            RawPage(GET_FUNCTION, "lambda:GetFunctionConcurrency", {"FunctionName": name}, page)
        )
    pages.append(
        RawPage(
            PROVISIONED,
            "lambda:ListProvisionedConcurrencyConfigs",
            {"FunctionName": configurations[0]["FunctionName"]},
            {"ProvisionedConcurrencyConfigs": []},
        )
    )
    settings = {
        "AccountLimit": {"ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": 900},
        "AccountUsage": {"FunctionCount": len(functions)},
    }
    pages.append(RawPage(ACCOUNT_SETTINGS, "lambda:GetAccountSettings", {}, settings))
    return LambdaConfigResult(
        source="lambda",
        window=None,
        pages=tuple(pages),
        failures=(),
        warnings=(),
        stats=CallStats(api_calls=len(pages)),
        complete=True,
        function_names=tuple(functions),
    )


BUCKET = "tracelens-test"


def aws_client(url: str, service: str) -> Any:
    """A client of ``service`` on the local endpoint."""
    return boto3.client(service, endpoint_url=url, region_name=REGION)  # type: ignore[call-overload]
