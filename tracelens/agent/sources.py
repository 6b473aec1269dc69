"""The collectors the runner drives, built from the registry (tests and other sources can
stand in: anything that keeps :class:`collectors.contract.Collector`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
) -> Mapping[str, Collector]:
    """Every registered collector ``config`` has settings for, each with its own client made
    once, here."""
    built: dict[str, Collector] = {}
    configured = {settings.name: settings for settings in config.collectors}
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
        )
        built[registration.name] = registration.build(context)
    return built
