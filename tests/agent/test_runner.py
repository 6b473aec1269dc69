"""CollectionRunner with stand-in collectors and a real local store: windows and checkpoints."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.base import CallStats, CollectorResult, Failure, RawPage, Window
from collectors.cloudwatch import CloudWatchSource, MetricsResult
from collectors.contract import Collector, CollectRequest, Needs
from collectors.lambda_config import LIST_FUNCTIONS, LambdaConfigResult, LambdaConfigSource
from collectors.logs_insights import LogsResult, LogsSource
from collectors.session import AwsTarget
from collectors.xray import SUMMARIES, XRayResult, XRaySource
from tests.builders.results import batch_page, traces_at
from tracelens.agent.config import (
    DEFAULT_COLLECTORS,
    AgentConfig,
    AwsSettings,
    CollectorSettings,
    CollectSettings,
    StoreSettings,
    Target,
)
from tracelens.agent.runner import CollectionRunner
from tracelens.rollup import read
from tracelens.store import PersistReceipt, Store, StoreError, open_store

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# NOTE: the four collectors the fakes stand in for (spans has its own tests).
CONFIG = AgentConfig(
    aws=AwsSettings(account="acct", region="eu-west-1"),
    collect=CollectSettings(since=timedelta(hours=3)),
    collectors=tuple(s for s in DEFAULT_COLLECTORS.values() if s.name != "spans"),
)
TIMEOUT = Failure("xray:GetTraceSummaries", "window", "ThrottlingException", "slow down", True)


@dataclass
class FakeLambda:
    names: tuple[str, ...] = ("orders", "payments")
    calls: int = 0
    denied: bool = False

    def collect(self, *, functions: Collection[str] | None = None) -> LambdaConfigResult:
        self.calls += 1
        page = RawPage(LIST_FUNCTIONS, "lambda:ListFunctions", {}, {"Functions": []})
        return LambdaConfigResult(
            source="lambda",
            window=None,
            pages=() if self.denied else (page,),
            failures=(),
            warnings=(),
            stats=CallStats(api_calls=1),
            complete=True,
            function_names=self.names,
            listed=not self.denied,
            function_list=None if self.denied else self.names,
        )


@dataclass
class FakeXRay:
    """Complete windows, except the calls numbered in ``failing`` (1 is the first)."""

    failing: set[int] = field(default_factory=set)
    scans: list[Window] = field(default_factory=list)
    known: list[Mapping[str, int]] = field(default_factory=list)
    raises: Exception | None = None
    # Fetch one trace per window, starting a minute into it (BatchGetTraces pages).
    traces: bool = False

    def collect(
        self,
        window: Window,
        *,
        known: Mapping[str, int] | None = None,
        partial: Mapping[str, int] | None = None,
    ) -> XRayResult:
        if self.raises is not None:
            raise self.raises
        self.scans.append(window)
        self.known.append(dict(known or {}))
        trace_id = f"1-{int(window.end.timestamp()):08x}-{'0' * 24}"
        failed = len(self.scans) in self.failing
        summaries = RawPage(SUMMARIES, "xray:GetTraceSummaries", {}, {"TraceSummaries": []})
        pages = (summaries,)
        if self.traces:
            start = window.start + timedelta(minutes=1)
            pages += (batch_page(traces_at([start], first=len(self.scans))),)
        return XRayResult(
            source="xray",
            window=window,
            pages=() if failed else pages,
            failures=(TIMEOUT,) if failed else (),
            warnings=(),
            stats=CallStats(api_calls=2, throttles=int(failed)),
            complete=not failed,
            trace_ids=frozenset({trace_id}),
            revisions={trace_id: 1},
        )


@dataclass
class FakeMetrics:
    now: datetime
    windows: list[tuple[Window, tuple[str, ...]]] = field(default_factory=list)

    def collect(
        self,
        window: Window,
        *,
        functions: Sequence[str],
        lag: timedelta = timedelta(minutes=10),
        account_level: bool = True,
    ) -> MetricsResult:
        self.windows.append((window, tuple(functions)))
        end = min(window.end, self.now - lag)
        done = Window(window.start, end) if end > window.start else None
        return MetricsResult(
            source="cloudwatch",
            window=done,
            pages=(),
            failures=(),
            warnings=(),
            stats=CallStats(api_calls=1),
            complete=True,
        )


@dataclass
class FakeLogs:
    windows: list[Window] = field(default_factory=list)

    def collect(self, window: Window, *, functions: Sequence[str]) -> LogsResult:
        self.windows.append(window)
        return LogsResult(
            source="logs",
            window=window,
            pages=(),
            failures=(),
            warnings=(),
            stats=CallStats(api_calls=1),
            complete=True,
        )


@dataclass
class Fakes:
    lambda_config: FakeLambda
    xray: FakeXRay
    metrics: FakeMetrics
    logs: FakeLogs

    def collectors(self) -> dict[str, Collector]:
        """The fakes behind the collectors' own contract adapters."""
        return {
            "lambda": LambdaConfigSource(self.lambda_config, ()),  # type: ignore[arg-type]
            "xray": XRaySource(self.xray),  # type: ignore[arg-type]
            "cloudwatch": CloudWatchSource(self.metrics),  # type: ignore[arg-type]
            "logs": LogsSource(self.logs),  # type: ignore[arg-type]
        }


