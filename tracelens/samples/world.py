"""Shared state of one generation run and the records handlers produce."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tracelens.samples.app import Endpoint, FunctionSpec
from tracelens.samples.environments import Environment, FunctionPool
from tracelens.samples.ids import Draws
from tracelens.samples.ledger import Ledger
from tracelens.samples.truth import FUNCTION, NodeRef

Document = dict[str, Any]


class Flag(StrEnum):
    """Request flags decided up front by the schedule (so every sample shows each condition)."""

    BURST_ORDERS = "burst_orders"
    BURST_REPORTS = "burst_reports"
    PAYMENTS_SLOW = "payments_slow"
    PAYMENTS_502 = "payments_502"
    DNS_FAILURE = "dns_failure"
    CARRIER_HANG = "carrier_hang"
    SHIPPING_BATCH = "shipping_batch"


@dataclass(frozen=True)
class Request:
    """One client request to an API Gateway endpoint."""

    index: int
    start_s: float
    endpoint: Endpoint
    flags: frozenset[str] = frozenset()


@dataclass
class TraceBuild:
    """The segment documents of one trace, in the order they were produced."""

    trace_id: str
    request: Request
    documents: list[Document] = field(default_factory=list)


@dataclass(frozen=True)
class FunctionError:
    """An unhandled error: the function segment's fault and the log's error record."""

    type: str
    message: str
    cause_ref: str | None = None  # id of a subsegment exception the Invocation points at
    log_fields: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class HandlerResult:
    """How a handler finished: when, which HTTP status it answered, and any failure."""

    end_s: float
    status: int
    error: FunctionError | None = None
    timed_out: bool = False


@dataclass(frozen=True)
class InvokeOutcome:
    """What the caller of ``Invoke`` sees."""

    lambda_segment_id: str
    request_id: str
    start_s: float
    end_s: float
    throttled: bool
    status: int  # the handler's answer, 429 when throttled
    function_error: bool


@dataclass(frozen=True)
class InitInfo:
    kind: str  # on_demand | provisioned | snapstart
    start_s: float
    duration_ms: float


@dataclass(frozen=True)
class InvocationRecord:
    """One executed invocation: what its platform log lines report."""

    function: FunctionSpec
    request_id: str
    trace_id: str
    lambda_segment_id: str
    function_segment_id: str
    log_stream: str
    lambda_start_s: float
    lambda_end_s: float
    start_s: float
    end_s: float
    duration_ms: float
    billed_ms: int
    billed_restore_ms: int
    max_memory_mb: int
    init: InitInfo | None
    provisioned_env: bool
    status: str  # success | error | timeout
    error: FunctionError | None
    app_logs: tuple[tuple[float, str, str], ...]


@dataclass(frozen=True)
class ThrottleRecord:
    function: FunctionSpec
    t_s: float
    caller: NodeRef


# A synchronous invocation (``lambda_service.invoke``): (world, trace, caller, spec, t_call_s,
# caller_subsegment_id) -> what the caller's ``Lambda`` subsegment saw.
Invoker = Callable[["World", TraceBuild, NodeRef, FunctionSpec, float, str], InvokeOutcome]


@dataclass
class World:
    """Everything one generation run accumulates."""

    draws: Draws
    ledger: Ledger
    start_s: float
    end_s: float
    pools: dict[str, FunctionPool]
    invoke: Invoker
    invocations: list[InvocationRecord] = field(default_factory=list)
    throttles: list[ThrottleRecord] = field(default_factory=list)
    traces: list[TraceBuild] = field(default_factory=list)


@dataclass
class Site:
    """Where a handler runs: its function, environment, trace and the Invocation's children."""

    world: World
    trace: TraceBuild
    function: FunctionSpec
    env: Environment
    cold: bool
    request_id: str
    children: list[Document] = field(default_factory=list)
    app_logs: list[tuple[float, str, str]] = field(default_factory=list)

    @property
    def draws(self) -> Draws:
        return self.world.draws

    @property
    def node(self) -> NodeRef:
        return NodeRef(self.function.name, FUNCTION)

    @property
    def flags(self) -> frozenset[str]:
        return self.trace.request.flags

    def log(self, t_s: float, level: str, text: str) -> None:
        self.app_logs.append((t_s, level, text))
