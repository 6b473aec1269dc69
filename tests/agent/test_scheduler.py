"""The agent's scheduler with stand-in cycles: one run at a time per collector, status, stop."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.builders.agent import INTERVAL, SlowCycles, scheduler_config
from tracelens.agent.config import (
    ReportSettings,
    TargetSettings,
)
from tracelens.agent.outcome import CycleOutcome
from tracelens.agent.scheduler import Agent
from tracelens.agent.status import AgentStatus
from tracelens.store import open_store


def _status(tmp_path: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((tmp_path / "status.json").read_text())
    return document


def _run_until(agent: Agent, done: Callable[[], bool], *, timeout_s: float = 60.0) -> None:
    """Run ``agent`` until ``done()`` holds (a busy machine runs the jobs late, not wrongly)."""
    agent.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, "the agent's jobs did not run in time"
            time.sleep(0.02)
    finally:
        agent.shutdown()


def test_a_slow_collector_never_runs_twice_at_once_and_missed_runs_coalesce(
    tmp_path: Path,
) -> None:
    cycles = SlowCycles(duration_s=0.35)
    agent = Agent(
        scheduler_config(tmp_path), open_store(tmp_path / "s"), cycles, stop=threading.Event()
    )

    names = ("lambda", "xray", "cloudwatch", "logs")
    jobs: dict[str, Any] = {}

    def ran_three_times() -> bool:
        jobs.update((job.name, job) for job in agent._scheduler.get_jobs())
        return all(cycles.finished.get(name, 0) >= 3 for name in names)

    _run_until(agent, ran_three_times)

    assert set(cycles.most_at_once.values()) == {1}
    # due every 100 ms while each run takes 350 ms: a run due while one is going is skipped
    # (max_instances) and runs missed meanwhile become one (coalesce), as the jobs declare
    for name in names:
        job = next(job for key, job in jobs.items() if key.startswith(f"collect {name}"))
        assert (job.max_instances, job.coalesce) == (1, True), name
    assert cycles.finished == cycles.started  # shutdown waited for runs in progress


def test_the_status_file_shows_the_last_success_of_every_collector(tmp_path: Path) -> None:
    cycles = SlowCycles(duration_s=0.01, failing=frozenset({"xray"}))
    agent = Agent(
        scheduler_config(tmp_path), open_store(tmp_path / "s"), cycles, stop=threading.Event()
    )

    _run_until(
        agent,
        lambda: cycles.finished.get("logs", 0) >= 3 and cycles.finished.get("xray", 0) >= 2,
    )

    status = _status(tmp_path)
    assert status["state"] == "stopped"
    assert status["healthy"] is False
    collectors = status["collectors"]
    assert isinstance(collectors, dict)
    assert collectors["xray"]["last_success"] is None
    assert collectors["xray"]["consecutive_failures"] >= 2
    assert "AccessDenied" in collectors["xray"]["last_run"]["error"]
    for name in ("lambda", "cloudwatch", "logs"):
        assert collectors[name]["last_success"] is not None
        assert collectors[name]["last_run"]["status"] == "ok"
    assert cycles.started["logs"] >= 3  # the failing collector never stopped the others


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            return int(answer.status), dict(json.loads(answer.read()))
    except urllib.error.HTTPError as refused:
        return refused.code, dict(json.loads(refused.read()))


def test_the_health_endpoint_answers_on_loopback_with_the_status(tmp_path: Path) -> None:
    port = _free_port()
    cycles = SlowCycles(duration_s=0.01, failing=frozenset({"logs"}))
    agent = Agent(
        scheduler_config(tmp_path, port=port),
        open_store(tmp_path / "s"),
        cycles,
        stop=threading.Event(),
    )
    agent.start()
    try:
        deadline = time.monotonic() + 60
        while True:  # until both collectors have run once (a busy machine runs them late)
            code, body = _health(port)
            logs, xray = body["collectors"].get("logs"), body["collectors"].get("xray")
            # unhealthy once logs has gone an interval without success
            if code == 503 and logs and logs.get("last_run") and xray and xray.get("last_success"):
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.02)
        assert code == 503
        assert logs["last_run"]["status"] == "failed"
    finally:
        agent.shutdown()


def test_a_report_job_on_an_empty_store_records_why_nothing_was_written(tmp_path: Path) -> None:
    config = scheduler_config(tmp_path)
    config = replace(
        config, report=ReportSettings(enabled=True, path=tmp_path / "r.html", interval=INTERVAL)
    )
    agent = Agent(config, open_store(tmp_path / "s"), SlowCycles(0.01), stop=threading.Event())

    agent.write_report()

    report = _status(tmp_path)["report"]
    assert isinstance(report, dict)
    assert report["last_success"] is None
    assert "no data in store" in report["last_error"]
    assert not (tmp_path / "r.html").exists()


class RecordingAlerts:
    """Stands in for the alert hook: records what the agent tells it."""

    def __init__(self) -> None:
        self.cycles: list[dict[str, datetime | None]] = []

    def after_cycles(
        self, last_success: dict[str, datetime | None], *, since: datetime, now: datetime
    ) -> None:
        assert since <= now
        self.cycles.append(last_success)


def test_every_cycle_tells_the_alerts_each_collectors_last_success(tmp_path: Path) -> None:
    alerts = RecordingAlerts()
    agent = Agent(
        scheduler_config(tmp_path),
        open_store(tmp_path / "s"),
        SlowCycles(0.01, failing=frozenset({"logs"})),
        stop=threading.Event(),
        alerts=alerts,  # type: ignore[arg-type]
    )
    _run_until(agent, lambda: bool(alerts.cycles) and alerts.cycles[-1]["xray"] is not None)
    last = alerts.cycles[-1]
    assert last["logs"] is None
    assert last["xray"] is not None


def test_staleness_is_checked_even_while_every_cycle_hangs(tmp_path: Path) -> None:
    alerts = RecordingAlerts()
    hang = threading.Event()
    cycles = SlowCycles(0.0, hold=hang)
    agent = Agent(
        scheduler_config(tmp_path),
        open_store(tmp_path / "s"),
        cycles,
        stop=threading.Event(),
        alerts=alerts,  # type: ignore[arg-type]
    )
    agent.start()
    try:
        deadline = time.monotonic() + 60
        while not alerts.cycles:
            assert time.monotonic() < deadline, "staleness was never checked"
            time.sleep(0.02)
        assert sum(cycles.finished.values()) == 0  # every cycle still hangs
        assert all(success is None for success in alerts.cycles[-1].values())
    finally:
        hang.set()
        agent.stop_event.set()
        agent.shutdown()


def test_a_cycle_with_nothing_due_is_no_success_for_health(tmp_path: Path) -> None:
    status = AgentStatus(
        started_at=datetime(2026, 1, 1, tzinfo=UTC), store_url="s", account="a", region="r"
    )
    status.expect("cloudwatch", interval_s=60)
    start = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    status.record(CycleOutcome(collector="cloudwatch", status="ok", started_at=start))

    later = start + timedelta(minutes=5)
    assert status.collectors["cloudwatch"].last_success is None
    (problem,) = status.problems(now=later)
    assert problem.startswith("cloudwatch: no success yet")
    assert status.as_json(now=later)["healthy"] is False


def test_a_runner_without_a_target_of_its_own_collects_the_configs_first(tmp_path: Path) -> None:
    first = TargetSettings(label="prod", region="eu-central-1", collectors=("lambda", "xray"))
    config = replace(
        scheduler_config(tmp_path),
        targets=(first, TargetSettings(label="staging", region="eu-west-1")),
    )
    runner = SlowCycles(0.01)  # a stand-in: no .target, as a CollectionRunner has
    agent = Agent(config, open_store(tmp_path / "s"), runner, stop=threading.Event())

    # what a CollectionRunner made without a target collects
    assert config.target_of(runner) == config.default_target() == config.collect_targets()[0]
    assert (agent.status.account, agent.status.region) == ("prod", "eu-central-1")
    _run_until(agent, lambda: bool(runner.finished["lambda"] and runner.finished["xray"]))
    assert set(runner.started) == {"lambda", "xray"}
    collectors = _status(tmp_path)["collectors"]
    assert isinstance(collectors, dict)
    assert sorted(collectors) == ["lambda", "xray"]
    assert {each["account"] for each in collectors.values()} == {"prod"}
