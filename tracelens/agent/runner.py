"""One collection cycle per collector: checkpoint, windows, collect, persist, advance, record.

For each window due (from the checkpoint, or the look-back on a first run, in steps of at most
an hour, ending ``lag`` before now) the collector reads the window, the result is persisted,
and only then is the checkpoint advanced with the persist's receipt — and it moves only when
the window was read completely. An incomplete window is stored as it is (partial success is a
value) and the cycle stops there: the next cycle reads it again, skipping X-Ray traces already
stored. :meth:`CollectionRunner.run` never raises: a failing collector records a failed run.

After a cycle that wrote spans, the hourly rollups of the days it touched are computed again
(:func:`tracelens.rollup.refresh`), each day at most once per ``[store] rollup_interval``, so
long-window reports merge current rollups.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from collectors.base import CollectorResult
from collectors.contract import Collector, CollectRequest, Needs
from collectors.session import ClientFactory
from tracelens.agent.config import AgentConfig, CollectorSettings, Target
from tracelens.agent.outcome import CycleOutcome, Tally
from tracelens.agent.sources import build_collectors
from tracelens.agent.windows import pending_windows
from tracelens.rollup import refresh
from tracelens.store import Checkpoint, CorruptFileError, RunRecord, Store, StoreError
from tracelens.store.rollups import days_of_span_parts

if TYPE_CHECKING:
    from tracelens.store import PersistReceipt

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RollupSchedule:
    """The days whose rollups are due, and when each was last computed: one per store in a
    process, so that runners of several targets never compute (and write) a day at once."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: set[date] = field(default_factory=set)
    rolled_at: dict[date, datetime] = field(default_factory=dict)


