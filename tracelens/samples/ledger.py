"""Records each decision the generator makes, then summarizes them as ground truth."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tracelens.samples.truth import (
    FUNCTION,
    ColdStarts,
    Connections,
    DnsLookups,
    DownstreamThrottle,
    Edge,
    EndpointTruth,
    FunctionTruth,
    InvocationThrottle,
    NodeRef,
    ServiceMap,
    SlowEndpoint,
)


@dataclass
class _FunctionTally:
    invocations: int = 0
    cold: Counter[str] = field(default_factory=Counter)
    init_ms: list[float] = field(default_factory=list)
    provisioned_init_ms: list[float] = field(default_factory=list)
    restore_ms: list[float] = field(default_factory=list)
    throttled: int = 0
    errors: int = 0
    faults: int = 0
    timeouts: int = 0


@dataclass
class _EdgeTally:
    calls: int = 0
    errors: int = 0
    faults: int = 0
    throttles: int = 0


@dataclass
class _DnsTally:
    vpc: bool
    style: str
    cold_ms: list[float] = field(default_factory=list)
    warm_ms: list[float] = field(default_factory=list)
    failed_ms: list[float] = field(default_factory=list)


@dataclass
class _ConnectionTally:
    style: str
    cold_new: int = 0
    warm_new: int = 0
    warm_reused: int = 0


@dataclass(frozen=True)
class _Request:
    trace_id: str
    endpoint: str
    stage: str
    duration_ms: float


class Ledger:
    """Accumulates what was generated: invocations, calls, throttles, DNS lookups."""

    def __init__(self) -> None:
        self._functions: dict[str, _FunctionTally] = defaultdict(_FunctionTally)
        self._edges: dict[tuple[NodeRef, NodeRef], _EdgeTally] = defaultdict(_EdgeTally)
        self._nodes: set[NodeRef] = set()
        self._throttles: Counter[tuple[str, str, str, str, int | None]] = Counter()
        self._downstream: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
        self._dns: dict[tuple[str, str], _DnsTally] = {}
        self._connections: dict[tuple[str, str], _ConnectionTally] = {}
        self._endpoints: dict[str, Counter[str]] = defaultdict(Counter)
        self._endpoint_stage: dict[str, str] = {}
        self._requests: list[_Request] = []
        # trace id -> (calling function, node) -> summed outermost-call milliseconds
        self._node_ms: dict[str, dict[tuple[str, NodeRef], float]] = defaultdict(
            lambda: defaultdict(float)
        )

    # -- recording -------------------------------------------------------------------------

    def executed(self, function: str, cold_kind: str | None, init_ms: float | None) -> None:
        tally = self._functions[function]
        tally.invocations += 1
        if cold_kind is None or init_ms is None:
            return
        tally.cold[cold_kind] += 1
        target = {
            "on_demand": tally.init_ms,
            "provisioned": tally.provisioned_init_ms,
            "snapstart": tally.restore_ms,
        }[cold_kind]
        target.append(init_ms)

    def function_outcome(self, function: str, *, fault: bool, timeout: bool, error: bool) -> None:
        tally = self._functions[function]
        tally.faults += int(fault)
        tally.timeouts += int(timeout)
        tally.errors += int(error)

    def throttled(self, caller: NodeRef, target: str, reason: str, reserved: int | None) -> None:
        self._functions[target].throttled += 1
        self._throttles[(caller.name, caller.type, target, reason, reserved)] += 1

    def node(self, node: NodeRef) -> None:
        self._nodes.add(node)

    def call(
        self,
        source: NodeRef,
        target: NodeRef,
        *,
        trace_id: str,
        duration_ms: float,
        status: int | None,
        fault: bool = False,
        throttle: bool = False,
    ) -> None:
        """One call on the service map; flags follow the SDKs' status mapping."""
        self._nodes.update((source, target))
        tally = self._edges[(source, target)]
        tally.calls += 1
        if throttle or status == 429:
            tally.throttles += 1
        if status is not None and 400 <= status < 500:
            tally.errors += 1
        if fault or (status is not None and status >= 500):
            tally.faults += 1
        if source.type == FUNCTION:
            self._node_ms[trace_id][(source.name, target)] += duration_ms

    def downstream_throttle(
        self, function: str, service: str, resource: str, operation: str, retries: int
    ) -> None:
        self._downstream[(function, service, resource, operation)].append(retries)

    def dns(
        self,
        function: str,
        host: str,
        *,
        vpc: bool,
        style: str,
        cold: bool,
        ms: float,
        failed: bool = False,
    ) -> None:
        tally = self._dns.setdefault((function, host), _DnsTally(vpc=vpc, style=style))
        bucket = tally.failed_ms if failed else (tally.cold_ms if cold else tally.warm_ms)
        bucket.append(ms)

    def connection(self, function: str, host: str, *, style: str, cold: bool, new: bool) -> None:
        tally = self._connections.setdefault((function, host), _ConnectionTally(style=style))
        if cold:
            tally.cold_new += 1
        elif new:
            tally.warm_new += 1
        else:
            tally.warm_reused += 1

    def request(
        self,
        trace_id: str,
        stage: str,
        endpoint: str,
        status: int,
        *,
        throttled: bool,
        duration_ms: float,
    ) -> None:
        counts = self._endpoints[endpoint]
        self._endpoint_stage[endpoint] = stage
        counts["requests"] += 1
        counts["errors"] += int(400 <= status < 500)
        counts["faults"] += int(status >= 500)
        counts["throttled"] += int(throttled)
        self._requests.append(_Request(trace_id, endpoint, stage, duration_ms))

    # -- summaries -------------------------------------------------------------------------

    def functions(
        self, names: list[str], reports: Counter[str], ratio: int
    ) -> dict[str, FunctionTruth]:
        out: dict[str, FunctionTruth] = {}
        for name in names:
            tally = self._functions[name]
            out[name] = FunctionTruth(
                invocations=tally.invocations,
                cold_starts=ColdStarts(
                    on_demand=tally.cold["on_demand"],
                    provisioned=tally.cold["provisioned"],
                    snapstart=tally.cold["snapstart"],
                ),
                init_durations_ms=tuple(tally.init_ms),
                provisioned_init_durations_ms=tuple(tally.provisioned_init_ms),
                restore_durations_ms=tuple(tally.restore_ms),
                throttled=tally.throttled,
                errors=tally.errors,
                faults=tally.faults,
                timeouts=tally.timeouts,
                reports=reports[name],
                metric_invocations=ratio * tally.invocations,
                metric_errors=ratio * tally.faults,
                metric_throttles=ratio * tally.throttled,
            )
        return out

    def endpoints(self) -> dict[str, EndpointTruth]:
        return {
            key: EndpointTruth(
                stage=self._endpoint_stage[key],
                requests=counts["requests"],
                errors=counts["errors"],
                faults=counts["faults"],
                throttled=counts["throttled"],
            )
            for key, counts in sorted(self._endpoints.items())
        }

    def invocation_throttles(self) -> tuple[InvocationThrottle, ...]:
        return tuple(
            InvocationThrottle(caller, caller_type, target, count, reason, reserved)
            for (caller, caller_type, target, reason, reserved), count in sorted(
                self._throttles.items(), key=lambda item: item[0][:4]
            )
        )

    def downstream_throttles(self) -> tuple[DownstreamThrottle, ...]:
        return tuple(
            DownstreamThrottle(fn, service, resource, operation, len(retries), tuple(retries))
            for (fn, service, resource, operation), retries in sorted(self._downstream.items())
        )

    def dns_lookups(self) -> tuple[DnsLookups, ...]:
        return tuple(
            DnsLookups(
                function=fn,
                host=host,
                vpc=tally.vpc,
                style=tally.style,
                cold_ms=tuple(tally.cold_ms),
                warm_ms=tuple(tally.warm_ms),
                failed_ms=tuple(tally.failed_ms),
            )
            for (fn, host), tally in sorted(self._dns.items())
        )

    def connections(self) -> tuple[Connections, ...]:
        return tuple(
            Connections(fn, host, t.style, t.cold_new, t.warm_new, t.warm_reused)
            for (fn, host), t in sorted(self._connections.items())
        )

    def service_map(self) -> ServiceMap:
        edges = tuple(
            Edge(source, target, t.calls, t.errors, t.faults, t.throttles)
            for (source, target), t in sorted(self._edges.items())
        )
        return ServiceMap(nodes=tuple(sorted(self._nodes)), edges=edges)

    def slow_endpoint(self, endpoint: str, function: str) -> SlowEndpoint:
        """The node, among ``function``'s direct dependencies, holding most of the time of the
        endpoint's slowest 5% of traces."""
        requests = sorted(
            (r for r in self._requests if r.endpoint == endpoint),
            key=lambda r: (-r.duration_ms, r.trace_id),
        )
        slowest = requests[: max(1, math.ceil(0.05 * len(requests)))]
        node_ms: dict[NodeRef, float] = defaultdict(float)
        for request in slowest:
            for (caller, node), ms in self._node_ms[request.trace_id].items():
                if caller == function:
                    node_ms[node] += ms
        node, total_ms = max(node_ms.items(), key=lambda item: (item[1], item[0]))
        share = total_ms / sum(r.duration_ms for r in slowest)
        return SlowEndpoint(
            stage=slowest[0].stage,
            endpoint=endpoint,
            node=node,
            trace_ids=tuple(r.trace_id for r in slowest),
            share=round(share, 4),
        )
