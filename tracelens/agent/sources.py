"""The collectors the runner drives, built from the registry (tests and other sources can
stand in: anything that keeps :class:`collectors.contract.Collector`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime

from collectors import registry
from collectors.contract import BuildContext, Collector
from collectors.session import ClientFactory
from tracelens.agent.config import AgentConfig


def build_collectors(
    config: AgentConfig,
    factory: ClientFactory,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], datetime],
    target_collectors: Collection[str] | None = None,
) -> Mapping[str, Collector]:
    """Every registered collector ``config`` has settings for, each with its own client made
    once, here.

    ``target_collectors`` are the collectors run for the target (None: every enabled one):
    the X-Ray collector leaves the traces to the spans collector when that one runs too.
    """
    built: dict[str, Collector] = {}
    configured = {settings.name: settings for settings in config.collectors}
    running = (
        set(target_collectors)
        if target_collectors is not None
        else {settings.name for settings in config.enabled_collectors}
    )
    spans = configured.get("spans")
    for registration in registry.REGISTRY:
        settings = configured.get(registration.name)
        if settings is None:
            continue
        context = BuildContext(
            factory=factory,
            retry=config.retry,
            sleep=sleep,
            clock=clock,
            step=config.collect.step,
            timeout=settings.timeout,
            lag=settings.lag,
            functions=config.collect.functions,
            filter_expression=settings.filter_expression,
            period=settings.period,
            percentiles=settings.percentiles,
            trace_destination=settings.destination,
            spans_alongside=spans is not None and spans.enabled and "spans" in running,
            spans_destination=spans.destination if spans is not None else None,
            fetch_indexed=settings.fetch_indexed,
        )
        built[registration.name] = registration.build(context)
    return built
