"""The alert calls the agent and the Lambda handler make after a report and after cycles."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tracelens.agent.aws import AgentClients
from tracelens.agent.config import AgentConfig
from tracelens.alerts.build import build_notifier, report_link
from tracelens.alerts.notifier import Notifier, SendReport
from tracelens.store import Store, StoreError

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)


class AlertHook:
    """Alerts for one agent (or one Lambda invocation); does nothing when no sink is set."""

    def __init__(
        self,
        config: AgentConfig,
        store: Store,
        clients: AgentClients,
        *,
        notifier: Notifier | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._clients = clients
        self._notifier = notifier or build_notifier(config, store, clients)
        self._last_report: Path | None = None

    @property
    def enabled(self) -> bool:
        """True when alerts go somewhere."""
        return self._notifier is not None

    def after_report(
        self,
        findings: pl.DataFrame,
        path: Path | None,
        *,
        now: datetime,
        complete: bool = True,
    ) -> SendReport:
        """Alerts for a report's findings (new, escalated; resolved only when ``complete``:
        no collector's last cycle failed)."""
        if path is not None:
            self._last_report = path
        if self._notifier is None:
            return SendReport()
        link = report_link(self._config, self._store, path, self._clients)
        return self._notifier.findings(
            findings.to_dicts(), now=now, report_link=link, complete=complete
        )

    def after_cycles(
        self,
        last_success: Mapping[str, datetime | None],
        *,
        since: datetime,
        now: datetime,
        intervals: Mapping[str, timedelta] | None = None,
    ) -> SendReport:
        """Alerts for collectors gone stale or recovered (enabled collectors only).

        ``last_success`` and ``intervals`` are keyed by collector, or, with several targets, by
        ``<label>/<region>/<collector>`` (the alert names the target); ``intervals`` default:
        the config's schedule.
        """
        if self._notifier is None:
            return SendReport()
        if intervals is None:
            intervals = {key: s.interval for key, _, s in self._config.schedule()}
        link = report_link(self._config, self._store, self._last_report, self._clients)
        return self._notifier.collection(
            {name: last_success.get(name) for name in intervals},
            intervals,
            since=since,
            now=now,
            report_link=link,
        )


def last_successes_in_store(
    store: Store, config: AgentConfig, *, now: datetime
) -> tuple[dict[str, datetime | None], datetime]:
    """Each enabled collector's last successful run in the store's run records, and the start
    of the time looked at (a collector without a success in it counts from there).

    A run succeeded when it stored data (status ``ok`` or ``partial``).
    """
    schedule = config.schedule()
    longest = max((s.interval for _, _, s in schedule), default=timedelta(hours=1))
    since = now - longest * (config.alerts.stale_intervals + 1)
    found: dict[str, datetime | None] = {key: None for key, _, _ in schedule}
    keys = {(target.account, target.region, s.name): key for key, target, s in schedule}
    try:
        records, _ = store.runs(since=since)
    except StoreError as exc:
        log.warning("cannot read run records for staleness: %s", exc)
        return found, since
    mine = [
        record for record in records if (record.account, record.region, record.collector) in keys
    ]
    # NOTE: watching begins with the first run recorded: a store with no history is not stale.
    since = max(since, min((record.started_at for record in mine), default=now))
    for record in mine:
        key = keys[(record.account, record.region, record.collector)]
        if record.status != "failed":
            previous = found[key]
            if previous is None or record.started_at > previous:
                found[key] = record.started_at
    return found, since
