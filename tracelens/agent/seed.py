"""Put a generated sample account into an AWS-compatible endpoint through the real write APIs.

Functions via CreateFunction (with an IAM role and a small zip) and PutFunctionConcurrency,
trace segments via PutTraceSegments (or, as under CloudWatch Transaction Search, span records
into the ``aws/spans`` log group via PutLogEvents), AWS/Lambda datapoints via PutMetricData and
log lines via CreateLogGroup/CreateLogStream/PutLogEvents. Used by ``tracelens demo`` against a
local moto server, and by the tests, which seed the same endpoint through the same calls
(``put_segments``, ``put_metric``, ``put_log_lines``, ``create_functions``); the calls are the
ones a real account accepts, within their documented batch limits.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from tracelens.samples import LogEvent, SampleSet
from tracelens.samples.otel import span_records

MAX_SEGMENTS_PER_CALL = 50  # PutTraceSegments
MAX_DATUMS_PER_CALL = 1000  # PutMetricData
MAX_EVENTS_PER_CALL = 10_000  # PutLogEvents
MAX_EVENT_BYTES_PER_CALL = 1_000_000  # PutLogEvents: message bytes + 26 per event
_EVENT_OVERHEAD_BYTES = 26
_STANDARD_STATS = frozenset({"Sum", "Average", "Maximum", "Minimum", "SampleCount"})
_UNITS = {"Duration": "Milliseconds", "ProvisionedConcurrencyUtilization": "None"}
ROLE_NAME = "tracelens-demo-function"
DEFAULT_STREAM = "2024/01/01/[$LATEST]0123456789abcdef"

ClientFor = Callable[[str], Any]


@dataclass(frozen=True)
class SeedSummary:
    """What was put, for the demo's progress output and its tests."""

    functions: int
    traces: int
    segments: int  # segment documents put, or span records under Transaction Search
    datapoints: int
    log_events: int
    warnings: tuple[str, ...] = ()


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def _function_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("app.py", "def handler(event, context):\n    return event\n")
    return archive.getvalue()


def _role_arn(iam: Any) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    response = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    return str(response["Role"]["Arn"])


def _create_params(config: Mapping[str, Any], role: str, code: bytes) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": config["FunctionName"],
        "Runtime": config["Runtime"],
        "Role": role,
        "Handler": config["Handler"],
        "Code": {"ZipFile": code},
        "Description": config.get("Description", ""),
        "Timeout": config["Timeout"],
        "MemorySize": config["MemorySize"],
        "Architectures": config.get("Architectures", ["x86_64"]),
        "TracingConfig": config.get("TracingConfig", {"Mode": "Active"}),
        "EphemeralStorage": config.get("EphemeralStorage", {"Size": 512}),
    }
    vpc = config.get("VpcConfig") or {}
    if vpc.get("SubnetIds"):
        params["VpcConfig"] = {
            "SubnetIds": vpc["SubnetIds"],
            "SecurityGroupIds": vpc.get("SecurityGroupIds", []),
        }
    if config.get("LoggingConfig"):
        params["LoggingConfig"] = config["LoggingConfig"]
    if config.get("Layers"):
        params["Layers"] = [layer["Arn"] for layer in config["Layers"]]
    snapstart = config.get("SnapStart", {}).get("ApplyOn", "None")
    if snapstart != "None":
        params["SnapStart"] = {"ApplyOn": snapstart}
    return params


def create_functions(
    iam: Any, lambda_client: Any, names: Sequence[str], *, memory_mb: int = 256
) -> None:
    """CreateFunction for each name: Python, a small zip, one shared role."""
    role, code = _role_arn(iam), _function_zip()
    for name in names:
        lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code},
            MemorySize=memory_mb,
            Timeout=10,
        )


