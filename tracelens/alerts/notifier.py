"""Turning findings and collector health into alerts, and sending the ones that are due.

:class:`Notifier` is called after every report (:meth:`Notifier.findings`) and after every
collection cycle (:meth:`Notifier.collection`). It keeps its state in the store, so restarts
and separate Lambda invocations share it. A delivery that failed on every sink is kept and
tried again at the next call (for up to :data:`PENDING_FOR`); it never raises.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from tracelens.agent.config import AlertSettings
from tracelens.alerts.message import Alert, AlertEvent
from tracelens.alerts.sinks import DeliveryError, Sink
from tracelens.alerts.tracking import AlertState, Change, Namespace, Observed
from tracelens.store import MissingKeyError, Store, StoreError

log = logging.getLogger(__name__)

STATE_PREFIX = "alerts"
PENDING_FOR = timedelta(hours=24)
_COLLECTION_EVENTS: Mapping[str, AlertEvent] = {"new": "stale", "resolved": "recovered"}

ReportLink = Callable[[], str | None]


@dataclass
class SendReport:
    """What one call did."""

    sent: list[Alert] = field(default_factory=list)
    suppressed: int = 0
    failures: list[str] = field(default_factory=list)


def state_key(account: str, region: str) -> str:
    """Where the alert state of one account and region is kept in the store."""
    return f"{STATE_PREFIX}/{account}/{region}.json"


class Notifier:
    """Alerts for one account and region.

    Parameters
    ----------
    settings
        Severity floor, cooldown, resolve-after and stale-after.
    store
        Where the state is kept.
    sinks
        Where alerts go (none: changes are tracked and nothing is sent).
    account, region
        Named in every alert.
    """

    def __init__(
        self,
        settings: AlertSettings,
        store: Store,
        sinks: Iterable[Sink],
        *,
        account: str,
        region: str,
    ) -> None:
        self._settings = settings
        self._store = store
        self._sinks = tuple(sinks)
        self._account = account
        self._region = region
        self._lock = threading.Lock()
        self._key = state_key(account, region)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """Where alerts go."""
        return self._sinks

    def findings(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        now: datetime,
        report_link: ReportLink,
        complete: bool = True,
    ) -> SendReport:
        """Alerts for the findings of a report (rows of the analysis' findings frame).

        ``complete`` False (a collector's last cycle failed): findings may appear or escalate,
        but none is resolved, since a finding may be missing only because its data is.
        """
        observed = [observed_finding(row) for row in rows]
        return self._evaluate(
            "findings",
            observed,
            now=now,
            report_link=report_link,
            min_severity=self._settings.min_severity,
            resolve_after=self._settings.resolve_after if complete else None,
        )

    def collection(
        self,
        last_success: Mapping[str, datetime | None],
        intervals: Mapping[str, timedelta],
        *,
        since: datetime,
        now: datetime,
        report_link: ReportLink,
    ) -> SendReport:
        """Alerts for collectors gone stale (or recovered).

        ``last_success`` is each enabled collector's last successful cycle (None: none since
        ``since``, when the agent started watching).
        """
        stale = stale_collectors(
            last_success,
            intervals,
            since=since,
            now=now,
            stale_intervals=self._settings.stale_intervals,
        )
        return self._evaluate(
            "collection",
            stale,
            now=now,
            report_link=report_link,
            min_severity="critical",
            resolve_after=1,
        )

    def _evaluate(
        self,
        namespace: Namespace,
        observed: list[Observed],
        *,
        now: datetime,
        report_link: ReportLink,
        min_severity: str,
        resolve_after: int | None,
    ) -> SendReport:
        report = SendReport()
        with self._lock:
            state, pending = self._load()
            changes = state.observe(
                namespace, observed, min_severity=min_severity, resolve_after=resolve_after
            )
            due = state.due(changes, now=now, cooldown=self._settings.cooldown)
            report.suppressed = len(changes) - len(due)
            retry = [
                item
                for item in pending
                if now - datetime.fromisoformat(item["first_failed"]) < PENDING_FOR
            ]
            link = _Lazy(report_link) if (due or retry) and self._sinks else None
            still_pending: list[dict[str, Any]] = []
            for item in retry:
                alert = Alert(**{**_alert_fields(item["alert"]), "report_url": None})
                if link is not None:
                    alert = _with_link(alert, link())
                if self._deliver(alert, report):
                    report.sent.append(alert)
                else:
                    still_pending.append(item)
            for change in due:
                alert = self._alert(namespace, change, now=now)
                if link is not None:
                    alert = _with_link(alert, link())
                if not self._sinks:
                    continue
                if self._deliver(alert, report):
                    report.sent.append(alert)
                else:
                    still_pending.append(
                        {"alert": alert.as_json(), "first_failed": now.isoformat()}
                    )
                state.mark_sent(change, at=now)
            state.forget_sent_before(now - max(self._settings.cooldown, PENDING_FOR))
            self._save(state, still_pending)
        for alert in report.sent:
            log.info("alert sent: %s", alert.title())
        return report

    def _deliver(self, alert: Alert, report: SendReport) -> bool:
        delivered = False
        for sink in self._sinks:
            try:
                sink.send(alert)
            except DeliveryError as exc:
                log.warning("alert not delivered: %s", exc)
                report.failures.append(str(exc))
            else:
                delivered = True
        return delivered

    def _alert(self, namespace: Namespace, change: Change, *, now: datetime) -> Alert:
        observed = change.observed
        event = _COLLECTION_EVENTS[change.event] if namespace == "collection" else change.event
        return Alert(
            event=event,
            kind=observed.kind,
            subject=observed.subject,
            severity=observed.severity,
            previous_severity=change.previous_severity,
            message=observed.message,
            recommendation=observed.recommendation,
            evidence=observed.evidence,
            trace_id=observed.trace_id,
            account=self._account,
            region=self._region,
            at=now,
        )

    def _load(self) -> tuple[AlertState, list[dict[str, Any]]]:
        try:
            data = self._store.backend.read_bytes(self._key)
        except MissingKeyError:
            return AlertState(), []
        except StoreError as exc:
            log.warning("cannot read the alert state (%s); starting from none", exc)
            return AlertState(), []
        try:
            state = AlertState.decode(data)
            pending = list(orjson.loads(data).get("pending") or [])
        except (ValueError, orjson.JSONDecodeError) as exc:
            where = self._store.backend.location(self._key)
            log.warning("%s: %s; starting from none (alerts may repeat)", where, exc)
            return AlertState(), []
        return state, pending

    def _save(self, state: AlertState, pending: list[dict[str, Any]]) -> None:
        document = orjson.loads(state.encode())
        document["pending"] = pending
        try:
            self._store.backend.write_bytes(
                self._key, orjson.dumps(document, option=orjson.OPT_INDENT_2)
            )
        except StoreError as exc:
            log.warning("cannot save the alert state: %s", exc)


class _Lazy:
    """The report link, made once and only when an alert needs it."""

    def __init__(self, make: ReportLink) -> None:
        self._make = make
        self._done = False
        self._value: str | None = None

    def __call__(self) -> str | None:
        if not self._done:
            self._done = True
            try:
                self._value = self._make()
            except Exception as exc:  # NOTE: an alert without a link beats no alert.
                log.warning("no report link for the alerts: %s", exc)
        return self._value


def _with_link(alert: Alert, url: str | None) -> Alert:
    from dataclasses import replace  # noqa: PLC0415 - tiny

    return replace(alert, report_url=url)


def _alert_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "event": data["event"],
        "kind": data["kind"],
        "subject": data["subject"],
        "severity": data["severity"],
        "previous_severity": data.get("previous_severity"),
        "message": data.get("message", ""),
        "recommendation": data.get("recommendation", ""),
        "evidence": dict(data.get("evidence") or {}),
        "trace_id": data.get("trace_id"),
        "account": data["account"],
        "region": data["region"],
        "at": datetime.fromisoformat(str(data["at"]).replace("Z", "+00:00")),
    }


def observed_finding(row: Mapping[str, Any]) -> Observed:
    """A row of the findings frame (or of ``analyze --json``'s findings) as an observation."""
    evidence = row.get("evidence") or {}
    if isinstance(evidence, str | bytes):
        try:
            evidence = orjson.loads(evidence)
        except orjson.JSONDecodeError:
            evidence = {"evidence": evidence}
    return Observed(
        kind=str(row["kind"]),
        subject=str(row["subject"]),
        severity=str(row["severity"]),
        message=str(row.get("message") or ""),
        recommendation=str(row.get("recommendation") or ""),
        evidence=dict(evidence) if isinstance(evidence, dict) else {"evidence": evidence},
        trace_id=row.get("trace_id"),
    )


def stale_collectors(
    last_success: Mapping[str, datetime | None],
    intervals: Mapping[str, timedelta],
    *,
    since: datetime,
    now: datetime,
    stale_intervals: int,
) -> list[Observed]:
    """Collectors with no success for ``stale_intervals`` of their intervals."""
    stale: list[Observed] = []
    for name, interval in sorted(intervals.items()):
        last = last_success.get(name)
        reference = last or since
        allowed = interval * stale_intervals
        quiet = now - reference
        if quiet <= allowed:
            continue
        minutes = round(quiet.total_seconds() / 60, 1)
        when = (
            f"since {last.isoformat()}" if last else f"since watching began at {since.isoformat()}"
        )
        stale.append(
            Observed(
                kind="collection",
                subject=name,
                severity="critical",
                message=(
                    f"no successful {name} collection {when}: {minutes} minutes, more than "
                    f"{stale_intervals} intervals of {interval.total_seconds() / 60:g} minutes"
                ),
                recommendation=(
                    "look at the collector's last error (status file, health endpoint or "
                    "`tracelens collect --once`): credentials, the IAM policy, the endpoint"
                ),
                evidence={
                    "last_success": last.isoformat() if last else None,
                    "minutes_without_success": minutes,
                    "interval_minutes": interval.total_seconds() / 60,
                    "stale_intervals": stale_intervals,
                },
            )
        )
    return stale
