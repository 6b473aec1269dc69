"""Build span frames by hand, in the shapes the normalizer produces from real documents.

Times are seconds after ``T0``; every id is generated, so tests state only what matters to them::

    b = SpanBuilder()
    api = b.caller("orders-api")
    call = b.invoke_call(api, "orders", start_s=0.1, duration_ms=50)
    inv = b.lambda_invocation("orders", start_s=0.11, duration_ms=30, parent_id=call,
                              trace_id=api.trace_id, init="on_demand", init_ms=250)
    b.aws_call(inv, "DynamoDB", "PutItem", resource="orders", start_s=0.12, duration_ms=5)
    spans = b.frame()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from tracelens.schema import SPAN_SCHEMA, conform

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """The instant ``seconds`` after ``T0``."""
    return T0 + timedelta(microseconds=round(seconds * 1_000_000))


@dataclass(frozen=True)
class Caller:
    """A top-level segment that makes calls (a client app, an API stage, a function)."""

    trace_id: str
    segment_id: str
    parent_id: str  # where its subsegments attach


@dataclass(frozen=True)
class Invocation:
    """The rows of one function execution."""

    trace_id: str
    service_id: str  # the AWS::Lambda segment
    function_id: str  # the AWS::Lambda::Function segment
    handler_id: str  # its Invocation subsegment, where user subsegments nest
    request_id: str
    function: str

    def as_caller(self) -> Caller:
        return Caller(self.trace_id, self.function_id, self.handler_id)


class SpanBuilder:
    """Accumulates span rows; ``frame()`` conforms them to ``SPAN_SCHEMA``."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._counter = 0

    def new_id(self) -> str:
        self._counter += 1
        return f"{self._counter:016x}"

    def new_trace(self) -> str:
        self._counter += 1
        return f"1-66322f00-{self._counter:024x}"

    def span(
        self, *, start_s: float, duration_ms: float | None, in_progress: bool = False, **fields: Any
    ) -> str:
        """Add one row; ``duration_ms=None`` or ``in_progress`` leaves it unfinished."""
        span_id = fields.pop("id", None) or self.new_id()
        end_s = None if duration_ms is None or in_progress else start_s + duration_ms / 1000.0
        row: dict[str, Any] = {
            "id": span_id,
            "kind": "subsegment",
            "depth": 1,
            "error": False,
            "fault": False,
            "throttle": False,
            "inferred": False,
            "in_progress": end_s is None,
            "start_time": at(start_s),
            "end_time": None if end_s is None else at(end_s),
            "duration_ms": None if end_s is None else duration_ms,
            "exception_count": 0,
        }
        row.update(fields)
        row.setdefault("segment_id", span_id if row["kind"] == "segment" else None)
        self.rows.append(row)
        return span_id

    def caller(
        self,
        name: str,
        *,
        trace_id: str | None = None,
        start_s: float = 0.0,
        duration_ms: float = 1000.0,
        origin: str | None = "AWS::EC2::Instance",
    ) -> Caller:
        """A traced top-level service segment that can call functions."""
        trace = trace_id or self.new_trace()
        seg = self.span(
            kind="segment",
            depth=0,
            trace_id=trace,
            name=name,
            origin=origin,
            start_s=start_s,
            duration_ms=duration_ms,
        )
        return Caller(trace, seg, seg)

    def invoke_call(
        self,
        caller: Caller,
        target: str,
        *,
        start_s: float,
        duration_ms: float = 20.0,
        throttled: bool = False,
        retries: int | None = 0,
    ) -> str:
        """The caller's ``Lambda`` ``Invoke`` subsegment; a throttled one carries the 429
        (``retries=None``: no ``retries`` field recorded)."""
        return self.span(
            trace_id=caller.trace_id,
            parent_id=caller.parent_id,
            segment_id=caller.segment_id,
            name="Lambda",
            namespace="aws",
            start_s=start_s,
            duration_ms=duration_ms,
            aws_operation="Invoke",
            aws_resource=target,
            function_name=target,
            aws_retries=retries,
            throttle=throttled,
            error=throttled,
            http_status=429 if throttled else 200,
            exception_type="TooManyRequestsException" if throttled else None,
            exception_message="Rate Exceeded." if throttled else None,
            exception_count=1 if throttled else 0,
        )

    def throttled_request(
        self,
        function: str,
        *,
        start_s: float,
        trace_id: str | None = None,
        parent_id: str | None = None,
        message: str = "Rate exceeded",
    ) -> str:
        """An ``AWS::Lambda`` segment refused with 429: no function segment follows."""
        return self.span(
            kind="segment",
            depth=0,
            trace_id=trace_id or self.new_trace(),
            parent_id=parent_id,
            name=function,
            origin="AWS::Lambda",
            start_s=start_s,
            duration_ms=1.0,
            function_name=function,
            aws_request_id=f"req-{self._counter + 1}",
            throttle=True,
            error=True,
            http_status=429,
            exception_type="TooManyRequestsException",
            exception_message=message,
            exception_count=1,
        )

    def lambda_invocation(
        self,
        function: str,
        *,
        start_s: float,
        duration_ms: float | None = 100.0,
        trace_id: str | None = None,
        parent_id: str | None = None,
        request_id: str | None = None,
        init: str | None = None,
        init_ms: float = 200.0,
        init_gap_ms: float = 0.0,
        error: bool = False,
        fault: bool = False,
    ) -> Invocation:
        """The ``AWS::Lambda`` + ``AWS::Lambda::Function`` segments of one request.

        ``init`` is None (warm), ``"on_demand"``, ``"provisioned"`` or ``"snapstart"``; the
        init (or restore) subsegment ends ``init_gap_ms`` before the function segment starts.
        ``duration_ms=None`` leaves the function segment in progress.
        """
        trace = trace_id or self.new_trace()
        request = request_id or f"req-{self._counter + 1}"
        waited_ms = init_ms + init_gap_ms if init in ("on_demand", "snapstart") else 0.0
        service = self._segment(
            trace,
            function,
            "AWS::Lambda",
            parent_id=parent_id,
            start_s=start_s - waited_ms / 1000.0 - 0.001,
            duration_ms=None if duration_ms is None else duration_ms + waited_ms + 2.0,
            aws_request_id=request,
            http_status=200,
        )
        fn = self._segment(
            trace,
            function,
            "AWS::Lambda::Function",
            parent_id=service,
            start_s=start_s,
            duration_ms=duration_ms,
            error=error,
            fault=fault,
        )
        if init is not None:
            init_end_s = start_s - init_gap_ms / 1000.0
            name = "Restore" if init == "snapstart" else "Initialization"
            start = init_end_s - init_ms / 1000.0
            self._child(trace, fn, name, start, init_ms, function_name=function)
        handler = self._child(trace, fn, "Invocation", start_s, duration_ms)
        return Invocation(trace, service, fn, handler, request, function)

    def _segment(
        self, trace: str, function: str, origin: str, *, parent_id: str | None, **fields: Any
    ) -> str:
        """A Lambda segment (the service's or the function's) of ``function``."""
        return self.span(
            kind="segment",
            depth=0,
            trace_id=trace,
            parent_id=parent_id,
            name=function,
            origin=origin,
            function_name=function,
            **fields,
        )

    def _child(
        self,
        trace: str,
        parent: str,
        name: str,
        start_s: float,
        duration_ms: float | None,
        **fields: Any,
    ) -> str:
        """A subsegment directly under the segment ``parent``."""
        return self.span(
            trace_id=trace,
            parent_id=parent,
            segment_id=parent,
            name=name,
            start_s=start_s,
            duration_ms=duration_ms,
            **fields,
        )

    def async_event(
        self, function: str, *, start_s: float, failed: list[bool], dwell_ms: float = 40.0
    ) -> list[str]:
        """An asynchronous event: its ``AWS::Lambda`` segment with ``Dwell Time`` and one
        ``Attempt #N`` per entry of ``failed`` (True: that attempt faulted), each with its
        function segment under it, 1 s apart. Returns the function segments' ids."""
        trace = self.new_trace()
        service = self._segment(
            trace,
            function,
            "AWS::Lambda",
            parent_id=None,
            start_s=start_s,
            duration_ms=dwell_ms + 1000.0 * len(failed),
            aws_request_id=f"event-{self._counter + 1}",
            http_status=202,
        )
        self._child(trace, service, "Dwell Time", start_s, dwell_ms)
        executions = []
        for n, fault in enumerate(failed, 1):
            begin = start_s + dwell_ms / 1000.0 + (n - 1) * 1.0
            attempt = self._child(trace, service, f"Attempt #{n}", begin, 100.0, fault=fault)
            executions.append(
                self._segment(
                    trace,
                    function,
                    "AWS::Lambda::Function",
                    parent_id=attempt,
                    start_s=begin + 0.005,
                    duration_ms=90.0,
                    fault=fault,
                )
            )
        return executions

    def aws_call(
        self,
        owner: Invocation | Caller,
        service: str,
        operation: str,
        *,
        resource: str | None,
        start_s: float,
        duration_ms: float = 5.0,
        throttled: bool = False,
        http_status: int | None = None,
        exception_type: str | None = None,
        retries: int = 0,
        nested_steps: int = 0,
        namespace: str = "aws",
        host: str | None = None,
    ) -> str:
        """An SDK call subsegment (in a function's handler), optionally with nested steps."""
        where = owner.as_caller() if isinstance(owner, Invocation) else owner
        call = self.span(
            trace_id=where.trace_id,
            parent_id=where.parent_id,
            segment_id=where.segment_id,
            depth=2,
            name=service,
            namespace=namespace,
            start_s=start_s,
            duration_ms=duration_ms,
            aws_operation=operation if namespace == "aws" else None,
            aws_resource=resource,
            aws_retries=retries,
            http_method="POST" if namespace == "remote" else None,
            host=host,
            throttle=throttled,
            error=throttled or exception_type is not None,
            http_status=http_status if http_status is not None else (429 if throttled else 200),
            exception_type=exception_type,
            exception_count=int(exception_type is not None),
        )
        for step in range(nested_steps):
            self.span(
                trace_id=where.trace_id,
                parent_id=call,
                segment_id=where.segment_id,
                depth=3,
                name=f"step-{step}",
                namespace="remote",
                start_s=start_s,
                duration_ms=duration_ms / 2,
                throttle=throttled,
                http_status=429 if throttled else 200,
            )
        return call

    def frame(self) -> pl.DataFrame:
        """The rows so far, conformed to ``SPAN_SCHEMA`` (an empty frame when there are none)."""
        if not self.rows:
            return pl.DataFrame(schema=SPAN_SCHEMA)
        return conform(pl.DataFrame(self.rows, infer_schema_length=None), SPAN_SCHEMA)


