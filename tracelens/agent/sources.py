"""The four collectors the runner drives, as roles (so tests and other sources can stand in)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from collectors.base import Window
from collectors.cloudwatch import CloudWatchCollector, MetricsResult
from collectors.lambda_config import LambdaConfigCollector, LambdaConfigResult
from collectors.logs_insights import LogsInsightsCollector, LogsResult
from collectors.session import ClientFactory
from collectors.xray import XRayCollector, XRayResult
from tracelens.agent.config import AgentConfig


class LambdaSource(Protocol):
    """Reads function configuration (:class:`collectors.LambdaConfigCollector`)."""

    def collect(self, *, functions: Collection[str] | None = None) -> LambdaConfigResult:
        """Functions, concurrency settings, account settings."""
        ...


class XRaySource(Protocol):
    """Reads traces of a window (:class:`collectors.XRayCollector`)."""

    def collect(
        self,
        window: Window,
        *,
        known: Mapping[str, int] | None = None,
        partial: Mapping[str, int] | None = None,
    ) -> XRayResult:
        """Summaries and the traces not held yet."""
        ...


class MetricsSource(Protocol):
    """Reads AWS/Lambda metrics of a window (:class:`collectors.CloudWatchCollector`)."""

    def collect(
        self,
        window: Window,
        *,
        functions: Sequence[str],
        lag: timedelta = ...,
        account_level: bool = ...,
    ) -> MetricsResult:
        """Datapoints up to ``now - lag``."""
        ...


class LogsSource(Protocol):
    """Reads Lambda log lines of a window (:class:`collectors.LogsInsightsCollector`)."""

    def collect(self, window: Window, *, functions: Sequence[str]) -> LogsResult:
        """Platform, timeout and DNS lines."""
        ...


@dataclass(frozen=True)
class Collectors:
    """One of each source."""

    lambda_config: LambdaSource
    xray: XRaySource
    metrics: MetricsSource
    logs: LogsSource


def build_collectors(
    config: AgentConfig,
    factory: ClientFactory,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], datetime],
) -> Collectors:
    """The AWS collectors for ``config``, each with its own client made once, here."""
    retry = config.retry
    xray = config.collector("xray")
    return Collectors(
        lambda_config=LambdaConfigCollector(client=factory.lambda_(), retry=retry, sleep=sleep),
        xray=XRayCollector(
            client=factory.xray(),
            retry=retry,
            sleep=sleep,
            max_span=config.collect.step,
            filter_expression=xray.filter_expression,
        ),
        metrics=CloudWatchCollector(
            client=factory.cloudwatch(),
            retry=retry,
            sleep=sleep,
            clock=clock,
            period_s=int(config.collector("cloudwatch").period.total_seconds()),
        ),
        logs=LogsInsightsCollector(
            client=factory.logs(),
            retry=retry,
            sleep=sleep,
            query_timeout_s=config.collector("logs").timeout.total_seconds(),
        ),
    )