def seed_functions(client_for: ClientFor, sample: SampleSet) -> tuple[int, list[str]]:
    """CreateFunction for every function, then its reserved and provisioned concurrency.

    Returns the number of functions and warnings for settings the endpoint refused.
    """
    lambda_client = client_for("lambda")
    role, code = _role_arn(client_for("iam")), _function_zip()
    configurations = sample.functions.list_functions["Functions"]
    warnings: list[str] = []
    for configuration in configurations:
        params = _create_params(configuration, role, code)
        try:
            lambda_client.create_function(**params)
        except ClientError as exc:
            if "Layers" not in params:
                raise
            # NOTE: the sample's layers are published by other accounts, which a local
            # endpoint does not have; layers play no part in the analyses.
            del params["Layers"]
            lambda_client.create_function(**params)
            warnings.append(f"layers of {params['FunctionName']} not attached ({_code(exc)})")
    for name, response in sample.functions.get_function.items():
        reserved = response["Concurrency"]["ReservedConcurrentExecutions"]
        lambda_client.put_function_concurrency(
            FunctionName=name, ReservedConcurrentExecutions=reserved
        )
    for name, response in sample.functions.provisioned_concurrency.items():
        for setting in response["ProvisionedConcurrencyConfigs"]:
            qualifier = str(setting["FunctionArn"]).rsplit(":", 1)[-1]
            requested = setting["RequestedProvisionedConcurrentExecutions"]
            try:
                lambda_client.put_provisioned_concurrency_config(
                    FunctionName=name,
                    Qualifier=qualifier,
                    ProvisionedConcurrentExecutions=requested,
                )
            except ClientError as exc:
                # NOTE: moto has no provisioned concurrency API; the traces and logs still
                # show the pre-initialized environments, so the report degrades gracefully.
                warnings.append(
                    f"provisioned concurrency of {name}:{qualifier} not set ({_code(exc)})"
                )
    return len(configurations), warnings


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))


def seed_traces(xray: Any, sample: SampleSet) -> int:
    """PutTraceSegments for every document (X-Ray's inferred segments included)."""
    return put_segments(xray, [document for _, trace in sample.traces for document in trace])


def put_segments(xray: Any, segments: Iterable[Mapping[str, Any]]) -> int:
    """PutTraceSegments for every segment document, in batches; returns how many were put.

    Raises
    ------
    RuntimeError
        When the endpoint leaves a segment unprocessed.
    """
    documents = [json.dumps(document, separators=(",", ":")) for document in segments]
    for batch in _chunks(documents, MAX_SEGMENTS_PER_CALL):
        response = xray.put_trace_segments(TraceSegmentDocuments=list(batch))
        unprocessed = response.get("UnprocessedTraceSegments", [])
        if unprocessed:
            raise RuntimeError(
                f"PutTraceSegments left {len(unprocessed)} segment(s): {unprocessed[0]}"
            )
    return len(documents)


def metric_datums(metric_data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """PutMetricData datums for every standard-statistic series of a GetMetricData response.

    Each (function, metric) has one standard statistic in the sample (Duration: Average), so one
    datum per period reproduces it. Percentiles cannot be put as values; an endpoint that
    computes them from datums would see the averages.
    """
    datums: list[dict[str, Any]] = []
    for series in metric_data["MetricDataResults"]:
        subject, metric, stat = str(series["Label"]).rsplit(" ", 2)
        if stat not in _STANDARD_STATS:
            continue
        dimensions = [] if subject == "(account)" else [{"Name": "FunctionName", "Value": subject}]
        unit = _UNITS.get(metric, "Count")
        for stamp, value in zip(series["Timestamps"], series["Values"], strict=True):
            moment = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
            datums.append(
                {
                    "MetricName": metric,
                    "Dimensions": dimensions,
                    "Timestamp": moment,
                    "Value": float(value),
                    "Unit": unit,
                }
            )
    return datums


def seed_metrics(cloudwatch: Any, sample: SampleSet) -> int:
    """PutMetricData in AWS/Lambda for the sample's metrics."""
    return put_datums(cloudwatch, metric_datums(sample.metric_data))


def put_metric(
    cloudwatch: Any,
    metric: str,
    points: Iterable[tuple[datetime, float]],
    *,
    function: str | None = None,
) -> int:
    """One AWS/Lambda metric's ``(time, value)`` points, per function or at account level."""
    dimensions = [{"Name": "FunctionName", "Value": function}] if function else []
    datums = [
        {"MetricName": metric, "Dimensions": dimensions, "Timestamp": moment, "Value": value}
        for moment, value in points
    ]
    return put_datums(cloudwatch, datums)


def put_datums(cloudwatch: Any, datums: Sequence[Mapping[str, Any]]) -> int:
    """PutMetricData in AWS/Lambda, in batches; returns how many datums were put."""
    for batch in _chunks(datums, MAX_DATUMS_PER_CALL):
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=list(batch))
    return len(datums)


