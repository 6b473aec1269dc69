"""Synchronous Lambda invocations: the ``AWS::Lambda`` and ``AWS::Lambda::Function`` segments.

The ``AWS::Lambda`` segment is the service's view (millisecond timestamps, ``parent_id`` = the
caller's ``Lambda`` subsegment); the function segment (``parent_id`` = the ``AWS::Lambda``
segment) holds ``Initialization`` (or ``Restore`` for SnapStart) on cold starts, then
``Invocation`` with the handler's subsegments, then ``Overhead``. A throttled invocation has
only its ``AWS::Lambda`` segment (429, ``TooManyRequestsException``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tracelens.samples.app import ACCOUNT_ID, FunctionSpec
from tracelens.samples.calls import exception
from tracelens.samples.environments import ON_DEMAND, PROVISIONED, SNAPSTART, Acquired
from tracelens.samples.handlers import HANDLERS
from tracelens.samples.ids import ceil_ms, epoch_ms, epoch_us, floor_ms
from tracelens.samples.truth import FUNCTION, STAGE, NodeRef
from tracelens.samples.world import (
    Document,
    HandlerResult,
    InitInfo,
    InvocationRecord,
    InvokeOutcome,
    Site,
    ThrottleRecord,
    TraceBuild,
    World,
)

RESERVED_LIMIT = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT = "ConcurrentInvocationLimitExceeded"


@dataclass(frozen=True)
class _Attempt:
    """One invocation attempt: who calls which function, in which trace, and the ids and
    start of its ``AWS::Lambda`` segment."""

    world: World
    trace: TraceBuild
    caller: NodeRef
    spec: FunctionSpec
    lambda_start_s: float
    lambda_id: str
    request_id: str
    parent_id: str  # the caller's Lambda subsegment


@dataclass(frozen=True)
class _Executed:
    """An attempt that ran: where its handler ran, what it answered, and when each part
    ended (the handler ``start_s``..``end_s``, then Overhead, then the Lambda segment)."""

    site: Site
    init: InitInfo | None
    result: HandlerResult
    start_s: float
    end_s: float
    overhead_end_s: float
    lambda_end_s: float


def invoke(
    world: World,
    trace: TraceBuild,
    caller: NodeRef,
    spec: FunctionSpec,
    t_call_s: float,
    caller_subsegment_id: str,
) -> InvokeOutcome:
    """Invoke ``spec`` synchronously at ``t_call_s`` from the caller's ``Lambda`` subsegment."""
    draws = world.draws
    lambda_start_s = floor_ms(t_call_s + draws.uniform(0.0009, 0.0024))
    lambda_id = draws.hex_id()
    request_id = draws.request_id()
    attempt = _Attempt(
        world, trace, caller, spec, lambda_start_s, lambda_id, request_id, caller_subsegment_id
    )
    acquired = world.pools[spec.name].acquire(lambda_start_s)
    if acquired is None:
        return _throttled(attempt)
    return _execute(attempt, acquired)


def _lambda_segment(
    attempt: _Attempt, end_s: float, throttle_cause: Document | None = None
) -> Document:
    spec = attempt.spec
    doc: Document = {
        "id": attempt.lambda_id,
        "name": spec.name,
        "start_time": epoch_ms(attempt.lambda_start_s),
        "end_time": epoch_ms(end_s),
        "parent_id": attempt.parent_id,
    }
    if throttle_cause is not None:
        doc.update({"error": True, "throttle": True, "cause": throttle_cause})
    doc["http"] = {"response": {"status": 200 if throttle_cause is None else 429}}
    doc["aws"] = {"request_id": attempt.request_id}
    doc["trace_id"] = attempt.trace.trace_id
    doc["origin"] = "AWS::Lambda"
    doc["resource_arn"] = spec.invoked_arn
    return doc