@pytest.fixture
def fakes() -> Fakes:
    return Fakes(FakeLambda(), FakeXRay(), FakeMetrics(T0), FakeLogs())


def _runner(
    store: Store, fakes: Fakes, *, at: datetime = T0, config: AgentConfig = CONFIG, **kw: object
) -> CollectionRunner:
    return CollectionRunner(
        config,
        store,
        clock=lambda: at,
        collectors=fakes.collectors(),
        **kw,  # type: ignore[arg-type]
    )


def _checkpoint_end(store: Store, name: str) -> datetime | None:
    checkpoint = store.checkpoint(name, "acct", "eu-west-1")
    return checkpoint.window_end if checkpoint else None


def test_a_first_run_reads_the_look_back_in_hour_steps_ending_lag_before_now(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)

    outcome = _runner(store, fakes).run("logs")

    lag = CONFIG.collector("logs").lag
    assert fakes.logs.windows == [
        Window(T0 - 3 * HOUR, T0 - 2 * HOUR),
        Window(T0 - 2 * HOUR, T0 - HOUR),
        Window(T0 - HOUR, T0 - lag),
    ]
    assert outcome.status == "ok" and outcome.windows == 3
    assert _checkpoint_end(store, "logs") == T0 - lag


def test_the_next_run_resumes_at_the_checkpoint(tmp_path: Path, fakes: Fakes) -> None:
    store = open_store(tmp_path)
    _runner(store, fakes).run("logs")
    fakes.logs.windows.clear()

    _runner(store, fakes, at=T0 + timedelta(minutes=7)).run("logs")

    lag = CONFIG.collector("logs").lag
    assert fakes.logs.windows == [Window(T0 - lag, T0 + timedelta(minutes=7) - lag)]


def test_an_incomplete_window_is_stored_but_the_checkpoint_stops_before_it(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)
    fakes.xray.failing = {2}
    lag = CONFIG.collector("xray").lag
    step = HOUR - lag

    outcome = _runner(store, fakes).run("xray")

    assert outcome.status == "partial"
    assert outcome.windows == 2  # the failed window was stored, and the cycle stopped there
    assert outcome.error is not None and "ThrottlingException" in outcome.error
    assert _checkpoint_end(store, "xray") == T0 - 3 * HOUR + step
    runs, _ = store.runs()
    # the second window's every call failed: its run record says so
    assert sorted(run.status for run in runs) == ["failed", "ok"]

    fakes.xray.failing.clear()
    fakes.xray.scans.clear()
    retry = _runner(store, fakes).run("xray")

    assert retry.status == "ok"
    assert fakes.xray.scans[0] == Window(T0 - 3 * HOUR + step - lag, T0 - 3 * HOUR + 2 * step)
    assert _checkpoint_end(store, "xray") == T0 - lag


def test_an_xray_scan_reaching_back_the_lag_is_never_longer_than_a_step(
    tmp_path: Path, fakes: Fakes
) -> None:
    _runner(open_store(tmp_path), fakes).run("xray")

    lag = CONFIG.collector("xray").lag
    assert fakes.xray.scans[0] == Window(T0 - 3 * HOUR - lag, T0 - 2 * HOUR - lag)
    assert all(scan.span <= HOUR for scan in fakes.xray.scans)
    assert fakes.xray.scans[-1].end == T0 - lag


def test_traces_already_stored_are_passed_as_known_to_the_next_scan(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)
    _runner(store, fakes).run("xray")
    stored = {f"1-{int(scan.end.timestamp()):08x}-{'0' * 24}" for scan in fakes.xray.scans}
    assert len(stored) == 4  # one trace per window: 3 h in windows of 58 min

    _runner(store, fakes, at=T0 + timedelta(minutes=5)).run("xray")

    assert fakes.xray.known[-1] == dict.fromkeys(stored, 1)


