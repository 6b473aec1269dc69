"""Bad values and hostile conditions are one clear message with the right exit code: durations
out of range, deep TOML, labels and regions that cannot name store files, a report path that is
a directory, a port in use, an unreadable directory, standard output on a full disk."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.builders.agent import invoke
from tracelens.agent.config import (
    AgentConfig,
    AwsSettings,
    DaemonSettings,
    ReportSettings,
)
from tracelens.agent.config_file import load_config
from tracelens.agent.scheduler import Agent
from tracelens.atomic import replace_atomically
from tracelens.durations import DurationError, parse_duration
from tracelens.store import open_store
from tracelens.timewindow import TimeWindow, TimeWindowError

ROOT = Path(__file__).resolve().parents[2]
NO_ENV: dict[str, str] = {}
HUGE = ("99999999999999d", 1e300, float("inf"), float("nan"), "3000000d")


@pytest.mark.parametrize("value", HUGE)
def test_durations_out_of_range_are_refused_with_a_reason(value: object) -> None:
    with pytest.raises(DurationError, match=r"longer than 3650d|is not a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", ["99999999999999d", "1e300", "inf", "nan", "3000000d"])
def test_durations_out_of_range_on_the_command_line_are_a_usage_error(value: str) -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with pytest.raises(TimeWindowError):
        TimeWindow.parse(value, None, now=now)
    for command in (["analyze", str(ROOT / "sample_traces")], ["collect", "--once"]):
        result = invoke(*command, "--since", value)
        assert result.exit_code == 2, result.stderr
        assert "Invalid value for --since" in result.stderr


@pytest.mark.parametrize("value", ['"99999999999999d"', "1e300", "inf", "nan"])
def test_durations_out_of_range_in_the_config_are_problems(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[aws]\nregion = "eu-west-1"\n[collect]\nsince = {value}\n')
    result = invoke("config", "check", "--config", str(path))
    assert result.exit_code == 1
    assert "[collect] since" in result.stderr
    assert "Traceback" not in result.stderr


def test_toml_nested_too_deeply_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    result = invoke("config", "check", "--config", str(path))
    assert result.exit_code == 1
    assert "nested too deeply" in result.stderr


def test_config_check_validates_every_value_as_the_agent_uses_it(tmp_path: Path) -> None:
    (tmp_path / "report-dir").mkdir()
    path = tmp_path / "c.toml"
    path.write_text(
        '[aws]\naccount = "../../etc"\nregion = "../../x"\n'
        '[collectors.logs]\nlag = "3000000d"\n'
        '[collectors.xray]\ninterval = "1ms"\n'
        '[report]\npath = "report-dir"\n'
    )
    result = invoke("config", "check", "--config", str(path))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    said = {line.split(": ")[2]: line for line in errors}
    assert set(said) == {
        "[aws] account",
        "[collectors.xray] interval",
        "[collectors.logs] lag",
        "[report] path",
        "[aws] region",
    }
    assert "cannot name a store file" in said["[aws] account"]
    assert "must be between 1s and 1d" in said["[collectors.xray] interval"]
    assert "longer than 3650d" in said["[collectors.logs] lag"]
    assert "is a directory" in said["[report] path"]
    assert "is not an AWS region name" in said["[aws] region"]

    lag = tmp_path / "lag.toml"
    lag.write_text('[aws]\nregion = "eu-west-1"\n[collectors.logs]\nlag = "2d"\n')
    result = invoke("config", "check", "--config", str(lag))
    assert "[collectors.logs] lag: must be between 0s and 1d" in result.stderr


def test_a_region_from_the_command_line_is_checked_too() -> None:
    result = invoke("collect", "--once", "--region", "../../x", "--store", "/nonexistent/s")
    assert result.exit_code == 1
    assert "'../../x' is not an AWS region name" in result.stderr


def test_real_region_names_pass() -> None:
    for region in (
        "us-east-1",
        "us-gov-west-1",
        "ap-southeast-4",
        "cn-northwest-1",
        "il-central-1",
    ):
        config = load_config(None, environ={"AWS_REGION": region})
        assert config.aws.region == region


def test_a_health_port_in_use_is_one_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "c.toml"
        path.write_text(
            f'[aws]\nregion = "eu-west-1"\n[store]\nurl = "store"\n[agent]\nhealth_port = {port}\n'
        )
        result = invoke("agent", "--config", str(path))
    assert result.exit_code == 1
    assert f"cannot serve the health endpoint on 127.0.0.1:{port}" in result.stderr
    assert "[agent] health_port" in result.stderr


def test_a_report_path_that_became_a_directory_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "r.html"
    target.mkdir()

    def write(_store: object, path: Path, **_: object) -> tuple[Path, list[object]]:
        replace_atomically(path, b"<html></html>")  # the report's own write
        return path, []

    monkeypatch.setattr("tracelens.agent.scheduler.write_store_report", write)
    config = AgentConfig(
        aws=AwsSettings(account="acct", region="eu-west-1"),
        report=ReportSettings(path=target),
        daemon=DaemonSettings(status_file=tmp_path / "status.json"),
    )
    agent = Agent(config, open_store(tmp_path / "s"), runner=None, stop=threading.Event())  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="tracelens.agent.scheduler"):
        agent.write_report()
        agent.write_report()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is None
    assert f"cannot write {target}: it is a directory" in errors[0].getMessage()
    assert agent.status.as_json(now=datetime.now(UTC))["report"]["last_error"].startswith(
        "report not written"
    )


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_standard_output_on_a_full_disk_is_one_message() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "tracelens", "analyze", str(ROOT / "sample_traces"), "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
            check=False,
        )
    assert done.returncode == 1
    assert "error: cannot write the output: No space left on device" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def _unprivileged() -> list[str]:
    """The prefix that runs a command as an unprivileged user when the tests run as root (who
    reads every directory)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no directory is unreadable")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_an_unreadable_directory_is_one_message(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    (locked / "xray").mkdir(parents=True)
    locked.chmod(0)
    tmp_path.chmod(0o755)
    try:
        for args in ([str(locked)], [str(ROOT / "sample_traces"), "--logs", str(locked)]):
            done = subprocess.run(
                [*_unprivileged(), sys.executable, "-m", "tracelens", "analyze", *args],
                capture_output=True,
                text=True,
                env=_child_env(),
                cwd="/",
                check=False,
            )
            assert done.returncode in (1, 2), done.stderr
            assert "Traceback" not in done.stderr
            assert f"{locked}" in done.stderr and "Permission denied" in done.stderr
    finally:
        locked.chmod(0o755)


def test_an_unreadable_store_is_one_message(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "spans").mkdir(parents=True)
    store.chmod(0)
    tmp_path.chmod(0o755)
    try:
        done = subprocess.run(
            [*_unprivileged(), sys.executable, "-m", "tracelens", "analyze", "--store", str(store)],
            capture_output=True,
            text=True,
            env=_child_env(),
            cwd="/",
            check=False,
        )
    finally:
        store.chmod(0o755)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "Permission denied" in done.stderr


def test_the_report_path_default_is_still_fine() -> None:
    assert replace(ReportSettings()).path == Path("tracelens-report.html")
