"""The Prometheus endpoint (per collector, account and region; findings by severity) and
structured JSON logs."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collectors.base import CallStats
from tests.builders.agent import SlowCycles, scheduler_config
from tracelens.agent.config import DaemonSettings
from tracelens.agent.logsetup import LoggingError, configure_logging, resolve
from tracelens.agent.metrics import AgentMetrics, MetricsServer
from tracelens.agent.outcome import CycleOutcome
from tracelens.agent.scheduler import Agent
from tracelens.store import open_store

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def labels(collector: str, account: str = "prod", **extra: str) -> tuple[tuple[str, str], ...]:
    every = {"collector": collector, "account": account, "region": "eu-west-1", **extra}
    return tuple(sorted(every.items()))


def severity(name: str) -> tuple[tuple[str, str], ...]:
    return (("account", "prod"), ("region", "eu-west-1"), ("severity", name))


def test_cycles_and_findings_become_labelled_series() -> None:
    now = [T0]
    metrics = AgentMetrics("prod", "eu-west-1", clock=lambda: now[0])
    metrics.expect("logs")
    metrics.record_cycle(
        CycleOutcome(
            collector="xray",
            status="ok",
            started_at=T0,
            items=120,
            stats=CallStats(api_calls=7, throttles=2),
        ),
        checkpoint_end=T0 - timedelta(minutes=2),
    )
    metrics.record_cycle(
        CycleOutcome(collector="xray", status="failed", started_at=T0 + timedelta(minutes=5)),
        checkpoint_end=T0 - timedelta(minutes=2),
    )
    metrics.record_findings(["critical", "warning", "warning", "info"], at=T0)
    now[0] = T0 + timedelta(minutes=10)

    found = samples(generate_latest(metrics.registry()).decode())

    xray = labels("xray")
    assert found[("tracelens_collector_last_success_timestamp_seconds", xray)] == T0.timestamp()
    assert found[("tracelens_collector_lag_seconds", xray)] == 720.0  # grows until the next cycle
    assert found[("tracelens_collector_items_total", xray)] == 120
    assert found[("tracelens_collector_api_calls_total", xray)] == 7
    assert found[("tracelens_collector_throttles_total", xray)] == 2
    assert found[("tracelens_collector_failures_total", xray)] == 1
    assert found[("tracelens_collector_cycles_total", labels("xray", status="ok"))] == 1
    # A collector not run yet: counted at zero, no last success and no lag (unknown, not 0).
    assert found[("tracelens_collector_failures_total", labels("logs"))] == 0
    assert ("tracelens_collector_lag_seconds", labels("logs")) not in found
    assert ("tracelens_collector_last_success_timestamp_seconds", labels("logs")) not in found
    assert found[("tracelens_findings", severity("warning"))] == 2
    assert found[("tracelens_findings", severity("critical"))] == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_agent_serves_metrics_over_http(tmp_path: Path) -> None:
    port = free_port()
    config = scheduler_config(tmp_path)
    config = replace(config, daemon=replace(config.daemon, metrics_port=port))
    agent = Agent(
        config,
        open_store(tmp_path / "s"),
        SlowCycles(0.01, failing=frozenset({"logs"})),
        stop=threading.Event(),
    )
    agent.start()
    try:
        time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        agent.shutdown()
    found = samples(text)
    assert found[("tracelens_collector_failures_total", labels("logs", account="acct"))] >= 1
    ok = labels("xray", account="acct", status="ok")
    assert found[("tracelens_collector_cycles_total", ok)] >= 1


def test_a_metrics_server_on_a_free_port_names_its_url() -> None:
    server = MetricsServer(AgentMetrics("a", "r"), port=0)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=5) as response:
            assert response.status == 200
            assert b"# TYPE tracelens_collector_items_total counter" in response.read()
    finally:
        server.stop()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_carry_the_cycle_fields(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(*resolve(None, "json", default_level="INFO"))
    outcome = CycleOutcome(collector="xray", status="partial", started_at=T0, items=3)
    logging.getLogger("tracelens.agent.scheduler").warning(
        "%s", outcome.describe(), extra={"cycle": outcome.as_json()}
    )
    (line,) = capsys.readouterr().err.strip().splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING"
    assert record["logger"] == "tracelens.agent.scheduler"
    assert record["message"].startswith("xray")
    assert record["cycle"]["status"] == "partial"
    assert record["cycle"]["items"] == 3
    assert "timestamp" in record


def test_the_format_and_level_come_from_the_environment_and_are_checked() -> None:
    assert resolve(None, None, default_level="INFO", environ={"TRACELENS_LOG_FORMAT": "JSON"}) == (
        logging.INFO,
        "json",
    )
    with pytest.raises(LoggingError, match="TRACELENS_LOG_FORMAT: 'yaml'"):
        resolve(None, None, default_level="INFO", environ={"TRACELENS_LOG_FORMAT": "yaml"})
    with pytest.raises(LoggingError, match="TRACELENS_LOG_LEVEL"):
        resolve(None, None, default_level="INFO", environ={"TRACELENS_LOG_LEVEL": "loud"})


def test_metrics_settings_are_read_and_checked(tmp_path: Path) -> None:
    from tracelens.agent.config import ConfigError
    from tracelens.agent.config_file import load_config

    path = tmp_path / "t.toml"
    path.write_text('[agent]\nmetrics_port = 9464\nmetrics_address = "0.0.0.0"\n')
    daemon = load_config(path, environ={}).daemon
    assert (daemon.metrics_port, daemon.metrics_address) == (9464, "0.0.0.0")
    assert load_config(path, environ={"TRACELENS_METRICS_PORT": "9000"}).daemon.metrics_port == 9000
    path.write_text('[agent]\nmetrics_port = 70000\nmetrics_address = "everywhere"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    assert [p.where.split(": ")[-1] for p in raised.value.problems] == [
        "[agent] metrics_port",
        "[agent] metrics_address",
    ]
    assert DaemonSettings().metrics_port == 0