def test_a_collector_that_raises_records_a_failed_run_and_the_others_still_run(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)
    fakes.xray.raises = RuntimeError("endpoint exploded")

    outcomes = _runner(store, fakes).run_all()

    assert [(o.collector, o.status) for o in outcomes] == [
        ("lambda", "ok"),
        ("xray", "failed"),
        ("cloudwatch", "ok"),
        ("logs", "ok"),
    ]
    assert outcomes[1].error == "RuntimeError: endpoint exploded"
    assert _checkpoint_end(store, "xray") is None
    runs, _ = store.runs()
    failed = [run for run in runs if run.status == "failed"]
    assert [(run.collector, run.error) for run in failed] == [
        ("xray", "RuntimeError: endpoint exploded")
    ]


class _FailingStore(Store):
    """Every persist fails as an unwritable bucket would."""

    def persist(self, *args: object, **kwargs: object) -> PersistReceipt:
        raise StoreError("cannot write s3://bucket/raw/...: AccessDenied")


def test_a_failed_persist_never_moves_the_checkpoint(tmp_path: Path, fakes: Fakes) -> None:
    store = _FailingStore(open_store(tmp_path).backend)

    outcome = _runner(store, fakes).run("logs")

    assert outcome.failed
    assert outcome.error is not None and "AccessDenied" in outcome.error
    assert _checkpoint_end(store, "logs") is None


def test_metrics_and_logs_read_the_functions_the_lambda_cycle_listed(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)
    runner = _runner(store, fakes)

    runner.run("cloudwatch")
    runner.run("logs")

    assert fakes.lambda_config.calls == 1  # listed once, on demand, then remembered
    assert {functions for _, functions in fakes.metrics.windows} == {("orders", "payments")}
    named = replace(CONFIG, collect=replace(CONFIG.collect, functions=("checkout",)))
    fakes.metrics.windows.clear()
    _runner(open_store(tmp_path / "other"), fakes, config=named).run("cloudwatch")
    assert {functions for _, functions in fakes.metrics.windows} == {("checkout",)}
    assert fakes.lambda_config.calls == 1


def test_metrics_windows_run_to_now_and_the_collector_applies_its_lag(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)

    _runner(store, fakes).run("cloudwatch")

    lag = CONFIG.collector("cloudwatch").lag
    assert [window.end for window, _ in fakes.metrics.windows][-1] == T0
    assert _checkpoint_end(store, "cloudwatch") == T0 - lag


def test_a_stop_request_ends_the_cycle_before_the_next_window(tmp_path: Path, fakes: Fakes) -> None:
    store = open_store(tmp_path)
    stop = threading.Event()
    stop.set()

    outcome = _runner(store, fakes, stop=stop).run("logs")

    assert fakes.logs.windows == []
    assert outcome.status == "ok" and outcome.windows == 0
    assert any("stopped before" in warning for warning in outcome.warnings)
    assert _checkpoint_end(store, "logs") is None


def test_a_damaged_checkpoint_restarts_from_the_look_back(tmp_path: Path, fakes: Fakes) -> None:
    store = open_store(tmp_path)
    _runner(store, fakes).run("logs")
    damaged = tmp_path / "checkpoints" / "logs" / "acct" / "eu-west-1.json"
    damaged.write_bytes(b'{"format": 1, "collec')
    fakes.logs.windows.clear()

    outcome = _runner(store, fakes).run("logs")

    assert fakes.logs.windows[0].start == T0 - 3 * HOUR
    assert outcome.status == "ok"
    assert any("eu-west-1.json" in warning for warning in outcome.warnings)
    assert _checkpoint_end(store, "logs") == T0 - CONFIG.collector("logs").lag


def test_without_a_function_list_metrics_and_logs_fail_rather_than_skip_windows(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)
    fakes.lambda_config.denied = True  # ListFunctions not permitted, no functions configured

    outcome = _runner(store, fakes).run("logs")

    assert outcome.failed
    assert outcome.error is not None and "set [collect] functions" in outcome.error
    assert fakes.logs.windows == []
    assert _checkpoint_end(store, "logs") is None