def _event_batches(events: Iterable[tuple[int, str]]) -> Iterator[list[dict[str, Any]]]:
    """PutLogEvents batches of ``(epoch ms, message)`` in order, within count and size limits."""
    batch: list[dict[str, Any]] = []
    size = 0
    for timestamp_ms, message in events:
        event_size = len(message.encode()) + _EVENT_OVERHEAD_BYTES
        if batch and (
            len(batch) >= MAX_EVENTS_PER_CALL or size + event_size > MAX_EVENT_BYTES_PER_CALL
        ):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": timestamp_ms, "message": message})
        size += event_size
    if batch:
        yield batch


def seed_logs(logs: Any, sample: SampleSet) -> int:
    """Each function's events into ``/aws/lambda/<function>``, one stream per environment."""
    count = 0
    for function, events in sample.logs.items():
        group = f"/aws/lambda/{function}"
        logs.create_log_group(logGroupName=group)
        streams: dict[str, list[LogEvent]] = {}
        for event in events:
            streams.setdefault(event.log_stream, []).append(event)
        for stream, stream_events in streams.items():
            lines = [(event.timestamp_ms, event.message) for event in sorted(stream_events)]
            count += _put_stream(logs, group, stream, lines)
    return count


def put_log_lines(
    logs: Any, function: str, lines: Iterable[tuple[int, str]], *, stream: str = DEFAULT_STREAM
) -> int:
    """``/aws/lambda/<function>`` with one stream holding the ``(epoch ms, message)`` lines."""
    group = f"/aws/lambda/{function}"
    logs.create_log_group(logGroupName=group)
    return _put_stream(logs, group, stream, sorted(lines))


def _put_stream(logs: Any, group: str, stream: str, lines: Iterable[tuple[int, str]]) -> int:
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    count = 0
    for batch in _event_batches(lines):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        count += len(batch)
    return count


SPANS_LOG_GROUP = "aws/spans"
SPANS_LOG_STREAM = "default"


def seed_spans(logs: Any, sample: SampleSet) -> int:
    """Every trace as ``aws/spans`` span records (the sample's OpenTelemetry form), one log
    event per span, dated by the span's end as Transaction Search writes them."""
    events = [
        (int(record["endTimeUnixNano"]) // 1_000_000, json.dumps(record, separators=(",", ":")))
        for _, documents in sample.traces
        for record in span_records(documents)
    ]
    logs.create_log_group(logGroupName=SPANS_LOG_GROUP)
    return _put_stream(logs, SPANS_LOG_GROUP, SPANS_LOG_STREAM, sorted(events))


def seed_account(
    client_for: ClientFor, sample: SampleSet, *, transaction_search: bool = False
) -> SeedSummary:
    """Put everything in ``sample`` through the clients ``client_for(service)`` returns.

    With ``transaction_search`` the traces go to ``aws/spans`` as span records (as under
    CloudWatch Transaction Search) instead of X-Ray's PutTraceSegments.
    """
    functions, warnings = seed_functions(client_for, sample)
    if transaction_search:
        segments = seed_spans(client_for("logs"), sample)
    else:
        segments = seed_traces(client_for("xray"), sample)
    datapoints = seed_metrics(client_for("cloudwatch"), sample)
    log_events = seed_logs(client_for("logs"), sample)
    return SeedSummary(
        functions=functions,
        traces=len(sample.traces),
        segments=segments,
        datapoints=datapoints,
        log_events=log_events,
        warnings=tuple(warnings),
    )
