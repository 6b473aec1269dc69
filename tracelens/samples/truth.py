"""Ground truth: what the generator decided, for the analyzer's tests to check against.

Every number here is recorded while the generator builds the telemetry (never by re-reading
it), and is written to ``sample_traces/expected.json``. Durations are in milliseconds as the
generator chose them (2 decimals for init/restore, 3 for DNS); a value measured from the
documents' microsecond timestamps agrees within 0.01 ms.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

CLIENT = "client"
STAGE = "AWS::ApiGateway::Stage"
LAMBDA = "AWS::Lambda"
FUNCTION = "AWS::Lambda::Function"
DYNAMODB_TABLE = "AWS::DynamoDB::Table"
SQS_QUEUE = "AWS::SQS::Queue"
SNS_TOPIC = "AWS::SNS"
REMOTE = "remote"


@dataclass(frozen=True, order=True)
class NodeRef:
    """A service-map node as X-Ray's GetServiceGraph names it: (name, type)."""

    name: str
    type: str


@dataclass(frozen=True)
class ColdStarts:
    """Cold starts by kind: on-demand Initialization, provisioned-concurrency Initialization
    (prepared ahead of time, not user-facing), and SnapStart Restore."""

    on_demand: int
    provisioned: int
    snapstart: int


@dataclass(frozen=True)
class FunctionTruth:
    """Per function, over the traced (sampled) invocations.

    ``invocations`` counts ``AWS::Lambda::Function`` segments (executed invocations);
    ``throttled`` counts ``AWS::Lambda`` segments with ``throttle: true`` (never executed);
    ``errors`` counts invocations whose handler answered API Gateway with a 4xx;
    ``faults`` counts function segments with ``fault: true`` (unhandled error or timeout),
    ``timeouts`` the subset that timed out. ``metric_*`` are the window's CloudWatch Sums
    (``SAMPLING_RATIO`` times the traced counts).
    """

    invocations: int
    cold_starts: ColdStarts
    init_durations_ms: tuple[float, ...]
    provisioned_init_durations_ms: tuple[float, ...]
    restore_durations_ms: tuple[float, ...]
    throttled: int
    errors: int
    faults: int
    timeouts: int
    reports: int
    metric_invocations: int
    metric_errors: int
    metric_throttles: int


@dataclass(frozen=True)
class EndpointTruth:
    """Per API route: traced requests and how API Gateway answered them."""

    stage: str
    requests: int
    errors: int  # 4xx answers
    faults: int  # 5xx answers
    throttled: int  # requests whose Lambda invocation was throttled (answered 500)


@dataclass(frozen=True)
class InvocationThrottle:
    """Throttled invocations of ``target`` by one caller, and why Lambda refused them."""

    caller: str
    caller_type: str
    target: str
    count: int
    reason: str
    reserved_concurrency: int | None


@dataclass(frozen=True)
class DownstreamThrottle:
    """Downstream calls that ended throttled (``throttle: true``), with each call's retries."""

    function: str
    service: str
    resource: str
    operation: str
    count: int
    retries: tuple[int, ...]


@dataclass(frozen=True)
class DnsLookups:
    """DNS lookups made by ``function`` for ``host``, split by the invocation's start kind.

    ``style``: ``xray-go`` (``dns`` inside ``connect``), ``otel-go`` (``http.dns``) or
    ``otel-node`` (``dns.lookup``). ``failed_ms`` holds failed lookups (not in the other lists).
    """

    function: str
    host: str
    vpc: bool
    style: str
    cold_ms: tuple[float, ...]
    warm_ms: tuple[float, ...]
    failed_ms: tuple[float, ...]


@dataclass(frozen=True)
class Connections:
    """New versus reused connections from ``function`` to ``host`` (keep-alive behaviour)."""

    function: str
    host: str
    style: str
    cold_new: int
    warm_new: int
    warm_reused: int


@dataclass(frozen=True)
class SlowEndpoint:
    """The downstream node that dominates the slowest traces of one endpoint.

    The slowest traces are the ``ceil(5% of requests)`` traces of the endpoint with the
    longest API Gateway segment; ``share`` is the node's summed outermost-subsegment time in
    them divided by their summed API Gateway segment time.
    """

    stage: str
    endpoint: str
    node: NodeRef
    trace_ids: tuple[str, ...]
    share: float


@dataclass(frozen=True)
class Edge:
    """Calls from ``source`` to ``target``: one per outermost aws/remote subsegment (an
    inferred segment is the same call), one per request for client edges. A function is one
    node, ``AWS::Lambda::Function`` (its ``AWS::Lambda`` service segment included): an
    ``Invoke`` reaches it, and no edge joins the service to the function."""

    source: NodeRef
    target: NodeRef
    calls: int
    errors: int
    faults: int
    throttles: int


@dataclass(frozen=True)
class ServiceMap:
    nodes: tuple[NodeRef, ...]
    edges: tuple[Edge, ...]


@dataclass(frozen=True)
class DocumentCounts:
    """Segment documents across every file of ``sample_traces/xray``.

    ``written`` = ``unique`` + ``duplicates`` + ``in_progress_superseded``. ``unique`` counts
    distinct (trace_id, id); ``spans`` counts distinct segments and subsegments after nested
    subsegments are flattened (the rows of a span table).
    """

    written: int
    unique: int
    duplicates: int
    in_progress_superseded: int
    inferred: int
    independent_subsegments: int
    spans: int


@dataclass(frozen=True)
class Truth:
    """Everything the analyzer's tests may assert about a generated sample set."""

    seed: int
    start: str
    window_s: int
    sampling_ratio: int
    traces: int
    documents: DocumentCounts
    functions: dict[str, FunctionTruth]
    endpoints: dict[str, EndpointTruth]
    invocation_throttles: tuple[InvocationThrottle, ...]
    downstream_throttles: tuple[DownstreamThrottle, ...]
    dns_lookups: tuple[DnsLookups, ...]
    connections: tuple[Connections, ...]
    slow_endpoint: SlowEndpoint
    service_map: ServiceMap

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (tuples become lists when serialized)."""
        return dataclasses.asdict(self)
