"""Generate a sample set: traces, logs, metrics and configuration of the sample application,
plus the ground truth of what they contain."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tracelens.samples.api_gateway import serve
from tracelens.samples.app import (
    CREATE_ORDER,
    FUNCTIONS,
    ORDERS_GET,
    SAMPLING_RATIO,
)
from tracelens.samples.environments import PROVISIONED_LEAD_S, FunctionPool
from tracelens.samples.functions import FunctionResponses, function_responses
from tracelens.samples.ids import Draws
from tracelens.samples.lambda_service import invoke
from tracelens.samples.layout import Layout, build_layout
from tracelens.samples.ledger import Ledger
from tracelens.samples.logs import LogEvent, render_logs
from tracelens.samples.metrics import get_metric_data
from tracelens.samples.schedule import schedule
from tracelens.samples.truth import Truth
from tracelens.samples.world import Document, World

DEFAULT_START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SampleConfig:
    """What to generate.

    Parameters
    ----------
    seed
        Seed of the one ``random.Random`` every draw comes from: same config, same bytes.
    traces
        Traced (sampled) requests, one trace each; at least 60 so every condition shows.
    start
        Start of the window (timezone-aware). The default is fixed; a live demo passes
        ``now - 1h``. The generator never reads the clock.
    window
        Length of the window (at least 10 minutes).
    """

    seed: int = 20261120
    traces: int = 300
    start: datetime = DEFAULT_START
    window: timedelta = field(default=timedelta(hours=1))

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("SampleConfig.start must be timezone-aware (e.g. tzinfo=UTC)")


@dataclass(frozen=True)
class SampleSet:
    """One generated sample set.

    ``traces`` holds each trace's complete segment documents (including X-Ray's inferred
    segments, ``"inferred": true``) as ``(trace_id, documents)`` in request order; ``logs``
    each function's CloudWatch Logs events; ``metric_data`` the GetMetricData response;
    ``functions`` the configuration responses; ``layout`` how the documents are spread over
    the files of ``sample_traces/xray``; ``truth`` what all of it contains.
    """

    config: SampleConfig
    traces: tuple[tuple[str, tuple[Document, ...]], ...]
    logs: dict[str, tuple[LogEvent, ...]]
    metric_data: dict[str, Any]
    functions: FunctionResponses
    layout: Layout
    truth: Truth


def _world(config: SampleConfig, draws: Draws) -> World:
    start_s = config.start.timestamp()
    pools = {spec.name: FunctionPool(spec, draws) for spec in FUNCTIONS}
    init_ms = round(draws.ms(1180.0, 0.15, 800.0, 1900.0), 2)
    pools[ORDERS_GET.name].add_provisioned(start_s - PROVISIONED_LEAD_S, init_ms)
    return World(draws, Ledger(), start_s, start_s + config.window.total_seconds(), pools, invoke)


def generate(config: SampleConfig | None = None) -> SampleSet:
    """Generate the sample set described by ``config`` (deterministic for a given config).

    Raises
    ------
    ValueError
        When ``config`` asks for fewer than 60 traces or a window under 10 minutes.
    """
    config = config or SampleConfig()
    draws = Draws(config.seed)
    world = _world(config, draws)
    window_s = config.window.total_seconds()
    for request in schedule(draws, world.start_s, window_s, config.traces):
        world.traces.append(serve(world, request))
    layout = build_layout(world.traces, config.seed)
    reports = Counter(rec.function.name for rec in world.invocations)
    ledger = world.ledger
    truth = Truth(
        seed=config.seed,
        start=config.start.astimezone(UTC).isoformat(),
        window_s=round(window_s),
        sampling_ratio=SAMPLING_RATIO,
        traces=len(world.traces),
        documents=layout.counts,
        functions=ledger.functions([spec.name for spec in FUNCTIONS], reports, SAMPLING_RATIO),
        endpoints=ledger.endpoints(),
        invocation_throttles=ledger.invocation_throttles(),
        downstream_throttles=ledger.downstream_throttles(),
        dns_lookups=ledger.dns_lookups(),
        connections=ledger.connections(),
        slow_endpoint=ledger.slow_endpoint(CREATE_ORDER.key, CREATE_ORDER.function.name),
        service_map=ledger.service_map(),
    )
    return SampleSet(
        config=config,
        traces=tuple((t.trace_id, tuple(t.documents)) for t in world.traces),
        logs=render_logs(world.invocations, FUNCTIONS),
        metric_data=get_metric_data(world.invocations, world.throttles, world.start_s),
        functions=function_responses(config.start),
        layout=layout,
        truth=truth,
    )
