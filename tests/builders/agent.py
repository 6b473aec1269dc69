"""Builders of the agent tests: a seeded account on the local endpoint, CLI runners.

Every client and every ``tracelens`` process talks to the local server through an explicit
endpoint URL with fake credentials and hidden AWS config files: nothing here can reach AWS.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner, Result

from collectors.base import CallStats
from tests.builders.endpoint import FAKE_ENV, Aws
from tests.builders.traces import SeededTrace, lambda_trace, segments_of
from tracelens.agent.config import (
    AgentConfig,
    AlertSettings,
    AwsSettings,
    CollectorSettings,
    DaemonSettings,
    ReportSettings,
)
from tracelens.agent.outcome import CycleOutcome, CycleStatus
from tracelens.agent.seed import create_functions, put_log_lines, put_metric, put_segments
from tracelens.cli import main

FUNCTIONS = ("orders", "payments", "stock")
TRACELENS = [sys.executable, "-c", "from tracelens.cli import main; main()"]

# A config that keeps the tests fast: few retries, short timeouts, lags the seeded data is
# older than.
FAST_CONFIG = """
[aws]
account = "test"
region = "us-east-1"

[retry]
max_attempts = 2
call_attempts = 2
connect_timeout = "2s"
read_timeout = "5s"

[collectors.xray]
lag = "1m"

[collectors.cloudwatch]
lag = "1m"

[collectors.logs]
lag = "1m"

[collectors.spans]
# moto lacks GetTraceSegmentDestination, and how it refuses an unknown call changed between its
# releases (404, then 500): the destination is declared, as the configuration allows for such
# endpoints. The undeclared paths are contract tests (tests/collectors/test_spans_moto.py).
destination = "XRay"
"""


STAGING_ROLE = "arn:aws:iam::222222222222:role/tracelens-reader"
EXTERNAL_ID = "tracelens-staging"
# FAST_CONFIG without its [aws] account, which [[targets]] replace.
TARGETS_BASE = FAST_CONFIG.replace('account = "test"\n', "")


# A second target: another account (through a role on the local STS) in another region.
STAGING = (
    f'[[targets]]\nlabel = "staging"\nregion = "eu-west-1"\nrole_arn = "{STAGING_ROLE}"\n'
    f'external_id = "{EXTERNAL_ID}"\n'
)


@dataclass(frozen=True)
class AssumedAws(Aws):
    """Clients of another account and region, through a role assumed on the local STS."""

    region: str = "eu-west-1"
    role_arn: str = STAGING_ROLE

    def client(self, service: str) -> Any:
        sts = boto3.client("sts", endpoint_url=self.url, region_name=self.region)
        credentials = sts.assume_role(
            RoleArn=self.role_arn, RoleSessionName="seeding", ExternalId=EXTERNAL_ID
        )["Credentials"]
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


@dataclass(frozen=True)
class World:
    """What was seeded: traces (with their function and whether cold) and counts."""

    traces: tuple[tuple[SeededTrace, str, bool], ...]
    datapoints: int
    log_lines: int

    @property
    def trace_ids(self) -> set[str]:
        return {trace.trace_id for trace, _, _ in self.traces}

    def invocations(self) -> Counter[str]:
        return Counter(function for _, function, _ in self.traces)

    def cold_starts(self) -> Counter[str]:
        return Counter(function for _, function, cold in self.traces if cold)


def seed_traces(
    aws: Aws, starts_s: list[float], *, seed: int = 7
) -> tuple[tuple[SeededTrace, str, bool], ...]:
    """One Lambda trace per start time, functions in turn, every fourth one cold."""
    rng = random.Random(seed)
    seeded = []
    for index, start_s in enumerate(starts_s):
        function = FUNCTIONS[index % len(FUNCTIONS)]
        cold = index % 4 == 0
        seeded.append((lambda_trace(rng, start_s, function=function, cold=cold), function, cold))
    put_segments(aws.client("xray"), segments_of(*(trace for trace, _, _ in seeded)))
    return tuple(seeded)


def seed_world(aws: Aws, *, now: datetime, hours: float = 3.0, traces: int = 36) -> World:
    """Functions, ``traces`` traces spread over ``hours`` before ``now - 5m``, metrics, logs."""
    create_functions(aws.client("iam"), aws.client("lambda"), list(FUNCTIONS))
    newest_s = now.timestamp() - 300
    spacing_s = hours * 3600 / traces
    seeded = seed_traces(aws, [newest_s - spacing_s * i for i in range(traces)])
    cloudwatch = aws.client("cloudwatch")
    minute = now.replace(second=0, microsecond=0)
    datapoints = 0
    for offset, function in enumerate(FUNCTIONS):
        points = [(minute - timedelta(minutes=m), float(m + offset)) for m in range(5, 65, 5)]
        put_metric(cloudwatch, "Invocations", points, function=function)
        datapoints += len(points)
    logs = aws.client("logs")
    first_ms = int(newest_s - 3000) * 1000 + 125
    for function in FUNCTIONS:
        lines = [
            (first_ms + 97_250 * i, _report_line(f"{function}-{i:04d}", duration_ms=i + 0.5))
            for i in range(20)
        ]
        put_log_lines(logs, function, lines)
    return World(traces=seeded, datapoints=datapoints, log_lines=20 * len(FUNCTIONS))


def _report_line(request_id: str, *, duration_ms: float) -> str:
    return (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 71 MB\t\n"
    )


def invoke(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """``tracelens ARGS`` in this process (stderr kept apart from stdout)."""
    return CliRunner().invoke(main, list(args), env=dict(env or {}), catch_exceptions=False)


def subprocess_env(aws_home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``tracelens`` child process: fake credentials only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRACELENS_"))}
    env.update(FAKE_ENV)
    env["AWS_CONFIG_FILE"] = str(aws_home / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(aws_home / "credentials")
    env.update(extra)
    return env


def run_tracelens(
    *args: str, env: Mapping[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    """``tracelens ARGS`` as a child process."""
    return subprocess.run(
        [*TRACELENS, *args],
        check=False,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def analyze_store(store: Path) -> dict[str, Any]:
    """``tracelens analyze --store STORE --json``, parsed."""
    result = invoke("analyze", "--store", str(store), "--json", "--quiet")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def functions_by_name(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in document["functions"]}


def utc_now() -> datetime:
    return datetime.now(UTC)


class HeldClock:
    """The current time (UTC), standing still at the moment it was made until :meth:`release`,
    then running on from that moment.

    Held, every run an agent starts is stamped with the same instant that its health is
    judged at: what a test reads does not depend on how long cycles take on a loaded machine.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: datetime | None = utc_now()
        self._behind = timedelta(0)

    def __call__(self) -> datetime:
        with self._lock:
            return self._held if self._held is not None else utc_now() - self._behind

    def release(self) -> None:
        """Let the time run on from the held instant (it never jumps forward)."""
        with self._lock:
            if self._held is not None:
                self._behind = utc_now() - self._held
                self._held = None


