"""``tracelens demo``: the whole agent against a local AWS-compatible endpoint, no account needed.

Starts moto's server on a free 127.0.0.1 port, with fake credentials in this process's
environment only; seeds it with a generated sample account whose hour of traffic ends now;
runs the agent's collectors on a fast schedule for a few cycles into a fresh store; writes the
report. Where the local endpoint lacks an API (GetAccountSettings, provisioned concurrency,
most of the Logs Insights language) the collectors degrade as they would against a partition or
an account without that permission. What it prints is what tracelens did and found: the
scheduler's own messages are kept out, and each collector's line is shown for its first
``cycles`` cycles only.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from collectors.base import RetrySettings, floor_time
from collectors.spans import CLOUDWATCH_LOGS
from tracelens.agent.config import (
    AgentConfig,
    AwsSettings,
    CollectorSettings,
    CollectSettings,
    DaemonSettings,
    ReportSettings,
    StoreSettings,
)
from tracelens.agent.outcome import CycleOutcome, one_line
from tracelens.agent.reporting import write_store_report
from tracelens.agent.runner import CollectionRunner
from tracelens.agent.scheduler import Agent
from tracelens.agent.seed import SeedSummary, seed_account
from tracelens.analysis import AnalysisResult
from tracelens.atomic import replace_atomically
from tracelens.samples import SampleConfig, generate
from tracelens.store import open_store

REGION = "us-east-1"  # the sample application's region
STORE_DIR = "demo-store"
REPORT_FILE = "tracelens-report.html"
STATUS_FILE = "tracelens-status.json"
MARKER = ".tracelens-demo"
LOOK_BACK = timedelta(minutes=90)  # the sample's logs start ~18 min before its traffic
CYCLE_INTERVAL = timedelta(seconds=2)
# NOTE: small but above the longest sample trace (6 s): each X-Ray scan reaches back this far,
# so a trace that straddles two windows is still found by the second.
XRAY_LAG = timedelta(seconds=10)
# NOTE: the local endpoint never throttles: a failed call needs no retrying.
DEMO_RETRY = RetrySettings(max_attempts=2, call_attempts=1, connect_timeout_s=5, read_timeout_s=30)
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
_CLEARED_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")

Progress = Callable[[str], None]
NOTES_SHOWN = 3
FINDINGS_SHOWN = 5


class DemoError(RuntimeError):
    """The demo cannot run here (moto missing, output directory unusable)."""


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    report: Path
    store: Path
    status_file: Path
    endpoint_url: str
    seeded: SeedSummary
    outcomes: tuple[CycleOutcome, ...] = field(default=())
    elapsed_s: float = 0.0


@contextmanager
def fake_aws_environment() -> Iterator[None]:
    """Fake credentials and the sample's region in ``os.environ``, restored afterwards.

    The user's AWS config and credentials files are hidden too, so a profile set there can
    never be used (and nothing can reach a real account).
    """
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="tracelens-demo-") as empty:
        os.environ.update(FAKE_ENV)
        for name in list(os.environ):
            if name in _CLEARED_ENV or name.startswith("AWS_ENDPOINT_URL_"):
                del os.environ[name]
        os.environ["AWS_CONFIG_FILE"] = str(Path(empty) / "config")
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(Path(empty) / "credentials")
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


@contextmanager
def local_endpoint() -> Iterator[str]:
    """moto's threaded server on a free 127.0.0.1 port; yields its URL.

    Raises
    ------
    DemoError
        When moto's server mode is not installed.
    """
    try:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - optional, demo only
    except ImportError as exc:
        raise DemoError(
            "tracelens demo needs moto's server mode: .venv/bin/pip install 'moto[server]'"
        ) from exc
    # NOTE: the server logs every request, and a traceback for each API it lacks (which
    # the collectors handle): the demo's own lines say what happened.
    logging.getLogger("werkzeug").disabled = True
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # NOTE: moto keeps its state per process, across servers: start from an empty account.
        reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(reset, timeout=10):  # noqa: S310
            pass
        yield url
    finally:
        server.stop()


def demo_config(
    out: Path, endpoint_url: str, *, interval: timedelta, transaction_search: bool = False
) -> AgentConfig:
    """The agent config of the demo: every collector every ``interval``, short lags.

    With ``transaction_search`` the spans collector reads ``aws/spans`` in place of the X-Ray
    collector. The local endpoint lacks GetTraceSegmentDestination, so the destination is
    declared (``[collectors.spans] destination = "CloudWatchLogs"``), as the configuration
    allows for such endpoints; the report then says where the traces came from.
    """

    def every(name: str, lag: timedelta, **options: Any) -> CollectorSettings:
        return CollectorSettings(name, interval=interval, timeout=interval * 10, lag=lag, **options)

    traces = (
        every("spans", XRAY_LAG, destination=CLOUDWATCH_LOGS)
        if transaction_search
        else every("xray", XRAY_LAG)
    )
    zero = timedelta(0)
    return AgentConfig(
        aws=AwsSettings(account="demo", region=REGION, endpoint_url=endpoint_url),
        store=StoreSettings(url=str(out / STORE_DIR)),
        collect=CollectSettings(since=LOOK_BACK),
        retry=DEMO_RETRY,
        collectors=(
            every("lambda", zero),
            traces,
            # NOTE: the local endpoint (moto) answers every percentile statistic (Duration
            # p50/p95/p99) with HTTP 500: the demo does not ask for what it cannot serve, so
            # that its output is not a note about the endpoint on every run. An account on AWS
            # gets them ([collectors.cloudwatch] percentiles defaults to true).
            every("cloudwatch", zero, percentiles=False),
            every("logs", zero),
        ),
        report=ReportSettings(enabled=False, path=out / REPORT_FILE, since=LOOK_BACK * 2),
        daemon=DaemonSettings(status_file=out / STATUS_FILE),
        source="<demo>",
    )


def fresh_store_dir(out: Path) -> Path:
    """``<out>/demo-store``, emptied if an earlier demo made it.

    Raises
    ------
    DemoError
        When that directory exists but was not made by the demo (it is never deleted then).
    """
    store = out / STORE_DIR
    if store.exists():
        if not (store / MARKER).is_file():
            raise DemoError(
                f"{store} exists and was not made by `tracelens demo`; choose another --out"
            )
        shutil.rmtree(store)
    store.mkdir(parents=True)
    replace_atomically(store / MARKER, b"made by `tracelens demo`; deleted by the next demo run\n")
    return store


def seed(endpoint_url: str, *, now: datetime, transaction_search: bool = False) -> SeedSummary:
    """Put a generated account whose hour of traffic ends at ``now`` (to the minute)."""
    start = floor_time(now, timedelta(minutes=1)) - timedelta(hours=1)
    sample = generate(SampleConfig(start=start))
    session = boto3.Session(region_name=REGION)

    def client_for(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    return seed_account(client_for, sample, transaction_search=transaction_search)


def _describe_seed(summary: SeedSummary, *, transaction_search: bool = False) -> str:
    form = "span records in aws/spans" if transaction_search else "segments"
    return (
        f"{summary.functions} functions, {summary.traces:,} traces ({summary.segments:,} "
        f"{form}), {summary.datapoints:,} metric datapoints, {summary.log_events:,} log lines"
    )


class _CycleCounter:
    """Stops the agent once every collector has run ``cycles`` times."""

    def __init__(self, config: AgentConfig, cycles: int, stop: threading.Event, say: Progress):
        self._names = [settings.name for settings in config.enabled_collectors]
        self._cycles = cycles
        self._stop = stop
        self._say = say
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.outcomes: list[CycleOutcome] = []

    def __call__(self, outcome: CycleOutcome) -> None:
        with self._lock:
            if self.counts[outcome.collector] >= self._cycles:
                # NOTE: a quick collector runs again while a slower one finishes its last cycle.
                return
            self.counts[outcome.collector] += 1
            self.outcomes.append(outcome)
            number = self.counts[outcome.collector]
            self._say(f"  cycle {number}/{self._cycles}  {outcome.describe()}")
            if number == 1:
                for warning in outcome.warnings[:NOTES_SHOWN]:
                    self._say(f"      note: {one_line(warning)}")
            if all(self.counts[name] >= self._cycles for name in self._names):
                self._stop.set()


@contextmanager
def _scheduler_quiet() -> Iterator[None]:
    """APScheduler's messages only when they are errors, while the demo runs.

    With every collector due every few seconds, a slow first cycle (X-Ray's first window holds
    the whole sample) makes the scheduler skip its next runs, each with a warning ("skipped:
    maximum number of running instances reached"): by design (one run at a time per collector),
    and nothing the demo did wrong.
    """
    logger = logging.getLogger("apscheduler")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def describe_findings(result: AnalysisResult | None) -> list[str]:
    """What the report found, in a few lines: the count by severity, then the first findings."""
    if result is None or not result.findings.height:
        return ["found: no findings"]
    severities = Counter(result.findings["severity"].to_list())
    counts = ", ".join(f"{count} {severity}" for severity, count in severities.items())
    lines = [f"found: {result.findings.height} finding(s) ({counts}); the first:"]
    for row in result.findings.head(FINDINGS_SHOWN).iter_rows(named=True):
        lines.append(
            f"  [{row['severity']}] {one_line(str(row['subject']))}: "
            f"{one_line(str(row['message']))}"
        )
    return lines


def run_demo(
    out: Path,
    *,
    cycles: int = 3,
    interval: timedelta = CYCLE_INTERVAL,
    say: Progress = print,
    time_limit_s: float = 120.0,
    transaction_search: bool = False,
) -> DemoResult:
    """Run the whole demo and return where its report is (``transaction_search``: the traces
    as span records in ``aws/spans``, read by the spans collector; else X-Ray segments).

    Raises
    ------
    DemoError
        When moto is missing or ``out`` cannot be used.
    """
    began_s = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    store_dir = fresh_store_dir(out)
    with fake_aws_environment(), local_endpoint() as url:
        say(f"local AWS endpoint (moto) at {url}, fake credentials, region {REGION}")
        seeded = seed(url, now=datetime.now(UTC), transaction_search=transaction_search)
        described = _describe_seed(seeded, transaction_search=transaction_search)
        say(f"seeded a simulated account: {described}")
        for warning in seeded.warnings:
            say(f"  note: {warning} (the local endpoint lacks it)")
        config = demo_config(out, url, interval=interval, transaction_search=transaction_search)
        store = open_store(store_dir)
        stop = threading.Event()
        counter = _CycleCounter(config, cycles, stop, say)
        runner = CollectionRunner(config, store, stop=stop)
        agent = Agent(config, store, runner, stop=stop, on_outcome=counter)
        say(
            f"running the agent's collectors every {interval.total_seconds():g}s, {cycles} cycle(s)"
        )
        with _scheduler_quiet():
            agent.start()
            try:
                stop.wait(timeout=time_limit_s)
            finally:
                agent.shutdown()
        analyses: list[AnalysisResult] = []
        report, _ = write_store_report(
            store,
            config.report.path,
            since=config.report.since,
            now=datetime.now(UTC),
            on_result=analyses.append,
            title="tracelens demo: simulated account on a local endpoint",
        )
    for line in describe_findings(analyses[0] if analyses else None):
        say(line)
    return DemoResult(
        report=report,
        store=store_dir,
        status_file=config.daemon.status_file,
        endpoint_url=url,
        seeded=seeded,
        outcomes=tuple(counter.outcomes),
        elapsed_s=time.monotonic() - began_s,
    )
