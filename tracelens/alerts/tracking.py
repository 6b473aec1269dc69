"""What changed since the last evaluation, and which of those changes are due to be sent.

The state is one JSON document per account and region in the store
(``alerts/<account>/<region>.json``): every finding (and stale collector) seen at the last
evaluation with its severity, and when each alert was last sent. A finding is announced as
resolved only after ``resolve_after`` evaluations in a row without it, so that one report over
thin data does not resolve (and then re-open) it. An alert already sent for the same finding
and event within the cooldown is suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson

from tracelens.alerts.message import AlertEvent

Namespace = Literal["findings", "collection"]
SEVERITY_RANK: Mapping[str, int] = {"info": 0, "warning": 1, "critical": 2}
STATE_VERSION = 1


@dataclass(frozen=True)
class Observed:
    """One finding (or stale collector) seen now."""

    kind: str
    subject: str
    severity: str
    message: str
    recommendation: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None

    @property
    def identity(self) -> str:
        """``kind:subject``."""
        return f"{self.kind}:{self.subject}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "severity": self.severity,
            "message": self.message,
            "recommendation": self.recommendation,
            "evidence": self.evidence,
            "trace_id": self.trace_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observed:
        return cls(
            kind=str(data["kind"]),
            subject=str(data["subject"]),
            severity=str(data["severity"]),
            message=str(data.get("message", "")),
            recommendation=str(data.get("recommendation", "")),
            evidence=dict(data.get("evidence") or {}),
            trace_id=data.get("trace_id"),
        )


@dataclass(frozen=True)
class Change:
    """One transition: the event, the observation it is about, and the severity before."""

    event: AlertEvent
    observed: Observed
    previous_severity: str | None = None

    @property
    def key(self) -> str:
        """What the cooldown keys on: identity and event."""
        return f"{self.observed.identity}|{self.event}"


@dataclass
class _Seen:
    observed: Observed
    absent: int = 0


@dataclass
class AlertState:
    """What the last evaluations saw, and when each alert was last sent."""

    seen: dict[Namespace, dict[str, _Seen]] = field(
        default_factory=lambda: {"findings": {}, "collection": {}}
    )
    sent: dict[str, datetime] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The state as JSON bytes."""
        return orjson.dumps(
            {
                "version": STATE_VERSION,
                "seen": {
                    namespace: {
                        identity: {**item.observed.as_json(), "absent": item.absent}
                        for identity, item in items.items()
                    }
                    for namespace, items in self.seen.items()
                },
                "sent": {key: moment.isoformat() for key, moment in self.sent.items()},
            },
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )

    @classmethod
    def decode(cls, data: bytes) -> AlertState:
        """The state in ``data``.

        Raises
        ------
        ValueError
            When ``data`` is not a state document.
        """
        try:
            document = orjson.loads(data)
            state = cls()
            for namespace in ("findings", "collection"):
                for identity, item in (document.get("seen", {}).get(namespace) or {}).items():
                    state.seen[namespace][identity] = _Seen(
                        Observed.from_json(item), absent=int(item.get("absent", 0))
                    )
            state.sent = {
                key: datetime.fromisoformat(moment)
                for key, moment in (document.get("sent") or {}).items()
            }
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an alert state document ({exc})") from exc
        return state

    def observe(
        self,
        namespace: Namespace,
        current: list[Observed],
        *,
        min_severity: str,
        resolve_after: int | None,
    ) -> list[Change]:
        """Record what is seen now and return the changes (appeared, escalated, resolved).

        Only findings at or above ``min_severity`` appear, escalate or resolve; the others are
        remembered so that a warning that becomes critical is an escalation. With
        ``resolve_after`` None (the data behind this evaluation is incomplete), nothing is
        resolved or lowered: what is missing now may only be unread.
        """
        floor = SEVERITY_RANK[min_severity]
        before = self.seen[namespace]
        now = _most_severe(current)
        changes: list[Change] = []
        for identity, item in now.items():
            rank = _rank(item.observed)
            previous = before.get(identity)
            if rank < floor:
                if previous is not None and _rank(previous.observed) >= floor:
                    if resolve_after is None:
                        now[identity] = previous
                        continue
                    # NOTE: below the alert level now: what on-call was told about is over.
                    prior = previous.observed.severity
                    changes.append(Change("resolved", item.observed, previous_severity=prior))
                continue
            if previous is None:
                changes.append(Change("new", item.observed))
            elif rank > _rank(previous.observed):
                prior = previous.observed.severity
                event: AlertEvent = "new" if _rank(previous.observed) < floor else "escalated"
                changes.append(Change(event, item.observed, previous_severity=prior))
        for identity, item in before.items():
            if identity in now:
                continue
            if resolve_after is None:
                now[identity] = item
                continue
            absent = item.absent + 1
            if _rank(item.observed) < floor:
                continue
            if absent >= resolve_after:
                changes.append(Change("resolved", item.observed))
            else:
                now[identity] = _Seen(item.observed, absent=absent)
        self.seen[namespace] = now
        return changes

    def due(self, changes: list[Change], *, now: datetime, cooldown: timedelta) -> list[Change]:
        """The changes not sent within ``cooldown`` (the others are suppressed)."""
        return [
            change
            for change in changes
            if (last := self.sent.get(change.key)) is None or now - last >= cooldown
        ]

    def mark_sent(self, change: Change, *, at: datetime) -> None:
        """Note that ``change`` went out."""
        self.sent[change.key] = at

    def forget_sent_before(self, moment: datetime) -> None:
        """Drop send times older than ``moment`` (they no longer suppress anything)."""
        self.sent = {key: at for key, at in self.sent.items() if at >= moment}


def _most_severe(current: list[Observed]) -> dict[str, _Seen]:
    """One observation per identity: the most severe."""
    kept: dict[str, _Seen] = {}
    for observed in current:
        held = kept.get(observed.identity)
        if held is None or _rank(observed) > _rank(held.observed):
            kept[observed.identity] = _Seen(observed)
    return kept


def _rank(observed: Observed) -> int:
    return SEVERITY_RANK.get(observed.severity, 0)
