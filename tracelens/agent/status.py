"""The agent's health: last run and last success per collector, as a JSON file and over HTTP.

The status file is rewritten atomically (temporary file, then rename) after every job, so a
monitor never reads half a file. The optional health endpoint listens on ``[agent]
health_host`` (default 127.0.0.1) and answers ``GET /`` (or ``/health``) with the same JSON:
200 while healthy, 503 otherwise.

Healthy means every scheduled collector has had a successful cycle (status ``ok``: its windows
read completely, with at least one call that reached the endpoint) within its last
``stale_intervals`` intervals, counted from the agent's start
before its first success. ``problems`` says which collector is stale, since when, and its last
error. A cycle in which every call failed is ``failed``; a ``partial`` one is no success.

With several targets (``[[targets]]``) each target's collectors are watched apart: their keys
and problems are ``<label>/<region>/<collector>``, and ``targets`` says which target is
healthy.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from tracelens.agent.outcome import CycleOutcome, one_line
from tracelens.atomic import replace_atomically

log = logging.getLogger(__name__)


@dataclass
class _CollectorHealth:
    interval_s: float
    last_run: CycleOutcome | None = None
    last_success: datetime | None = None
    consecutive_failures: int = 0
    collector: str = ""
    account: str = ""
    region: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "collector": self.collector,
            "account": self.account,
            "region": self.region,
            "interval_s": self.interval_s,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "consecutive_failures": self.consecutive_failures,
            "last_run": self.last_run.as_json() if self.last_run else None,
        }


@dataclass
class _ReportHealth:
    path: str
    last_success: datetime | None = None
    last_error: str | None = None


@dataclass
class AgentStatus:
    """What the agent has done so far (thread-safe; one per agent process).

    ``last_success`` of a collector is the start of its last run with status ``ok`` that made
    at least one call (a run with nothing due proves nothing about the endpoint).
    ``stale_intervals``: how many of its intervals a collector may go without a success before
    the agent is unhealthy. ``account`` and ``region`` are the agent's (first) target;
    ``targets`` lists every ``(account, region)`` when there are several.
    """

    started_at: datetime
    store_url: str
    account: str
    region: str
    collectors: dict[str, _CollectorHealth] = field(default_factory=dict)
    report: _ReportHealth | None = None
    state: str = "starting"
    stale_intervals: int = 3
    targets: tuple[tuple[str, str], ...] = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def several(self) -> bool:
        """True with more than one target: keys then name the target too."""
        return len(self.targets) > 1

    def key(self, collector: str, account: str = "", region: str = "") -> str:
        """The collector's key: its name, or ``<label>/<region>/<name>`` with several
        targets."""
        if not self.several:
            return collector
        return f"{account or self.account}/{region or self.region}/{collector}"

    def expect(
        self, collector: str, *, interval_s: float, account: str = "", region: str = ""
    ) -> None:
        """Declare a scheduled collector (shown before its first run)."""
        with self._lock:
            self.collectors[self.key(collector, account, region)] = _CollectorHealth(
                interval_s=interval_s,
                collector=collector,
                account=account or self.account,
                region=region or self.region,
            )

    def record(self, outcome: CycleOutcome) -> None:
        """Note a finished cycle."""
        with self._lock:
            key = self.key(outcome.collector, outcome.account, outcome.region)
            health = self.collectors.setdefault(
                key,
                _CollectorHealth(
                    0.0,
                    collector=outcome.collector,
                    account=outcome.account or self.account,
                    region=outcome.region or self.region,
                ),
            )
            health.last_run = outcome
            if outcome.failed:
                health.consecutive_failures += 1
            else:
                health.consecutive_failures = 0
            if outcome.succeeded:
                previous = health.last_success
                health.last_success = max(previous or outcome.started_at, outcome.started_at)

    def record_report(self, path: str, *, at: datetime, error: str | None = None) -> None:
        """Note a report rewrite (``error`` when it failed)."""
        with self._lock:
            report = self.report or _ReportHealth(path)
            if error is None:
                report.last_success, report.last_error = at, None
            else:
                report.last_error = error
            self.report = report

    def set_state(self, state: str) -> None:
        """``"running"``, ``"stopping"`` or ``"stopped"``."""
        with self._lock:
            self.state = state

    def intervals(self) -> dict[str, timedelta]:
        """Each expected collector's interval, by :meth:`key`."""
        with self._lock:
            return {
                key: timedelta(seconds=health.interval_s)
                for key, health in self.collectors.items()
                if health.interval_s > 0
            }

    def last_successes(self) -> dict[str, datetime | None]:
        """Each expected collector's last success (None: none yet), by :meth:`key`."""
        with self._lock:
            return {name: health.last_success for name, health in self.collectors.items()}

    @property
    def last_runs_ok(self) -> bool:
        """True while no collector's last run failed (a report then rests on every source)."""
        with self._lock:
            return not any(
                health.last_run is not None and health.last_run.failed
                for health in self.collectors.values()
            )

    def problems(self, *, now: datetime) -> list[str]:
        """Why the agent is unhealthy at ``now``: one line per stale collector (empty: healthy)."""
        with self._lock:
            return [
                problem
                for name, health in sorted(self.collectors.items())
                if (problem := self._stale(name, health, now)) is not None
            ]

    def _stale(self, name: str, health: _CollectorHealth, now: datetime) -> str | None:
        if health.interval_s <= 0:
            return None
        allowed = timedelta(seconds=health.interval_s * self.stale_intervals)
        since = health.last_success or self.started_at
        if now - since <= allowed:
            return None
        what = f"last success {since.isoformat()}" if health.last_success else "no success yet"
        last = health.last_run
        why = "no run finished" if last is None else f"last run {last.status}"
        if last is not None and last.error:
            why += f": {one_line(last.error)}"
        return (
            f"{name}: {what} (more than {self.stale_intervals} intervals of "
            f"{health.interval_s:g} s); {why}"
        )

    def healthy(self, *, now: datetime) -> bool:
        """True while every collector has had a success within its staleness."""
        return not self.problems(now=now)

    def as_json(self, *, now: datetime) -> dict[str, Any]:
        """The whole status as JSON-ready values."""
        problems = self.problems(now=now)
        with self._lock:
            report = self.report
            stale = {
                key
                for key, health in self.collectors.items()
                if self._stale(key, health, now) is not None
            }
            targets = self.targets or ((self.account, self.region),)
            by_target = [
                {
                    "account": account,
                    "region": region,
                    "healthy": not any(
                        key in stale
                        for key, health in self.collectors.items()
                        if (health.account, health.region) == (account, region)
                    ),
                    "collectors": sorted(
                        key
                        for key, health in self.collectors.items()
                        if (health.account, health.region) == (account, region)
                    ),
                }
                for account, region in targets
            ]
            return {
                "state": self.state,
                "healthy": not problems,
                "problems": problems,
                "stale_intervals": self.stale_intervals,
                "pid": os.getpid(),
                "started_at": self.started_at.isoformat(),
                "updated_at": now.isoformat(),
                "store": self.store_url,
                "account": self.account,
                "region": self.region,
                "targets": by_target,
                "collectors": {n: h.as_json() for n, h in sorted(self.collectors.items())},
                "report": None
                if report is None
                else {
                    "path": report.path,
                    "last_success": report.last_success.isoformat()
                    if report.last_success
                    else None,
                    "last_error": report.last_error,
                },
            }


def write_status_file(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as JSON to ``path`` atomically (the directory is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    replace_atomically(path, data)


class _Server(ThreadingHTTPServer):
    """Binds IPv6 addresses too (``address_family`` follows the host)."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), handler)


class HealthServer:
    """A tiny HTTP endpoint serving the status JSON (start/stop in a thread).

    ``host`` is the address it binds: 127.0.0.1 (only this machine) unless an orchestrator
    must probe it from outside (``0.0.0.0`` or ``::``).
    """

    def __init__(self, port: int, render: Any, *, host: str = "127.0.0.1") -> None:
        self._render = render
        self._server = _Server(host, port, _handler(render))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="tracelens-health", daemon=True
        )

    @property
    def url(self) -> str:
        """Where it listens."""
        host, port = self._server.server_address[:2]
        shown = f"[{host!s}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/health"

    def start(self) -> HealthServer:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(render: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] not in ("/", "/health", "/status"):
                self.send_error(404, "try /health")
                return
            document = render()
            body = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
            self.send_response(200 if document["healthy"] else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("health: " + format, *args)

    return Handler
