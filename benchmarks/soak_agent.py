"""Soak: the agent daemon's collection cycles, many times in one process, and its memory.

Starts moto's server on a free 127.0.0.1 port in a child process (``tracelens demo``'s own
helpers, run there so that the data the server accumulates is not counted here), seeds it with
the sample generator's last hour, then runs the agent (scheduler, collectors, store, status
file) in this process until every collector has completed ``--cycles`` cycles. Before each
cycle the minutes of a second generated sample that have elapsed by then are put (trace
segments whose trace has ended, log events, metric datapoints, all timed now), so every cycle
collects new data and every checkpoint advances. With ``--report-every N`` the HTML report is
rewritten every N cycles.

RSS (``VmRSS`` of /proc/self/status: the current resident size, not the high-water mark of
``ru_maxrss``) is read after every cycle. At the end: RSS after the warm-up, at the end, and the
growth per 100 cycles as the least-squares slope over the cycles after the warm-up (which
lasts through the first report rewrite). Exits 1 when that growth exceeds
``--max-growth-mb-per-100``; 2 when the run cannot be measured (the server does not start, a
put fails) or a windowed collector stored nothing after the warm-up (idle cycles prove
little). Under ``MIN_FIT_CYCLES`` cycles after the warm-up the growth is not judged. Linux
only (/proc).

The table, every ``--print-every`` cycles: RSS, gc-tracked objects (unreachable cycles not yet
collected included), items stored and segments/datapoints/log events put since the last row,
and the server's RSS (not counted). ``--tracemalloc`` lists where the memory allocated after
the warm-up and still held at the end was allocated (its own tables grow RSS: no verdict).

    .venv/bin/python benchmarks/soak_agent.py --cycles 300 --report-every 50
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import boto3
from botocore.exceptions import ClientError

from collectors.base import floor_time
from tracelens.agent.config import AgentConfig
from tracelens.agent.demo import (
    REGION,
    XRAY_LAG,
    DemoError,
    demo_config,
    fake_aws_environment,
    fresh_store_dir,
    seed,
)
from tracelens.agent.outcome import CycleOutcome
from tracelens.agent.runner import CollectionRunner
from tracelens.agent.scheduler import Agent
from tracelens.agent.seed import MAX_DATUMS_PER_CALL, MAX_SEGMENTS_PER_CALL, metric_datums
from tracelens.samples import SampleConfig, generate
from tracelens.store import open_store

REPO = Path(__file__).resolve().parent.parent
TRICKLE_SEED = 4242  # not the seeded hour's: trace and segment ids never repeat
MIN_TRICKLE_WINDOW = timedelta(minutes=10)  # the generator's shortest window
PROJECT = ("/tracelens/", "/collectors/", "/analyses/")
MIN_FIT_CYCLES = 100  # fewer after the warm-up: a noisy slope (and CloudWatch reads per minute)
URL_TIMEOUT_S = 60.0
TYPES_SHOWN = 6
ENDING_CYCLES = 10  # a report rewrite just before a sample leaves a transient peak
TRACKED_PER_SAMPLE = 2  # a Sample and its Put: the soak's own objects, not the agent's
# NOTE: the logs window must end behind now, or an event put a moment after its timestamp
# may fall in a window already read (a real agent has minutes of lag for the same reason).
LOGS_LAG = XRAY_LAG

# The moto server, in a child process: `tracelens demo`'s fake environment and endpoint.
# It prints its URL, then serves until its stdin closes (this process exiting closes it too).
SERVER_SCRIPT = """
import sys
from tracelens.agent.demo import fake_aws_environment, local_endpoint
with fake_aws_environment(), local_endpoint() as url:
    print(url, flush=True)
    sys.stdin.read()