def _throttled(attempt: _Attempt) -> InvokeOutcome:
    world, spec, start_s = attempt.world, attempt.spec, attempt.lambda_start_s
    draws = world.draws
    end_s = ceil_ms(start_s + draws.uniform(0.0006, 0.0021))
    rate = exception(draws, "TooManyRequestsException", "Rate exceeded", remote=False)
    attempt.trace.documents.append(_lambda_segment(attempt, end_s, {"exceptions": [rate]}))
    reason = RESERVED_LIMIT if spec.reserved_concurrency is not None else ACCOUNT_LIMIT
    world.ledger.node(NodeRef(spec.name, FUNCTION))
    world.ledger.throttled(attempt.caller, spec.name, reason, spec.reserved_concurrency)
    world.throttles.append(ThrottleRecord(spec, start_s, attempt.caller))
    return InvokeOutcome(attempt.lambda_id, attempt.request_id, start_s, end_s, True, 429, False)


def _init_timing(
    world: World, spec: FunctionSpec, acquired: Acquired, lambda_start_s: float
) -> tuple[InitInfo | None, float]:
    """The invocation's init (when it shows one) and when the handler starts."""
    draws = world.draws
    kind = acquired.cold_kind
    if kind == PROVISIONED and acquired.env.pending_init is not None:
        _, init_start_s, init_ms = acquired.env.pending_init
        return InitInfo(PROVISIONED, init_start_s, init_ms), lambda_start_s + draws.uniform(
            0.0004, 0.0015
        )
    if kind in (ON_DEMAND, SNAPSTART):
        median = spec.init_median_ms
        init_ms = round(draws.ms(median, 0.25, 0.45 * median, 2.6 * median), 2)
        init_start_s = lambda_start_s + draws.uniform(0.004, 0.028)
        handler_start_s = init_start_s + init_ms / 1000 + draws.uniform(0.0002, 0.0009)
        return InitInfo(kind, init_start_s, init_ms), handler_start_s
    return None, lambda_start_s + draws.uniform(0.0004, 0.0015)


def _execute(attempt: _Attempt, acquired: Acquired) -> InvokeOutcome:
    world, trace, spec = attempt.world, attempt.trace, attempt.spec
    lambda_start_s = attempt.lambda_start_s
    draws = world.draws
    env = acquired.env
    init, start_s = _init_timing(world, spec, acquired, lambda_start_s)
    site = Site(world, trace, spec, env, cold=init is not None, request_id=attempt.request_id)
    result = HANDLERS[spec.name](site, start_s)
    end_s = start_s + spec.timeout_s if result.timed_out else result.end_s
    overhead_end_s = end_s + draws.uniform(0.0003, 0.0016)
    lambda_end_s = ceil_ms(overhead_end_s + draws.uniform(0.0004, 0.0014))
    world.pools[spec.name].release(env, lambda_start_s, lambda_end_s)

    failed = result.error is not None
    run = _Executed(site, init, result, start_s, end_s, overhead_end_s, lambda_end_s)
    function_doc = _function_segment(attempt, run)
    trace.documents.append(_lambda_segment(attempt, lambda_end_s))
    trace.documents.append(function_doc)

    ledger = world.ledger
    ledger.executed(spec.name, init.kind if init else None, init.duration_ms if init else None)
    answered_4xx = attempt.caller.type == STAGE and not failed and 400 <= result.status < 500
    ledger.function_outcome(spec.name, fault=failed, timeout=result.timed_out, error=answered_4xx)
    # NOTE: the Lambda service and the function are one node on the map: no edge between them.
    ledger.node(NodeRef(spec.name, FUNCTION))
    world.invocations.append(_record(attempt, run, function_doc))
    return InvokeOutcome(
        attempt.lambda_id,
        attempt.request_id,
        lambda_start_s,
        lambda_end_s,
        False,
        result.status,
        failed,
    )