class CollectionRunner:
    """Runs collection cycles for one account and region (a target) into one store.

    Parameters
    ----------
    config
        Collector settings, look-back, step, functions, retry settings and the AWS target.
    store
        Where results, checkpoints and run records go.
    factory
        Makes the boto3 clients (default: from ``config.aws`` and ``config.retry``).
    clock
        The current time (UTC).
    stop
        When set, cycles stop before their next window and retry waits end early (shutdown).
    collectors
        The collectors by name (default: every registered collector, with clients from
        ``factory``).
    target
        The account and region collected and the collectors run there (default: the config's
        first, ``config.default_target()``; :func:`build_runners` makes one runner per
        target).
    rollups
        When the days' rollups were last computed (shared by the runners of one store:
        :func:`build_runners`).

    Notes
    -----
    Each collector's client is made once, when the runner is made, so that a long-running
    agent does not build clients over and over. A runner may serve several threads as long as
    each collector runs in one of them at a time (the scheduler's ``max_instances=1``).
    """

    def __init__(
        self,
        config: AgentConfig,
        store: Store,
        *,
        factory: ClientFactory | None = None,
        clock: Clock = _utc_now,
        stop: threading.Event | None = None,
        collectors: Mapping[str, Collector] | None = None,
        target: Target | None = None,
        rollups: RollupSchedule | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self.target = target or config.default_target()
        self._clock = clock
        self._stop = stop or threading.Event()
        if collectors is None:
            factory = factory or ClientFactory(self.target.aws, retry=config.retry)
            collectors = build_collectors(
                config,
                factory,
                sleep=self._sleep,
                clock=clock,
                target_collectors=self.target.collectors,
            )
        self._sources = dict(collectors)
        self._functions: tuple[str, ...] | None = config.collect.functions or None
        # NOTE: re-entrant: a metrics or logs cycle that needs the function list runs the
        # Lambda cycle while holding it.
        self._functions_lock = threading.RLock()
        self._rollups = rollups or RollupSchedule()

    @property
    def account(self) -> str:
        """The account label runs are stored under."""
        return self.target.account

    @property
    def region(self) -> str:
        """The region collected from."""
        return self.target.region

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def run_all(self) -> list[CycleOutcome]:
        """One cycle of every collector of the target, Lambda configuration first."""
        return [self.run(name) for name in self.target.collectors if not self._stop.is_set()]

    def run(self, name: str) -> CycleOutcome:
        """One cycle of collector ``name``; records a failed run instead of raising."""
        if name not in self._sources:
            raise KeyError(f"no collector {name!r}; known: {', '.join(self._sources)}")
        source = self._sources[name]
        settings = self._config.collector(name)
        tally = Tally(
            collector=name, started_at=self._clock(), account=self.account, region=self.region
        )
        began_s = time.monotonic()
        deadline_s = began_s + settings.timeout.total_seconds()
        # NOTE: the lease outlives the run's timeout by as much again before another agent
        # may take it over from a holder that died (a local lease ends with its process).
        ttl = 2 * settings.timeout
        try:
            with self._store.lease(name, self.account, self.region, ttl=ttl):
                if source.needs.window:
                    self._windowed_cycle(source, settings, tally, deadline_s)
                else:
                    self._single_cycle(source, settings, tally)
        except Exception as exc:  # NOTE: a job never takes the daemon down; the run says why.
            log.debug("%s collection failed", name, exc_info=True)
            tally.error = _explain(exc)
            self._roll_up(tally)
            duration_s = time.monotonic() - began_s
            self._record_failure(tally, duration_s)
            return tally.outcome(duration_s=duration_s, failed=True)
        self._roll_up(tally)
        return tally.outcome(duration_s=time.monotonic() - began_s)

    def _roll_up(self, tally: Tally) -> None:
        """Refresh the rollups of the days whose spans the cycle (or an earlier one) wrote,
        each at most once per ``[store] rollup_interval`` (a day's rollup is computed again from
        all its span parts: after every cycle, a busy day would be read over and over). A
        failure is a warning of the cycle: the spans are stored, and readers roll a day whose
        rollup is missing or stale up from its spans."""
        # NOTE: one refresh at a time in this process: collectors of spans (X-Ray, aws/spans)
        # run in parallel threads and would compute the same day twice.
        rollups = self._rollups
        with rollups.lock:
            rollups.pending |= tally.span_days
            now = self._clock()
            every = self._config.store.rollup_interval
            due = {
                day
                for day in rollups.pending
                if (last := rollups.rolled_at.get(day)) is None or now - last >= every
            }
            if not due:
                return
            try:
                built = refresh(self._store.backend, due)
            except Exception as exc:
                log.debug("rollup refresh failed", exc_info=True)
                tally.warn(f"rollups not refreshed ({_explain(exc)}); `tracelens store rollup`")
                return
            rollups.pending -= due
            rollups.rolled_at.update(dict.fromkeys(due, now))
        for problem in built.problems:
            tally.warn(f"rollup skipped unreadable span part {problem.describe()}")

    def _single_cycle(self, source: Collector, settings: CollectorSettings, tally: Tally) -> None:
        """One call of a collector without windows (its checkpoint only keeps its state)."""
        lock = self._functions_lock if source.needs.lists_functions else contextlib.nullcontext()
        with lock:
            now = self._clock()
            checkpoint = self._checkpoint(source.name, tally) if source.needs.state else None
            state = self._state(source, checkpoint)
            started = (now, time.monotonic())
            request = CollectRequest(
                window=None,
                now=now,
                lag=settings.lag,
                functions=self.function_names() if source.needs.functions else (),
                state=state,
            )
            result = source.collect(request)
            receipt = self._persist(result, started, tally)
            if source.needs.state:
                self._store.advance(receipt, state=result.state)
            tally.add(result, receipt)
            self._note_functions(result)

    def _note_functions(self, result: CollectorResult) -> None:
        # NOTE: only a listing read to its last page: a list cut off by a failure would let
        # metrics and logs pass over the functions it lacks.
        if result.function_list is not None and not self._config.collect.functions:
            self._functions = result.function_list

    def function_names(self) -> tuple[str, ...]:
        """Functions whose metrics and logs are read (listing them first if not yet known).

        Raises
        ------
        FunctionListError
            When the functions are not configured and listing them failed: reading nothing
            would let the checkpoint pass windows whose data was never read.
        """
        with self._functions_lock:
            if self._functions is None:
                lister = next((s for s in self._sources.values() if s.needs.lists_functions), None)
                why = "no collector lists them"
                if lister is not None:
                    outcome = self.run(lister.name)
                    why = f"{lister.name} {outcome.status}: {outcome.error}"
                if self._functions is None:
                    raise FunctionListError(
                        f"no function list to read metrics and logs for ({why}); set "
                        "[collect] functions in the config or allow lambda:ListFunctions"
                    )
            return self._functions

    def _windowed_cycle(
        self, source: Collector, settings: CollectorSettings, tally: Tally, deadline_s: float
    ) -> None:
        needs = source.needs
        now = self._clock()
        checkpoint = self._resumable(self._checkpoint(source.name, tally), settings, now, tally)
        state = self._state(source, checkpoint)
        functions = self.function_names() if needs.functions else ()
        windows = pending_windows(
            checkpoint_end=checkpoint.window_end if checkpoint else None,
            now=now,
            since=self._config.collect.since,
            lag=settings.lag if needs.lag_in_window else timedelta(0),
            step=_step(needs, settings, self._config.collect.step),
        )
        for window in windows:
            if self._stop.is_set() or time.monotonic() >= deadline_s:
                tally.warn(f"stopped before {window}: timeout or shutdown; resumes next cycle")
                return
            started = (self._clock(), time.monotonic())
            request = CollectRequest(
                window=window, now=now, lag=settings.lag, functions=functions, state=state
            )
            result = source.collect(request)
            if result.window is None:
                return  # NOTE: nothing readable yet (the collector applies its own lag)
            receipt = self._persist(result, started, tally)
            if needs.state and result.state is not None:
                state = result.state
                self._store.advance(receipt, state=state)
            else:
                self._store.advance(receipt)
            tally.add(result, receipt)
            if not result.complete:
                return

    def _state(self, source: Collector, checkpoint: Checkpoint | None) -> Mapping[str, Any]:
        """The collector's state from ``checkpoint`` (empty when it keeps none)."""
        if not source.needs.state or checkpoint is None:
            return {}
        return checkpoint.state

    def _persist(
        self, result: CollectorResult, started: tuple[datetime, float], tally: Tally
    ) -> PersistReceipt:
        """Store ``result``, then record its run (``started``: wall clock and monotonic)."""
        receipt = self._store.persist(result, account=self.account, region=self.region)
        tally.span_days |= days_of_span_parts(receipt.part_keys)
        record = RunRecord.of_result(
            result,
            account=self.account,
            region=self.region,
            started_at=started[0],
            duration_ms=(time.monotonic() - started[1]) * 1000,
            items=receipt.items,
        )
        self._record(record)
        return receipt

    def _checkpoint(self, name: str, tally: Tally) -> Checkpoint | None:
        try:
            return self._store.checkpoint(name, self.account, self.region)
        except CorruptFileError as exc:
            # NOTE: restarting from the look-back re-reads stored data, which the store
            # deduplicates; the next advance replaces the damaged file.
            tally.warn(f"{exc}; collecting from the look-back instead")
            return None

    def _resumable(
        self,
        checkpoint: Checkpoint | None,
        settings: CollectorSettings,
        now: datetime,
        tally: Tally,
    ) -> Checkpoint | None:
        """``checkpoint``, or a rewound one when it lies beyond ``now`` plus the lag.

        Such a checkpoint (the clock moved back, the file was edited or copied from another
        host) would read no window ever again while every cycle says "ok".
        """
        end = checkpoint.window_end if checkpoint is not None else None
        if end is None or end <= now + settings.lag:
            return checkpoint
        since = self._config.collect.since
        tally.warn(
            f"checkpoint {end.isoformat()} is in the future (now {now.isoformat()}, lag "
            f"{settings.lag}): the clock moved back or the checkpoint was edited; collecting "
            f"from the look-back ({since}) instead"
        )
        log.warning("%s: future checkpoint %s reset to the look-back", settings.name, end)
        return self._store.rewind(settings.name, self.account, self.region)

    def _record(self, record: RunRecord) -> None:
        try:
            self._store.record_run(record)
        except (StoreError, OSError) as exc:
            log.warning("cannot record the %s run: %s", record.collector, exc)

    def _record_failure(self, tally: Tally, duration_s: float) -> None:
        self._record(
            RunRecord(
                collector=tally.collector,
                account=self.account,
                region=self.region,
                status="failed",
                started_at=tally.started_at,
                duration_ms=duration_s * 1000,
                api_calls=tally.stats.api_calls,
                throttles=tally.stats.throttles,
                retries=tally.stats.retries,
                error=tally.error,
            )
        )


def build_runners(
    config: AgentConfig,
    store: Store,
    *,
    stop: threading.Event | None = None,
    clock: Clock = _utc_now,
) -> list[CollectionRunner]:
    """One runner per target of ``config``, each with its own session (its role assumed with
    its external id), clients, checkpoints and function list.

    Raises
    ------
    ConfigError
        When a target has no region.
    ValueError, BotoCoreError
        When a target's session or clients cannot be made.
    """
    rollups = RollupSchedule()
    return [
        CollectionRunner(config, store, stop=stop, clock=clock, target=target, rollups=rollups)
        for target in config.collect_targets()
    ]


def _step(needs: Needs, settings: CollectorSettings, step: timedelta) -> timedelta:
    """The window length for a collector.

    A collector that reaches back ``lag`` before its window (X-Ray's scan) gets windows
    shortened by as much, so that a read never exceeds ``step`` and is never split by the
    collector. (moto lists a trace only when it starts and ends inside one scan: a split scan
    misses the traces that cross the cut.)
    """
    if needs.window_within_step and step > 2 * settings.lag:
        return step - settings.lag
    return step


class FunctionListError(RuntimeError):
    """The functions to read metrics and logs for are unknown."""


def _explain(exc: Exception) -> str:
    """One line saying what failed, with the fix for the usual configuration errors."""
    text = f"{type(exc).__name__}: {exc}"
    if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
        return f"{text} (configure a profile, AWS_* variables or an instance role)"
    if type(exc).__name__ == "ProfileNotFound":
        return f"{text} (check [aws] profile / --profile)"
    return text
