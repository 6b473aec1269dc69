"""One alert and how it reads: a title, a text body, and a JSON object.

Finding text comes from trace data (function and service names), which is untrusted: sinks
escape it for their format (Slack's ``&``, ``<``, ``>``); the JSON object carries it as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

AlertEvent = Literal["new", "escalated", "resolved", "stale", "recovered"]

SCHEMA_VERSION = 1
_EVENT_WORDS: dict[str, str] = {
    "new": "new finding",
    "escalated": "finding escalated",
    "resolved": "finding resolved",
    "stale": "collection stale",
    "recovered": "collection recovered",
}
MAX_SUBJECT_CHARS = 100  # SNS's limit for an email subject


@dataclass(frozen=True)
class Alert:
    """Something on-call should hear about.

    Attributes
    ----------
    event
        ``"new"`` (a finding at or above the alert severity appeared), ``"escalated"`` (its
        severity rose), ``"resolved"`` (it is gone), ``"stale"`` (a collector has had no
        success for several intervals), ``"recovered"`` (it succeeded again).
    kind, subject
        The finding's identity (``cold_start`` and the function, say); for collection alerts
        ``collection`` and the collector.
    severity
        The finding's severity now (for ``resolved``: the last one seen).
    previous_severity
        For ``escalated``: the severity before.
    message, recommendation, evidence
        The finding's sentence with its numbers, what to do, and the numbers themselves.
    """

    event: AlertEvent
    kind: str
    subject: str
    severity: str
    message: str
    recommendation: str
    account: str
    region: str
    at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    previous_severity: str | None = None
    trace_id: str | None = None
    report_url: str | None = None

    @property
    def identity(self) -> str:
        """``kind:subject``: what deduplication keys on."""
        return f"{self.kind}:{self.subject}"

    def title(self) -> str:
        """One line: event, severity, kind, subject, account and region (at most 100 chars)."""
        text = (
            f"tracelens {_EVENT_WORDS[self.event]}: {self.severity.upper()} {self.kind} "
            f"{self.subject} ({self.account}, {self.region})"
        )
        flat = " ".join(text.split())
        return flat if len(flat) <= MAX_SUBJECT_CHARS else flat[: MAX_SUBJECT_CHARS - 1] + "…"

    def lines(self) -> list[str]:
        """The body: what, the numbers, what to do, where the report is."""
        what = f"{self.severity} {self.kind} on {self.subject}"
        if self.event == "escalated":
            what = f"{self.kind} on {self.subject} escalated {self.previous_severity} -> " + (
                self.severity
            )
        elif self.event == "resolved" and self.previous_severity:
            what = (
                f"{self.kind} on {self.subject} dropped from {self.previous_severity} to "
                f"{self.severity}, below the alert level"
            )
        elif self.event == "recovered":
            what = f"the {self.subject} collector succeeded again"
        elif self.event == "stale":
            what = f"the {self.subject} collector has had no success for too long"
        elif self.event == "resolved":
            what = f"{self.kind} on {self.subject} ({self.severity}) is no longer found"
        lines = [
            f"{_EVENT_WORDS[self.event]}: {what}",
            f"account {self.account}, region {self.region}, at {_iso(self.at)}",
            self.message,
        ]
        if self.evidence:
            numbers = ", ".join(f"{key}={_number(value)}" for key, value in self.evidence.items())
            lines.append(f"numbers: {numbers}")
        if self.recommendation:
            lines.append(f"recommendation: {self.recommendation}")
        if self.trace_id:
            lines.append(f"example trace: {self.trace_id}")
        lines.append(f"report: {self.report_url or 'unknown (no report written yet)'}")
        return lines

    def text(self) -> str:
        """The body as plain text."""
        return "\n".join(self.lines())

    def as_json(self) -> dict[str, Any]:
        """The alert as JSON-ready values (the webhook's and EventBridge's payload)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "source": "tracelens",
            "event": self.event,
            "identity": self.identity,
            "kind": self.kind,
            "subject": self.subject,
            "severity": self.severity,
            "previous_severity": self.previous_severity,
            "message": self.message,
            "recommendation": self.recommendation,
            "evidence": self.evidence,
            "trace_id": self.trace_id,
            "account": self.account,
            "region": self.region,
            "at": _iso(self.at),
            "report_url": self.report_url,
            "title": self.title(),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "unknown"
    return str(value)
