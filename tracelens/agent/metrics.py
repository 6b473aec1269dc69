"""Prometheus metrics of the agent: per collector, account and region, and findings by severity.

Values are kept in :class:`AgentMetrics` (updated after every cycle and every report) and
rendered at scrape time by a custom collector, so that the lag (now minus the end of the last
window stored) is current when Prometheus asks. Served by prometheus-client's HTTP server on
``[agent] metrics_port`` (path ``/metrics``).

==========================================================  =====================================
``tracelens_collector_last_success_timestamp_seconds``      last cycle that stored data (ok/partial)
``tracelens_collector_lag_seconds``                         now - end of the last window stored
``tracelens_collector_items_total``                         normalized rows stored
``tracelens_collector_api_calls_total``                     AWS API calls
``tracelens_collector_throttles_total``                     throttled calls
``tracelens_collector_failures_total``                      cycles that failed
``tracelens_collector_cycles_total``                        cycles, by status (ok, partial, failed)
``tracelens_findings``                                      findings of the last report, by severity
``tracelens_report_last_success_timestamp_seconds``         last report written
==========================================================  =====================================
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tracelens.agent.outcome import CycleOutcome

SEVERITIES = ("critical", "warning", "info")
STATUSES = ("ok", "partial", "failed")
_LABELS = ["collector", "account", "region"]


@dataclass
class _CollectorValues:
    last_success: datetime | None = None
    checkpoint_end: datetime | None = None
    items: int = 0
    api_calls: int = 0
    throttles: int = 0
    cycles: Counter[str] = field(default_factory=Counter)


_Key = tuple[str, str, str]  # collector, account, region


class AgentMetrics(Collector):
    """The agent's metrics, labelled by collector, account and region (thread-safe).

    ``account`` and ``region`` label what is recorded without a target of its own (the
    agent's only one).
    """

    def __init__(
        self, account: str, region: str, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._account = account
        self._region = region
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._collectors: dict[_Key, _CollectorValues] = {}
        self._findings: dict[tuple[str, str], dict[str, int]] = {}
        self._report_success: datetime | None = None

    def _key(self, collector: str, account: str, region: str) -> _Key:
        return (collector, account or self._account, region or self._region)

    def expect(self, collector: str, *, account: str = "", region: str = "") -> None:
        """Show a scheduled collector (zero counts) before its first cycle."""
        with self._lock:
            self._collectors.setdefault(self._key(collector, account, region), _CollectorValues())

    def record_cycle(self, outcome: CycleOutcome, *, checkpoint_end: datetime | None) -> None:
        """Count a finished cycle; ``checkpoint_end`` is where its checkpoint now stands."""
        key = self._key(outcome.collector, outcome.account, outcome.region)
        with self._lock:
            values = self._collectors.setdefault(key, _CollectorValues())
            values.cycles[outcome.status] += 1
            values.items += outcome.items
            values.api_calls += outcome.stats.api_calls
            values.throttles += outcome.stats.throttles
            if not outcome.failed:
                values.last_success = outcome.started_at
            if checkpoint_end is not None:
                values.checkpoint_end = checkpoint_end

    def record_findings(
        self, severities: Iterable[str], *, at: datetime, account: str = "", region: str = ""
    ) -> None:
        """The findings of a report just written (of one target's analysis, with several)."""
        counts = Counter(severities)
        target = (account or self._account, region or self._region)
        with self._lock:
            self._findings[target] = {severity: counts.get(severity, 0) for severity in SEVERITIES}
            self._report_success = at

    def collect(self) -> Iterator[Metric]:
        """The metrics as prometheus-client families (called at scrape time)."""
        now = self._clock()
        with self._lock:
            rows = sorted(self._collectors.items())
            findings = {target: dict(counts) for target, counts in self._findings.items()}
            report_success = self._report_success
        last = GaugeMetricFamily(
            "tracelens_collector_last_success_timestamp_seconds",
            "Start of the collector's last cycle that stored data (Unix time).",
            labels=_LABELS,
        )
        lag = GaugeMetricFamily(
            "tracelens_collector_lag_seconds",
            "How far behind now the collector's stored data ends (its checkpoint).",
            labels=_LABELS,
        )
        items = CounterMetricFamily(
            "tracelens_collector_items", "Normalized rows stored.", labels=_LABELS
        )
        calls = CounterMetricFamily(
            "tracelens_collector_api_calls", "AWS API calls made.", labels=_LABELS
        )
        throttles = CounterMetricFamily(
            "tracelens_collector_throttles", "AWS API calls throttled.", labels=_LABELS
        )
        failures = CounterMetricFamily(
            "tracelens_collector_failures", "Collection cycles that failed.", labels=_LABELS
        )
        cycles = CounterMetricFamily(
            "tracelens_collector_cycles",
            "Collection cycles by status.",
            labels=[*_LABELS, "status"],
        )
        for key, values in rows:
            labels = list(key)
            if values.last_success is not None:
                last.add_metric(labels, values.last_success.timestamp())
            if values.checkpoint_end is not None:
                lag.add_metric(labels, max((now - values.checkpoint_end).total_seconds(), 0.0))
            items.add_metric(labels, values.items)
            calls.add_metric(labels, values.api_calls)
            throttles.add_metric(labels, values.throttles)
            failures.add_metric(labels, values.cycles["failed"])
            for status in STATUSES:
                cycles.add_metric([*labels, status], values.cycles[status])
        yield from (last, lag, items, calls, throttles, failures, cycles)
        if findings:
            family = GaugeMetricFamily(
                "tracelens_findings",
                "Findings of the last report, by severity.",
                labels=["severity", "account", "region"],
            )
            for (account, region), counts in sorted(findings.items()):
                for severity, count in counts.items():
                    family.add_metric([severity, account, region], count)
            yield family
        if report_success is not None:
            yield GaugeMetricFamily(
                "tracelens_report_last_success_timestamp_seconds",
                "When the report was last written (Unix time).",
                value=report_success.timestamp(),
            )

    def registry(self) -> CollectorRegistry:
        """A registry holding only these metrics."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry


class MetricsServer:
    """prometheus-client's HTTP server for one registry (``/metrics``), in a daemon thread."""

    def __init__(self, metrics: AgentMetrics, *, port: int, address: str = "127.0.0.1") -> None:
        self._server, self._thread = start_http_server(
            port, addr=address, registry=metrics.registry()
        )

    @property
    def url(self) -> str:
        """Where it listens."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/metrics"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
