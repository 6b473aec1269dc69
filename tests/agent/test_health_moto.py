"""Honest health: with its AWS endpoint killed, the agent turns unhealthy and says why.

The agent runs in this process against moto through a proxy; stopping the proxy kills the
endpoint (connections refused) while moto stays up for the other tests.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.base import RetrySettings
from tests.builders.agent import HeldClock, seed_world, utc_now
from tests.builders.endpoint import REGION, Aws
from tests.builders.fault_proxy import FaultProxy
from tracelens.agent.config import (
    AgentConfig,
    AlertSettings,
    AwsSettings,
    CollectorSettings,
    CollectSettings,
    DaemonSettings,
    ReportSettings,
)
from tracelens.agent.runner import CollectionRunner
from tracelens.agent.scheduler import Agent
from tracelens.store import open_store

pytestmark = pytest.mark.integration

COLLECTORS = ("lambda", "xray", "cloudwatch", "logs")
INTERVAL = timedelta(milliseconds=700)
# Ends a hung run only (see _wait).
HUNG_S = 300
RETRY = RetrySettings(max_attempts=1, call_attempts=1, connect_timeout_s=1, read_timeout_s=5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait(what: str, condition: Callable[[], bool]) -> None:
    """Wait for ``condition``. The deadline only ends a hung run: on a loaded machine the first
    cycles against the local endpoint take many times longer than on an idle one."""
    deadline_s = time.monotonic() + HUNG_S
    while not condition():
        assert time.monotonic() < deadline_s, what
        time.sleep(0.05)


def _stale_and_failed(body: dict[str, Any]) -> bool:
    """Every collector stale, its last run failed (or, CloudWatch, made no call: nothing was
    due until the next whole minute)."""
    if len(body["problems"]) != len(COLLECTORS):
        return False
    for name in COLLECTORS:
        last = body["collectors"][name]["last_run"] or {}
        if last.get("status") != "failed" and not (name == "cloudwatch" and not last["api_calls"]):
            return False
    return True


def test_a_killed_endpoint_makes_the_agent_unhealthy_and_says_why(aws: Aws, tmp_path: Path) -> None:
    seed_world(aws, now=utc_now(), hours=1.0, traces=6)
    port = _free_port()
    proxy = FaultProxy(aws.url).start()
    config = AgentConfig(
        aws=AwsSettings(account="test", region=REGION, endpoint_url=proxy.url),
        collect=CollectSettings(since=timedelta(hours=2)),
        retry=RETRY,
        collectors=tuple(
            CollectorSettings(name, interval=INTERVAL, timeout=INTERVAL, lag=timedelta(minutes=1))
            for name in COLLECTORS
        ),
        report=ReportSettings(enabled=False),
        daemon=DaemonSettings(status_file=tmp_path / "status.json", health_port=port),
        alerts=AlertSettings(stale_intervals=2),
    )
    store = open_store(tmp_path / "store")
    stop = threading.Event()
    # NOTE: held while the endpoint answers: every success is as recent as the health check,
    # however long a cycle takes on a loaded machine (two intervals of 0.7 s would not cover
    # one); released when the endpoint is killed, so staleness then grows in real time.
    clock = HeldClock()
    runner = CollectionRunner(config, store, stop=stop, clock=clock)
    agent = Agent(config, store, runner, stop=stop, clock=clock)
    agent.start()
    try:
        _wait(
            "a success of every collector while the endpoint answers",
            lambda: all(
                _health(port)[1]["collectors"][name]["last_success"] for name in COLLECTORS
            ),
        )
        status, body = _health(port)
        assert status == 200 and body["healthy"] is True and body["problems"] == []

        proxy.stop()  # the endpoint is gone: every connection is refused
        clock.release()

        _wait("unhealthy once the endpoint is gone", lambda: _health(port)[0] == 503)
        _wait(
            "every collector stale after a failed run",
            lambda: _stale_and_failed(_health(port)[1]),
        )
        status, body = _health(port)
        frozen = {name: body["collectors"][name]["last_success"] for name in COLLECTORS}
        time.sleep(3 * INTERVAL.total_seconds())
        status, body = _health(port)
    finally:
        agent.shutdown()

    assert status == 503 and body["healthy"] is False
    for name in COLLECTORS:
        collector = body["collectors"][name]
        assert collector["last_success"] == frozen[name], name  # stopped moving
        last = collector["last_run"]
        if name == "cloudwatch" and last["api_calls"] == 0:
            continue  # nothing due until the next whole minute: no call, no success
        assert last["status"] == "failed", (name, last)
        assert collector["consecutive_failures"] >= 1
    problems = "\n".join(body["problems"])
    for name in COLLECTORS:
        assert f"{name}: last success" in problems
    assert "last run failed" in problems
    assert "Connect" in problems  # the connection error says why