"""


def rss_mb(pid: int | str = "self") -> float:
    """Current resident set size of a process (``VmRSS``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line")


@contextmanager
def moto_server_process() -> Iterator[tuple[str, int]]:
    """moto's server on a free 127.0.0.1 port in a child process; yields (URL, pid)."""
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        ready, _, _ = select.select([child.stdout], [], [], URL_TIMEOUT_S)
        url = child.stdout.readline().strip() if ready else ""
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the moto server did not start (printed {url!r}); see stderr")
        yield url, child.pid
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class Put(NamedTuple):
    """What one trickle put."""

    segments: int = 0
    datapoints: int = 0
    log_events: int = 0


def total(puts: Iterable[Put]) -> Put:
    """Field by field sums."""
    return Put(*(sum(values) for values in zip(Put(), *puts, strict=True)))


class Trickle:
    """A generated sample that starts now, put piece by piece as its time passes.

    A trace is put once it has ended (as X-Ray publishes it), a log event or datapoint once its
    timestamp has passed.
    """

    def __init__(self, url: str, *, start: datetime, window: timedelta, traces: int) -> None:
        sample = generate(
            SampleConfig(seed=TRICKLE_SEED, traces=traces, start=start, window=window)
        )
        ends = (
            (
                max(
                    float(doc["end_time"] if "end_time" in doc else doc["start_time"])
                    for doc in docs
                ),
                docs,
            )
            for _, docs in sample.traces
        )
        self._traces = deque(
            (end_s, [json.dumps(doc, separators=(",", ":")) for doc in docs])
            for end_s, docs in sorted(ends, key=lambda pair: pair[0])
        )
        datums = metric_datums(sample.metric_data)
        self._datums = deque(sorted(datums, key=lambda datum: datum["Timestamp"]))
        self._events = deque(
            sorted(
                (event.timestamp_ms, f"/aws/lambda/{function}", event.log_stream, event.message)
                for function, events in sample.logs.items()
                for event in events
            )
        )
        session = boto3.Session(region_name=REGION)
        self._xray: Any = session.client("xray", endpoint_url=url)
        self._cloudwatch: Any = session.client("cloudwatch", endpoint_url=url)
        self._logs: Any = session.client("logs", endpoint_url=url)
        self._streams: set[tuple[str, str]] = set()

    def release(self, now: datetime) -> Put:
        """Put everything whose time has come by ``now``."""
        now_s = now.timestamp()
        return total((self._traces_due(now_s), self._datums_due(now), self._events_due(now_s)))

    def _traces_due(self, now_s: float) -> Put:
        documents: list[str] = []
        while self._traces and self._traces[0][0] <= now_s:
            documents.extend(self._traces.popleft()[1])
        for offset in range(0, len(documents), MAX_SEGMENTS_PER_CALL):
            batch = documents[offset : offset + MAX_SEGMENTS_PER_CALL]
            response = self._xray.put_trace_segments(TraceSegmentDocuments=batch)
            if response.get("UnprocessedTraceSegments"):
                raise RuntimeError(f"PutTraceSegments refused: {response}")
        return Put(segments=len(documents))

    def _datums_due(self, now: datetime) -> Put:
        datums: list[dict[str, Any]] = []
        while self._datums and self._datums[0]["Timestamp"] <= now:
            datums.append(self._datums.popleft())
        for offset in range(0, len(datums), MAX_DATUMS_PER_CALL):
            batch = datums[offset : offset + MAX_DATUMS_PER_CALL]
            self._cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=batch)
        return Put(datapoints=len(datums))

    def _events_due(self, now_s: float) -> Put:
        streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        while self._events and self._events[0][0] <= now_s * 1000:
            timestamp_ms, group, stream, message = self._events.popleft()
            streams.setdefault((group, stream), []).append(
                {"timestamp": timestamp_ms, "message": message}
            )
        for (group, stream), events in streams.items():
            self._ensure_stream(group, stream)
            self._logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        return Put(log_events=sum(len(events) for events in streams.values()))

    def _ensure_stream(self, group: str, stream: str) -> None:
        if (group, stream) in self._streams:
            return
        try:
            self._logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        self._streams.add((group, stream))


