"""The agent daemon: APScheduler jobs per collector and for the report, health, clean shutdown.

One interval job per enabled collector (``max_instances=1``: a run still going when the next is
due makes that one skip; ``coalesce``: runs missed while the process was busy or asleep become
one), and one job that rewrites the HTML report. Every job ends by rewriting the status file.
SIGTERM and SIGINT stop new work: a running cycle finishes the window it is storing, the
scheduler waits for it, and the process exits with status 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from tracelens.agent.config import AgentConfig, Target
from tracelens.agent.metrics import AgentMetrics, MetricsServer
from tracelens.agent.outcome import CycleOutcome
from tracelens.agent.reporting import NoDataError, write_store_report
from tracelens.agent.status import AgentStatus, HealthServer, write_status_file
from tracelens.agent.targets_report import TargetResult, qualified_findings
from tracelens.alerts.hook import AlertHook
from tracelens.analysis import AnalysisResult
from tracelens.atomic import NotRegularFileError
from tracelens.durations import format_duration
from tracelens.store import Store

log = logging.getLogger(__name__)

REPORT_JOB = "report"
MAINTENANCE_JOB = "store-maintenance"
STALENESS_JOB = "staleness"


class CycleRunner(Protocol):
    """Runs one collection cycle of a collector and never raises (see ``CollectionRunner``)."""

    def run(self, name: str) -> CycleOutcome:
        """One cycle of collector ``name``."""
        ...


class EndpointError(RuntimeError):
    """An endpoint of the agent (health, Prometheus) cannot listen where it is configured."""


@contextlib.contextmanager
def _endpoint(what: str, address: str, port: int, key: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise EndpointError(
            f"cannot serve the {what} endpoint on {address}:{port}: {exc.strerror or exc}; "
            f"set another [agent] {key}, or stop the process listening there"
        ) from exc


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Scheduled:
    """One runner and the target it collects (``AgentConfig.target_of``)."""

    runner: CycleRunner
    target: Target


def _scheduled(
    config: AgentConfig, runner: CycleRunner | Sequence[CycleRunner]
) -> list[_Scheduled]:
    """Each runner with the target it collects."""
    runners = list(runner) if isinstance(runner, Sequence) else [runner]
    return [_Scheduled(each, config.target_of(each)) for each in runners]


class Agent:
    """The scheduled collection daemon.

    Parameters
    ----------
    config
        Schedules, report and status settings.
    store
        The store the report is read from.
    runner
        Runs the collection cycles (a ``CollectionRunner`` sharing ``stop``), or one runner
        per target (``build_runners``): every collector of every target is a job of its own.
    stop
        Set to stop the agent; shared with the runner so cycles stop between windows.
    clock
        The current time (UTC).
    on_outcome
        Called after every collection cycle (the demo prints progress with it).
    alerts
        Told about every cycle (stale collection) and every report (findings).
    """

    def __init__(
        self,
        config: AgentConfig,
        store: Store,
        runner: CycleRunner | Sequence[CycleRunner],
        *,
        stop: threading.Event,
        clock: Callable[[], datetime] = _utc_now,
        on_outcome: Callable[[CycleOutcome], None] | None = None,
        alerts: AlertHook | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._runners = _scheduled(config, runner)
        self._stop = stop
        self._clock = clock
        self._on_outcome = on_outcome
        self._alerts = alerts
        first = self._runners[0]
        self.metrics = AgentMetrics(first.target.account, first.target.region, clock=clock)
        self._metrics_server: MetricsServer | None = None
        self._status_lock = threading.Lock()
        self.status = AgentStatus(
            started_at=clock(),
            store_url=store.url,
            account=first.target.account,
            region=first.target.region,
            stale_intervals=config.alerts.stale_intervals,
            targets=tuple((each.target.account, each.target.region) for each in self._runners),
        )
        jobs = sum(len(each.target.collectors) for each in self._runners) + 3
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=jobs)}, timezone=UTC
        )
        self._health: HealthServer | None = None
        self._report_error: str | None = None

    @property
    def stop_event(self) -> threading.Event:
        """Set to stop the agent."""
        return self._stop

    def start(self) -> None:
        """Add the jobs and start the scheduler (collectors run at once, the report later)."""
        now = self._clock()
        for index, scheduled in enumerate(self._runners):
            account, region = scheduled.target.account, scheduled.target.region
            for name in scheduled.target.collectors:
                settings = self._config.collector(name)
                interval_s = settings.interval.total_seconds()
                self.status.expect(name, interval_s=interval_s, account=account, region=region)
                self.metrics.expect(name, account=account, region=region)
                key = self.status.key(name, account, region)
                self._scheduler.add_job(
                    self._collector_job,
                    "interval",
                    seconds=interval_s,
                    args=[name, index],
                    id=key,
                    name=f"collect {key}",
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=max(int(interval_s), 1),
                    next_run_time=now,
                )
        report = self._config.report
        if report.enabled:
            interval_s = report.interval.total_seconds()
            self._scheduler.add_job(
                self.write_report,
                "interval",
                seconds=interval_s,
                id=REPORT_JOB,
                name="rewrite report",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(int(interval_s), 1),
                next_run_time=now + report.interval,
            )
        every = self._config.store.maintenance_interval
        if every > timedelta(0):
            self._scheduler.add_job(
                self.maintain_store,
                "interval",
                seconds=every.total_seconds(),
                id=MAINTENANCE_JOB,
                name="compact the store and apply its retention",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(int(every.total_seconds()), 1),
                next_run_time=now + every,
            )
        if self._alerts is not None and self._config.enabled_collectors:
            # NOTE: also on its own schedule: a collector stuck in a cycle never ends one.
            every_s = min(s.interval for s in self._config.enabled_collectors).total_seconds()
            self._scheduler.add_job(
                self._alert_on_cycles,
                "interval",
                seconds=every_s,
                id=STALENESS_JOB,
                name="check for stale collection",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(int(every_s), 1),
                next_run_time=now + timedelta(seconds=every_s),
            )
        port = self._config.daemon.health_port
        if port:
            host = self._config.daemon.health_host
            with _endpoint("health", host, port, "health_port"):
                self._health = HealthServer(port, self._status_document, host=host).start()
            log.info("health endpoint at %s", self._health.url)
        daemon = self._config.daemon
        if daemon.metrics_port:
            address, port = daemon.metrics_address, daemon.metrics_port
            with _endpoint("Prometheus", address, port, "metrics_port"):
                self._metrics_server = MetricsServer(self.metrics, port=port, address=address)
            log.info("Prometheus metrics at %s", self._metrics_server.url)
        self.status.set_state("running")
        self._scheduler.start()
        self._write_status()

    def shutdown(self) -> None:
        """Stop scheduling, let running jobs finish their current write, then stop."""
        self._stop.set()
        self.status.set_state("stopping")
        self._write_status()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._health is not None:
            self._health.stop()
        if self._metrics_server is not None:
            self._metrics_server.stop()
        self.status.set_state("stopped")
        self._write_status()

    def run_until_stopped(self, *, handle_signals: bool = True) -> None:
        """Start, block until SIGTERM/SIGINT (or :attr:`stop_event`), then shut down cleanly."""
        previous: dict[signal.Signals, Any] = {}
        if handle_signals:
            for number in (signal.SIGTERM, signal.SIGINT):
                previous[number] = signal.signal(number, self._on_signal)
        try:
            self.start()
            while not self._stop.wait(timeout=1.0):
                pass
        finally:
            self.shutdown()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current write, then exiting", signal.strsignal(signum))
        self._stop.set()

    def _collector_job(self, name: str, index: int = 0) -> None:
        if self._stop.is_set():
            return
        scheduled = self._runners[index]
        target = scheduled.target
        try:
            outcome = scheduled.runner.run(name)
        except Exception as exc:  # NOTE: runners never raise; this guards a broken one.
            log.exception("%s cycle raised", name)
            outcome = CycleOutcome(
                collector=name, status="failed", started_at=self._clock(), error=repr(exc)
            )
        if not outcome.account:
            outcome = replace(outcome, account=target.account, region=target.region)
        self.status.record(outcome)
        end = self._checkpoint_end(name, target.account, target.region)
        self.metrics.record_cycle(outcome, checkpoint_end=end)
        level = logging.WARNING if outcome.status != "ok" else logging.INFO
        line = outcome.describe()
        if self.status.several:
            line = f"{target.key} {line}"
        log.log(level, "%s", line, extra={"cycle": outcome.as_json()})
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        if self._alerts is not None:
            self._alert_on_cycles()
        self._write_status()

    def _alert_on_cycles(self) -> None:
        assert self._alerts is not None
        try:
            # NOTE: with one target the hook reads the intervals from the config.
            several = {"intervals": self.status.intervals()} if self.status.several else {}
            self._alerts.after_cycles(
                self.status.last_successes(),
                since=self.status.started_at,
                now=self._clock(),
                **several,
            )
        except Exception:  # NOTE: alerting must never stop collection.
            log.exception("stale-collection alerts failed")

    def _checkpoint_end(self, name: str, account: str, region: str) -> datetime | None:
        """Where collector ``name``'s checkpoint of a target stands (None: none, or
        unreadable)."""
        try:
            checkpoint = self._store.checkpoint(name, account, region)
        except Exception:  # NOTE: the lag is only unknown; the cycle's own record says why.
            log.debug("cannot read the %s checkpoint for its lag", name, exc_info=True)
            return None
        return checkpoint.window_end if checkpoint is not None else None

    def _after_target_reports(self, targets: list[TargetResult]) -> None:
        now = self._clock()
        for target in targets:
            severities: list[str] = (
                [] if target.summary is None else target.summary.findings["severity"].to_list()
            )
            self.metrics.record_findings(
                severities, at=now, account=target.account, region=target.region
            )
        findings = qualified_findings(targets)
        if self._alerts is None or findings is None:
            return
        try:
            self._alerts.after_report(
                findings,
                self._config.report.path,
                now=now,
                complete=self.status.last_runs_ok,
            )
        except Exception:  # NOTE: alerting must never stop the report.
            log.exception("finding alerts failed")

    def _after_report(self, result: AnalysisResult) -> None:
        self.metrics.record_findings(result.findings["severity"].to_list(), at=self._clock())
        if self._alerts is None:
            return
        try:
            self._alerts.after_report(
                result.findings,
                self._config.report.path,
                now=self._clock(),
                complete=self.status.last_runs_ok,
            )
        except Exception:  # NOTE: alerting must never stop the report.
            log.exception("finding alerts failed")

    def write_report(self) -> None:
        """Rewrite the HTML report from the store (a job; records failures, never raises)."""
        if self._stop.is_set():
            return
        report = self._config.report
        now = self._clock()
        try:
            written, problems = write_store_report(
                self._store,
                report.path,
                since=report.since,
                now=now,
                title=report.title,
                span_window=report.span_window,
                on_result=self._after_report,
                findings=self._config.findings,
                targets=self.status.targets,
                on_targets=self._after_target_reports,
            )
        except NoDataError as exc:
            log.info("%s", exc)
            self.status.record_report(str(report.path), at=now, error=str(exc))
        except OSError as exc:
            # NOTE: the same cause (a link or device at the path, left as it is; a directory; a
            # full disk) every cycle: said once.
            message = (
                f"report not written: {exc}"
                if isinstance(exc, NotRegularFileError)
                else f"cannot write the report to {report.path}: {exc.strerror or exc}"
            )
            if message != self._report_error:
                log.error("%s (retried every %s)", message, format_duration(report.interval))
            self._report_error = message
            self.status.record_report(str(report.path), at=now, error=message)
        except Exception as exc:  # NOTE: a failed report must not stop collection.
            log.exception("report rewrite failed")
            self.status.record_report(str(report.path), at=now, error=repr(exc))
        else:
            for problem in problems:
                log.warning("skipped unreadable store file %s", problem.describe())
            log.info("report rewritten: %s", written)
            self._report_error = None
            self.status.record_report(str(written), at=now)
        self._write_status()

    def maintain_store(self) -> None:
        """Compact the store's small parts, then delete the days past the retention period
        (a job; logs failures, never raises: collection goes on)."""
        if self._stop.is_set():
            return
        try:
            compacted = self._store.compact()
            if compacted.written:
                log.info(
                    "store compacted: %d part(s) into %d",
                    len(compacted.removed),
                    len(compacted.written),
                )
            for problem in compacted.problems:
                log.warning("compaction skipped unreadable store file %s", problem.describe())
            retention = self._config.store.retention
            if retention > timedelta(0):
                pruned = self._store.prune(older_than=retention)
                if pruned.deleted:
                    log.info(
                        "store retention: deleted %d file(s) dated before %s",
                        pruned.deleted,
                        pruned.before,
                    )
        except Exception:  # NOTE: a failed maintenance must not stop collection.
            log.exception("store maintenance failed")

    def _status_document(self) -> dict[str, object]:
        return self.status.as_json(now=self._clock())

    def _write_status(self) -> None:
        path = self._config.daemon.status_file
        with self._status_lock:
            try:
                write_status_file(path, self._status_document())
            except OSError as exc:
                log.warning("cannot write the status file %s: %s", path, exc)