@dataclass
class CountingCollector:
    """A new collector, known to the runner only through the collector contract: it needs
    windows, the function list and its own state (a count of the windows it has read)."""

    fail_at: int | None = None
    requests: list[CollectRequest] = field(default_factory=list)
    name: str = "extra"
    needs: Needs = field(default_factory=lambda: Needs(functions=True, state=True))

    def collect(self, request: CollectRequest) -> CollectorResult:
        self.requests.append(request)
        read = int(request.state.get("read", 0)) + 1
        failed = read == self.fail_at
        page = RawPage("extra.count", "extra:Count", {}, {"read": read})
        return CollectorResult(
            source=self.name,
            window=request.window,
            pages=(page,),
            failures=(TIMEOUT,) if failed else (),
            warnings=(),
            stats=CallStats(api_calls=1),
            complete=not failed,
            state={"read": read},
        )


def test_a_new_collector_runs_through_the_contract_alone(tmp_path: Path, fakes: Fakes) -> None:
    store = open_store(tmp_path)
    extra = CountingCollector(fail_at=3)
    config = replace(
        CONFIG, collectors=(*CONFIG.collectors, CollectorSettings("extra", lag=timedelta(0)))
    )
    runner = CollectionRunner(
        config,
        store,
        clock=lambda: T0,
        collectors={**fakes.collectors(), "extra": extra},
    )

    outcome = runner.run("extra")

    assert outcome.status == "partial" and outcome.windows == 3
    assert [r.state for r in extra.requests] == [{}, {"read": 1}, {"read": 2}]
    assert all(r.functions == ("orders", "payments") for r in extra.requests)
    assert fakes.lambda_config.calls == 1  # the function list came from the lister
    third = extra.requests[2].window
    assert third is not None
    assert _checkpoint_end(store, "extra") == third.start  # not past the failed window
    checkpoint = store.checkpoint("extra", "acct", "eu-west-1")
    assert checkpoint is not None and checkpoint.state == {"read": 3}


def test_a_cycle_that_stored_spans_brings_the_rollups_of_their_days_up_to_date(
    tmp_path: Path, fakes: Fakes
) -> None:
    store = open_store(tmp_path)
    fakes.xray.traces = True
    assert _runner(store, fakes).run("xray").status == "ok"
    merged = read(store.backend, since=None, until=None)
    assert merged.days == [T0.date()] and merged.missing_days == merged.stale_days == []
    traces = merged.merged.filter(section="input", measure="traces")["count"]
    assert int(traces.sum()) == len(fakes.xray.scans) > 1  # one trace per window

    _runner(store, fakes, at=T0 + HOUR).run("xray")
    merged = read(store.backend, since=None, until=None)
    assert merged.missing_days == merged.stale_days == []
    traces = merged.merged.filter(section="input", measure="traces")["count"]
    assert int(traces.sum()) == len(fakes.xray.scans)


def test_a_cycle_without_spans_writes_no_rollup(tmp_path: Path, fakes: Fakes) -> None:
    store = open_store(tmp_path)
    _runner(store, fakes).run("xray")
    assert store.backend.list_keys("rollups") == []


def test_a_day_is_rolled_up_at_most_once_per_rollup_interval(tmp_path: Path, fakes: Fakes) -> None:
    store = open_store(tmp_path)
    fakes.xray.traces = True
    now = [T0]
    runner = CollectionRunner(
        replace(CONFIG, store=StoreSettings(rollup_interval=timedelta(minutes=10))),
        store,
        clock=lambda: now[0],
        collectors=fakes.collectors(),
    )
    runner.run("xray")
    assert read(store.backend, since=None, until=None).stale_days == []
    now[0] = T0 + timedelta(minutes=5)
    runner.run("xray")  # wrote spans of the day: its rollup waits for the interval
    assert read(store.backend, since=None, until=None).stale_days == [T0.date()]
    now[0] = T0 + timedelta(minutes=11)
    runner.run("lambda")  # a cycle without spans rolls up the day still pending
    assert read(store.backend, since=None, until=None).stale_days == []


def test_a_runner_collects_as_its_one_target_says(tmp_path: Path, fakes: Fakes) -> None:
    staging = Target(AwsTarget(account="staging", region="eu-west-2"), ("lambda", "xray"))
    store = open_store(tmp_path / "s")
    runner = _runner(store, fakes, target=staging)

    outcomes = runner.run_all()

    assert runner.target is staging
    assert (runner.account, runner.region) == ("staging", "eu-west-2")
    assert [(o.collector, o.account, o.region) for o in outcomes] == [
        ("lambda", "staging", "eu-west-2"),
        ("xray", "staging", "eu-west-2"),
    ]
    assert store.checkpoint("xray", "staging", "eu-west-2") is not None
    assert store.checkpoint("xray", "acct", "eu-west-1") is None  # not the config's [aws]