class Rounds:
    """Counts the agent's cycles: round ``k`` is done when every collector has run ``k`` times."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._done = threading.Condition()
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self._items_unread = 0
        self.first_errors: dict[str, str] = {}

    def __call__(self, outcome: CycleOutcome) -> None:
        with self._done:
            self.counts[outcome.collector] += 1
            self.statuses[f"{outcome.collector} {outcome.status}"] += 1
            self.items[outcome.collector] += outcome.items
            self._items_unread += outcome.items
            if outcome.error and outcome.collector not in self.first_errors:
                self.first_errors[outcome.collector] = outcome.error
            self._done.notify_all()

    def completed(self) -> int:
        """Rounds every collector has completed."""
        return min(self.counts[name] for name in self._names)

    def wait_for(self, rounds: int, *, timeout_s: float) -> bool:
        """Block until ``rounds`` rounds are done (False: ``timeout_s`` passed first)."""
        with self._done:
            return self._done.wait_for(lambda: self.completed() >= rounds, timeout=timeout_s)

    def take_items(self) -> int:
        """Items stored since the last call."""
        with self._done:
            items, self._items_unread = self._items_unread, 0
            return items

    def items_so_far(self) -> Counter[str]:
        """Items stored per collector."""
        with self._done:
            return Counter(self.items)


class Sample(NamedTuple):
    """Memory after one cycle (``objects``: gc-tracked objects, the samples kept excluded)."""

    cycle: int
    elapsed_s: float
    rss_mb: float
    objects: int
    items: int
    put: Put
    server_rss_mb: float


@dataclass(frozen=True)
class Options:
    """The command line."""

    cycles: int
    report_every: int
    print_every: int
    warm_up: int
    interval_s: float
    max_seconds: float
    max_growth_mb_per_100: float
    traces_per_minute: float
    out: Path | None
    tracemalloc: bool


def soak_config(out: Path, url: str, options: Options) -> AgentConfig:
    """The demo's agent config, with a lag on the logs collector (see ``LOGS_LAG``)."""
    config = demo_config(out, url, interval=timedelta(seconds=options.interval_s))
    collectors = tuple(
        replace(settings, lag=LOGS_LAG) if settings.name == "logs" else settings
        for settings in config.collectors
    )
    return replace(config, collectors=collectors)


def type_counts() -> Counter[str]:
    """Live gc-tracked objects per type (module-qualified), the soak's own left out.

    NOTE: collects first: unreachable cycles waiting for the next full collection are garbage,
    not growth.
    """
    gc.collect()
    return Counter(
        f"{type(value).__module__}.{type(value).__qualname__}"
        for value in gc.get_objects()
        if type(value).__module__ != __name__
    )


def per_100(samples: list[Sample], value: str) -> float:
    """Least-squares slope of ``value`` over ``samples``, per 100 cycles."""
    cycles = [float(sample.cycle) for sample in samples]
    values = [float(getattr(sample, value)) for sample in samples]
    return statistics.linear_regression(cycles, values).slope * 100


