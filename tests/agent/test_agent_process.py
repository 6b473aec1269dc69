"""``tracelens agent`` as a process against moto: it collects, reports, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.builders.agent import (
    FAST_CONFIG,
    TRACELENS,
    analyze_store,
    seed_world,
    subprocess_env,
    utc_now,
)
from tests.builders.endpoint import Aws
from tracelens.store import open_store

pytestmark = pytest.mark.integration

COLLECTORS = ("lambda", "xray", "cloudwatch", "logs")
# Ends a hung run only (see _wait).
HUNG_S = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _agent_config(tmp_path: Path, endpoint_url: str, port: int) -> Path:
    intervals = "".join(
        f'\n[collectors.{name}]\ninterval = "1s"\ntimeout = "1s"\n'
        + ('lag = "1m"\n' if name != "lambda" else "")
        for name in COLLECTORS
    )
    base = FAST_CONFIG.split("[collectors.xray]", 1)[0]
    text = (
        base.replace(
            'region = "us-east-1"', f'region = "us-east-1"\nendpoint_url = "{endpoint_url}"'
        )
        + '\n[store]\nurl = "store"\n\n[collect]\nsince = "4h"\n'
        + intervals
        + '\n[report]\npath = "report.html"\ninterval = "2s"\nsince = "5h"\n'
        + f'\n[agent]\nstatus_file = "status.json"\nhealth_port = {port}\n'
        # Cycles of 1 s intervals run late on a loaded machine; staleness is tested on its own
        # (tests/agent/test_health_moto.py), this test is about collecting and stopping.
        + "\n[alerts]\nstale_intervals = 100\n"
    )
    path = tmp_path / "tracelens.toml"
    path.write_text(text)
    return path


def _status(tmp_path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads((tmp_path / "status.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return document


def _stored_through(tmp_path: Path) -> datetime | None:
    """The end of the last X-Ray window the agent stored (None: none yet)."""
    checkpoint = open_store(tmp_path / "store").checkpoint("xray", "test", "us-east-1")
    return checkpoint.window_end if checkpoint is not None else None


def _reported_after(status: dict[str, Any], moment: datetime) -> bool:
    """True when every collector has succeeded and a report begun after ``moment`` is written."""
    collectors = status.get("collectors", {})
    written = (status.get("report") or {}).get("last_success")
    return all((collectors.get(name) or {}).get("last_success") for name in COLLECTORS) and (
        written is not None and datetime.fromisoformat(written) > moment
    )


def _wait(
    what: str, condition: Callable[[], bool], process: subprocess.Popen[str], tmp_path: Path
) -> None:
    """Wait for ``condition`` while the agent runs. The deadline only ends a hung run: a loaded
    machine starts the process, collects and draws the report many times slower than an idle
    one, and the test must not fail for it."""
    deadline_s = time.monotonic() + HUNG_S
    while not condition():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline_s, (what, _status(tmp_path))
        time.sleep(0.2)


def test_the_agent_collects_reports_and_exits_cleanly_on_sigterm(
    aws: Aws, tmp_path: Path, aws_home: Path
) -> None:
    world = seed_world(aws, now=utc_now())
    newest_end = datetime.fromtimestamp(
        max(document["end_time"] for trace, _, _ in world.traces for document in trace.documents),
        tz=UTC,
    )
    port = _free_port()
    config = _agent_config(tmp_path, aws.url, port)
    process = subprocess.Popen(
        [*TRACELENS, "agent", "--config", str(config)],
        env=subprocess_env(aws_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # NOTE: the X-Ray collector reads one window a cycle (1 s timeout): its first success
        # is not every trace stored. Ready is every trace stored, then a report begun after.
        _wait(
            "every seeded trace stored",
            lambda: (_stored_through(tmp_path) or newest_end) > newest_end,
            process,
            tmp_path,
        )
        caught_up = utc_now()
        _wait(
            "a report of every stored trace",
            lambda: _reported_after(_status(tmp_path), caught_up),
            process,
            tmp_path,
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as answer:
            assert answer.status == 200
            assert json.loads(answer.read())["state"] == "running"

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=HUNG_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert "finishing the current write" in stderr
    assert _status(tmp_path)["state"] == "stopped"
    report = (tmp_path / "report.html").read_text()
    assert all(name in report for name in ("orders", "payments", "stock"))
    document = analyze_store(tmp_path / "store")
    assert document["input"]["traces"] == len(world.traces)