def _function_segment(attempt: _Attempt, run: _Executed) -> Document:
    spec, site, init, result = attempt.spec, run.site, run.init, run.result
    start_s, end_s, overhead_end_s = run.start_s, run.end_s, run.overhead_end_s
    draws = attempt.world.draws
    arn = {"function_arn": spec.invoked_arn}
    subsegments: list[Document] = []
    if init is not None:
        name = "Restore" if init.kind == SNAPSTART else "Initialization"
        init_end_s = init.start_s + init.duration_ms / 1000
        subsegments.append(
            {
                "id": draws.hex_id(),
                "name": name,
                "start_time": epoch_us(init.start_s),
                "end_time": epoch_us(init_end_s),
                "aws": arn,
            }
        )
    invocation: Document = {
        "id": draws.hex_id(),
        "name": "Invocation",
        "start_time": epoch_us(start_s),
        "end_time": epoch_us(end_s),
    }
    doc: Document = {"id": draws.hex_id(), "name": spec.name}
    # NOTE: a provisioned environment's Initialization ended minutes earlier; the function
    # segment covers only this invocation, so that Initialization lies before its parent.
    cold_start = init is not None and init.kind != PROVISIONED
    doc["start_time"] = epoch_us(init.start_s if cold_start and init else start_s - 0.0001)
    doc["end_time"] = epoch_us(overhead_end_s)
    doc["parent_id"] = attempt.lambda_id
    if result.error is not None:
        error = result.error
        invocation["fault"] = True
        if error.cause_ref is not None:
            invocation["cause"] = error.cause_ref
        else:
            invocation["cause"] = {
                "exceptions": [exception(draws, error.type, error.message, remote=False)]
            }
        doc["fault"] = True
        doc["cause"] = {
            "working_directory": "/var/task",
            "exceptions": [exception(draws, error.type, error.message, remote=False)],
        }
    invocation["aws"] = arn
    if site.children:
        invocation["subsegments"] = site.children
    subsegments.append(invocation)
    subsegments.append(
        {
            "id": draws.hex_id(),
            "name": "Overhead",
            "start_time": epoch_us(end_s),
            "end_time": epoch_us(overhead_end_s),
            "aws": arn,
        }
    )
    doc["aws"] = {
        "account_id": ACCOUNT_ID,
        "function_arn": spec.invoked_arn,
        "resource_names": [spec.name],
    }
    doc["trace_id"] = attempt.trace.trace_id
    doc["origin"] = "AWS::Lambda::Function"
    doc["subsegments"] = subsegments
    return doc


def _record(attempt: _Attempt, run: _Executed, function_doc: Document) -> InvocationRecord:
    spec, site, init, result = attempt.spec, run.site, run.init, run.result
    start_s, end_s = run.start_s, run.end_s
    lambda_start_s, lambda_end_s = attempt.lambda_start_s, run.lambda_end_s
    trace, draws = attempt.trace, attempt.world.draws
    duration_ms = round((end_s - start_s) * 1000, 2)
    billed_ms = math.ceil(duration_ms)
    billed_restore_ms = 0
    if init is not None and init.kind == ON_DEMAND:
        # NOTE: since August 2025 the INIT phase of on-demand invocations is billed too.
        billed_ms = math.ceil(duration_ms + init.duration_ms)
    if init is not None and init.kind == SNAPSTART:
        billed_restore_ms = math.ceil(init.duration_ms * draws.uniform(0.3, 0.5))
    memory_mb = min(
        spec.memory_mb,
        spec.base_memory_used_mb + draws.rng.randint(0, 14) + (6 if init is not None else 0),
    )
    status = "timeout" if result.timed_out else ("error" if result.error else "success")
    return InvocationRecord(
        function=spec,
        request_id=site.request_id,
        trace_id=trace.trace_id,
        lambda_segment_id=attempt.lambda_id,
        function_segment_id=str(function_doc["id"]),
        log_stream=site.env.log_stream,
        lambda_start_s=lambda_start_s,
        lambda_end_s=lambda_end_s,
        start_s=start_s,
        end_s=end_s,
        duration_ms=duration_ms,
        billed_ms=billed_ms,
        billed_restore_ms=billed_restore_ms,
        max_memory_mb=memory_mb,
        init=init,
        provisioned_env=site.env.provisioned,
        status=status,
        error=result.error,
        app_logs=tuple(site.app_logs),
    )