class Soak:
    """One soak run: seeds, runs the agent, samples memory, prints the table."""

    def __init__(self, options: Options, out: Path, url: str, server_pid: int) -> None:
        self.options = options
        self.began_s = time.monotonic()
        self.samples: list[Sample] = []
        self.reports_failed: list[str] = []
        self._server_pid = server_pid
        self._printed_cycle = 0
        self.items_at_warm_up: Counter[str] = Counter()
        self.types_at_warm_up: Counter[str] = Counter()
        self.types_at_end: Counter[str] = Counter()
        now = datetime.now(UTC)
        seeded = seed(url, now=now)
        print(
            f"seeded: {seeded.functions} functions, {seeded.traces} traces "
            f"({seeded.segments} segments), {seeded.datapoints} datapoints, "
            f"{seeded.log_events} log events",
            flush=True,
        )
        window = max(MIN_TRICKLE_WINDOW, timedelta(seconds=options.max_seconds + 60))
        traces = max(60, round(options.traces_per_minute * window.total_seconds() / 60))
        start = floor_time(now, timedelta(minutes=1))  # the seeded hour ends there
        self.trickle = Trickle(url, start=start, window=window, traces=traces)
        self.config = soak_config(out, url, options)
        store = open_store(fresh_store_dir(out))
        stop = threading.Event()
        names = tuple(settings.name for settings in self.config.enabled_collectors)
        self.rounds = Rounds(names)
        runner = CollectionRunner(self.config, store, stop=stop)
        self.agent = Agent(self.config, store, runner, stop=stop, on_outcome=self.rounds)

    def run(self) -> None:
        """Cycles until ``--cycles`` or ``--max-seconds``; the agent is shut down after."""
        deadline_s = self.began_s + self.options.max_seconds
        put = self.trickle.release(datetime.now(UTC))
        self.agent.start()
        try:
            for cycle in range(1, self.options.cycles + 1):
                left_s = deadline_s - time.monotonic()
                if left_s <= 0 or not self.rounds.wait_for(cycle, timeout_s=left_s):
                    print(f"time limit ({self.options.max_seconds:g}s) reached", flush=True)
                    break
                self._after_cycle(cycle, put)
                put = self.trickle.release(datetime.now(UTC))
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        finally:
            self.types_at_end = type_counts()
            self.agent.shutdown()

    def _after_cycle(self, cycle: int, put: Put) -> None:
        options = self.options
        if options.report_every and cycle % options.report_every == 0:
            self.agent.write_report()
            report = self.agent.status.report
            if report is not None and report.last_error:
                self.reports_failed.append(f"cycle {cycle}: {report.last_error}")
        sample = Sample(
            cycle=cycle,
            elapsed_s=time.monotonic() - self.began_s,
            rss_mb=rss_mb(),
            objects=len(gc.get_objects()) - TRACKED_PER_SAMPLE * len(self.samples),
            items=self.rounds.take_items(),
            put=put,
            server_rss_mb=rss_mb(self._server_pid),
        )
        self.samples.append(sample)
        if cycle == self.warm_up:
            self.items_at_warm_up = self.rounds.items_so_far()
            self.types_at_warm_up = type_counts()
            if options.tracemalloc:
                tracemalloc.start(10)
        if cycle == 1 or cycle % options.print_every == 0:
            self._print_row(sample)

    @property
    def warm_up(self) -> int:
        """Cycles left out of the slope: ``--warm-up``, and through the first report rewrite.

        NOTE: the first rewrite imports plotly and the report's modules and fills their caches
        (tens of MB, once): a step, not growth. At most half the cycles.
        """
        cycles = self.options.cycles
        return max(1, min(max(self.options.warm_up, self.options.report_every), cycles // 2))

    def _print_row(self, sample: Sample) -> None:
        since = [s for s in self.samples if s.cycle > self._printed_cycle]
        self._printed_cycle = sample.cycle
        items = sum(s.items for s in since)
        put = total(s.put for s in since)
        if len(self.samples) == 1:
            print(
                f"{'cycle':>6} {'elapsed s':>9} {'RSS MB':>8} {'objects':>9} {'items':>7} "
                f"{'put seg/dp/log':>15} {'server MB':>9}",
                flush=True,
            )
        trickled = f"{put.segments}/{put.datapoints}/{put.log_events}"
        print(
            f"{sample.cycle:>6} {sample.elapsed_s:>9.1f} {sample.rss_mb:>8.1f} "
            f"{sample.objects:>9,} {items:>7,} {trickled:>15} {sample.server_rss_mb:>9.1f}",
            flush=True,
        )


WINDOWED = ("xray", "cloudwatch", "logs")  # the collectors whose checkpoints advance


def summarize(soak: Soak) -> int:
    """Print the summary; the exit status."""
    samples, rounds = soak.samples, soak.rounds
    print(f"\nsummary: {len(samples)} cycle(s) in {time.monotonic() - soak.began_s:.0f}s")
    print(f"  cycles per collector: {dict(sorted(rounds.counts.items()))}")
    print(f"  outcomes: {dict(sorted(rounds.statuses.items()))}")
    for collector, error in sorted(rounds.first_errors.items()):
        print(f"  first error of {collector}: {error[:160]}")
    for failure in soak.reports_failed[:3]:
        print(f"  report failed at {failure[:160]}")
    if not samples:
        print("  no cycle completed: nothing measured")
        return 2
    put = total(sample.put for sample in samples)
    print(
        f"  put while running: {put.segments} segments, {put.datapoints} datapoints, "
        f"{put.log_events} log events; items stored: {dict(sorted(rounds.items.items()))}"
    )
    warm = soak.warm_up
    last = samples[-1]
    if len(samples) >= warm:
        settled = samples[warm : warm + ENDING_CYCLES] or samples[warm - 1 :]
        print(
            f"  RSS after warm-up (cycle {warm}): {samples[warm - 1].rss_mb:.1f} MB; median of "
            f"the next {len(settled)} cycles {statistics.median(s.rss_mb for s in settled):.1f} MB"
        )
    ending = statistics.median(sample.rss_mb for sample in samples[-ENDING_CYCLES:])
    print(
        f"  RSS at the end (cycle {last.cycle}): {last.rss_mb:.1f} MB; median of the last "
        f"{min(ENDING_CYCLES, len(samples))} cycles {ending:.1f} MB"
    )
    print(f"  RSS peak sampled: {max(sample.rss_mb for sample in samples):.1f} MB")
    print(
        f"  server (child process, not counted): {samples[0].server_rss_mb:.1f} -> "
        f"{last.server_rss_mb:.1f} MB"
    )
    fitted = samples[warm:]
    if len(fitted) < MIN_FIT_CYCLES:
        print(
            f"  growth: not judged ({len(fitted)} cycle(s) after the warm-up; the slope needs "
            f"at least {MIN_FIT_CYCLES})"
        )
        return 0
    return verdict(soak, fitted)


def verdict(soak: Soak, fitted: list[Sample]) -> int:
    """Print the growth over ``fitted`` and the verdict; the exit status."""
    options = soak.options
    growth = per_100(fitted, "rss_mb")
    print(
        f"  growth: {growth:+.2f} MB per 100 cycles (least squares over cycles "
        f"{fitted[0].cycle}-{fitted[-1].cycle}); limit {options.max_growth_mb_per_100:g} MB"
    )
    print(f"  objects: {per_100(fitted, 'objects'):+,.0f} per 100 cycles (gc-tracked, garbage too)")
    grown = (soak.types_at_end - soak.types_at_warm_up).most_common(TYPES_SHOWN)
    listed = ", ".join(f"{name} +{count}" for name, count in grown) or "none"
    print(f"  live objects more numerous at the end than after the warm-up: {listed}")
    if options.tracemalloc:
        print_allocation_growth()
        print("  not judged: tracemalloc's own tables grow RSS; judge a run without it")
        return 0
    stored = soak.rounds.items_so_far() - soak.items_at_warm_up
    idle = [name for name in WINDOWED if not stored[name]]
    if idle:
        print(
            f"  FAIL: {', '.join(idle)} stored nothing after the warm-up: idle cycles prove little"
        )
        return 2
    if growth > options.max_growth_mb_per_100:
        print("  FAIL: memory grows faster than the limit")
        return 1
    print("  OK: no memory growth beyond the limit")
    return 0


def print_allocation_growth(top: int = 10) -> None:
    """The places holding most memory allocated since tracing started (``--tracemalloc``).

    Each line: size, blocks, the allocating line, and the innermost project line calling it.
    """
    stats = tracemalloc.take_snapshot().statistics("traceback")
    print(f"  live allocations made after the warm-up, top {top} by size:")
    for stat in stats[:top]:
        frames = list(stat.traceback)  # oldest first
        ours = [frame for frame in frames if any(part in frame.filename for part in PROJECT)]
        site = f"{frames[-1].filename}:{frames[-1].lineno}"
        caller = f" <- {ours[-1].filename}:{ours[-1].lineno}" if ours else ""
        print(f"    {stat.size / 1024:>9.1f} KiB {stat.count:>7} blocks  {site}{caller}")


def parse_options(argv: list[str] | None = None) -> Options:
    """The command line, checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300, help="cycles of every collector")
    parser.add_argument("--report-every", type=int, default=0, help="rewrite the report every N")
    parser.add_argument("--print-every", type=int, default=10, help="a table row every N cycles")
    parser.add_argument("--warm-up", type=int, default=20, help="cycles before the slope starts")
    parser.add_argument("--interval-s", type=float, default=1.0, help="the collectors' interval")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop after this long")
    parser.add_argument("--max-growth-mb-per-100", type=float, default=5.0)
    parser.add_argument("--traces-per-minute", type=float, default=30.0, help="new traces put")
    parser.add_argument("--out", type=Path, help="keep the store, status file and report here")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="trace allocations after the warm-up"
    )
    args = parser.parse_args(argv)
    for name in ("cycles", "print_every", "warm_up"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.report_every < 0 or args.interval_s <= 0 or args.max_seconds <= 0:
        parser.error("--report-every must be >= 0; --interval-s and --max-seconds > 0")
    return Options(**vars(args))


def main(argv: list[str] | None = None) -> int:
    """Run the soak; the exit status (0 ok, 1 memory grows, 2 nothing measured)."""
    options = parse_options(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="tracelens-soak-") as scratch:
        out = options.out or Path(scratch)
        try:
            with fake_aws_environment(), moto_server_process() as (url, server_pid):
                print(f"moto server at {url} (pid {server_pid}), store in {out}", flush=True)
                soak = Soak(options, out, url, server_pid)
                soak.run()
                return summarize(soak)
        except (RuntimeError, ClientError, DemoError, OSError) as exc:
            print(f"soak stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