def frame_of(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``rows`` conformed to ``schema`` (REPORT_SCHEMA, METRIC_SCHEMA, FUNCTION_SCHEMA...)."""
    if not rows:
        return pl.DataFrame(schema=schema)
    return conform(pl.DataFrame(rows, infer_schema_length=None), schema)


def sample_documents() -> list[dict[str, Any]]:
    """A traced app invoking a function that publishes to SNS; the app then writes DynamoDB.

    The shapes of X-Ray's BatchGetTraces documents (inferred segments included).
    """
    trace = "1-66322f00-23fc5b688855d396af79b496"
    t0 = 1714564800.0
    return [
        {
            "trace_id": trace,
            "id": "194fcc8747581230",
            "name": "Scorekeep",
            "origin": "AWS::ElasticBeanstalk::Environment",
            "start_time": t0,
            "end_time": t0 + 3.2,
            "http": {"request": {"method": "POST", "url": "http://scorekeep.example.com/api/user"}},
            "subsegments": [
                {
                    "id": "0c544c1b1bbff948",
                    "name": "Lambda",
                    "namespace": "aws",
                    "start_time": t0 + 0.05,
                    "end_time": t0 + 3.0,
                    "aws": {"operation": "Invoke", "function_name": "random-name"},
                },
                {
                    "id": "071684f2e555e571",
                    "name": "## UserModel.saveUser",
                    "start_time": t0 + 3.02,
                    "end_time": t0 + 3.19,
                    "subsegments": [
                        {
                            "id": "4cd3f10b76c624b4",
                            "name": "DynamoDB",
                            "namespace": "aws",
                            "start_time": t0 + 3.1,
                            "end_time": t0 + 3.19,
                            "aws": {"operation": "UpdateItem", "table_name": "scorekeep-user"},
                        }
                    ],
                },
            ],
        },
        {
            "trace_id": trace,
            "id": "1fb07842d944e714",
            "parent_id": "0c544c1b1bbff948",
            "name": "random-name",
            "origin": "AWS::Lambda",
            "start_time": t0 + 0.1,
            "end_time": t0 + 2.99,
        },
        {
            "trace_id": trace,
            "id": "00f91aa01f4984fd",
            "parent_id": "1fb07842d944e714",
            "name": "random-name",
            "origin": "AWS::Lambda::Function",
            "start_time": t0 + 1.25,
            "end_time": t0 + 2.98,
            "aws": {"function_arn": "arn:aws:lambda:us-west-2:123456789012:function:random-name"},
            "subsegments": [
                {
                    "id": "2279c0030c955e52",
                    "name": "Initialization",
                    "start_time": t0 + 0.5,
                    "end_time": t0 + 1.24,
                },
                {
                    "id": "b29b548af4d54a0f",
                    "name": "SNS",
                    "namespace": "aws",
                    "start_time": t0 + 1.5,
                    "end_time": t0 + 2.5,
                    "aws": {
                        "operation": "Publish",
                        "topic_arn": "arn:aws:sns:us-west-2:123456789012:notifications",
                    },
                },
            ],
        },
        {
            "trace_id": trace,
            "id": "1ee3c4a523f89ca5",
            "parent_id": "b29b548af4d54a0f",
            "name": "SNS",
            "origin": "AWS::SNS",
            "inferred": True,
            "start_time": t0 + 1.5,
            "end_time": t0 + 2.5,
        },
        {
            "trace_id": trace,
            "id": "17ba309b32c7fbaf",
            "parent_id": "4cd3f10b76c624b4",
            "name": "DynamoDB",
            "origin": "AWS::DynamoDB::Table",
            "inferred": True,
            "start_time": t0 + 3.1,
            "end_time": t0 + 3.19,
            "aws": {"operation": "UpdateItem", "table_name": "scorekeep-user"},
        },
    ]
