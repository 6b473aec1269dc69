"""``tracelens agent`` as a process against moto: it collects, reports, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
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

pytestmark = pytest.mark.integration

COLLECTORS = ("lambda", "xray", "cloudwatch", "logs")


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


def _ready(status: dict[str, Any]) -> bool:
    collectors = status.get("collectors", {})
    report = status.get("report") or {}
    return (
        all((collectors.get(name) or {}).get("last_success") for name in COLLECTORS)
        and report.get("last_success") is not None
    )


def test_the_agent_collects_reports_and_exits_cleanly_on_sigterm(
    aws: Aws, tmp_path: Path, aws_home: Path
) -> None:
    world = seed_world(aws, now=utc_now())
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
        deadline_s = time.monotonic() + 45
        while not _ready(_status(tmp_path)):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline_s, _status(tmp_path)
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
            assert answer.status == 200
            assert json.loads(answer.read())["state"] == "running"

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
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