INTERVAL = timedelta(milliseconds=100)


class SlowCycles:
    """Cycles that take ``duration_s``; tracks how many of each run at once."""

    def __init__(
        self,
        duration_s: float,
        failing: frozenset[str] = frozenset(),
        *,
        hold: threading.Event | None = None,
    ) -> None:
        self.duration_s = duration_s
        self.failing = failing
        self.hold = hold  # when given, each run hangs until it is set (duration_s unused)
        self.running: Counter[str] = Counter()
        self.most_at_once: Counter[str] = Counter()
        self.started: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self._lock = threading.Lock()

    def run(self, name: str) -> CycleOutcome:
        with self._lock:
            self.started[name] += 1
            self.running[name] += 1
            self.most_at_once[name] = max(self.most_at_once[name], self.running[name])
        if self.hold is not None:
            self.hold.wait()
        else:
            time.sleep(self.duration_s)
        with self._lock:
            self.running[name] -= 1
            self.finished[name] += 1
        status: CycleStatus = "failed" if name in self.failing else "ok"
        error = "AccessDeniedException: not authorized" if name in self.failing else None
        return CycleOutcome(
            collector=name,
            status=status,
            started_at=datetime.now(UTC),
            windows=1,
            stats=CallStats(api_calls=1),
            error=error,
        )


def scheduler_config(tmp_path: Path, *, port: int = 0) -> AgentConfig:
    every = [
        CollectorSettings(name, interval=INTERVAL, timeout=INTERVAL, lag=timedelta(0))
        for name in ("lambda", "xray", "cloudwatch", "logs")
    ]
    return AgentConfig(
        aws=AwsSettings(account="acct", region="eu-west-1"),
        collectors=tuple(every),
        report=ReportSettings(enabled=False),
        daemon=DaemonSettings(status_file=tmp_path / "status.json", health_port=port),
        alerts=AlertSettings(stale_intervals=1),
    )
