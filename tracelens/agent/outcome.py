"""What one collection cycle did: the per-collector line ``collect --once`` prints, and status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from collectors.base import CallStats, CollectorResult
from tracelens.store import PersistReceipt

CycleStatus = Literal["ok", "partial", "failed"]
MAX_LINE_CHARS = 200
_MARKUP = re.compile(r"<[^>]*>")


def one_line(text: str, *, limit: int = MAX_LINE_CHARS) -> str:
    """``text`` on one line without markup, cut at ``limit`` characters.

    An endpoint that lacks an API may answer with an HTML error page, which botocore passes on
    as the error message.
    """
    flat = " ".join(_MARKUP.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class CycleOutcome:
    """One cycle of one collector (possibly several windows).

    Attributes
    ----------
    collector
        ``"lambda"``, ``"xray"``, ``"cloudwatch"`` or ``"logs"``.
    status
        ``"ok"``: every window read completely (or nothing was due); ``"partial"``: data was
        stored but something is to be fetched again (the checkpoint stopped before it);
        ``"failed"``: the cycle stopped on an error, or every call it made failed (nothing
        arrived: an endpoint out of reach is never "ok" nor "partial").
    started_at
        When the cycle started (UTC).
    windows
        Windows stored (1 for the Lambda configuration).
    items
        Normalized rows stored.
    stats
        API usage of every window together.
    duration_s
        Wall time of the cycle.
    error
        Why the cycle failed, or the first failure of a partial one.
    warnings
        Degraded behaviour the collectors reported (deduplicated).
    notes
        Facts the collectors reported, e.g. the mode traces are collected in (deduplicated).
    account, region
        The target collected (empty: not said, the agent's only one).
    """

    collector: str
    status: CycleStatus
    started_at: datetime
    windows: int = 0
    items: int = 0
    stats: CallStats = field(default_factory=CallStats)
    duration_s: float = 0.0
    error: str | None = None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    account: str = ""
    region: str = ""

    @property
    def failed(self) -> bool:
        """True when the cycle stopped on an error."""
        return self.status == "failed"

    @property
    def succeeded(self) -> bool:
        """True when the cycle read everything due and reached its endpoint to do so.

        A cycle with nothing due yet makes no call: it is "ok" but proves nothing about the
        endpoint, so it is no success for health (nor a failure).
        """
        return self.status == "ok" and self.stats.api_calls > 0

    def describe(self) -> str:
        """One line: collector, status, items, API calls, throttles, duration (and the error)."""
        line = (
            f"{self.collector:<10} {self.status:<7} {self.items:>8,} items "
            f"{self.stats.api_calls:>5,} api calls {self.stats.throttles:>4,} throttles "
            f"{self.duration_s:>6.1f}s  {self.windows} window(s)"
        )
        return f"{line}  {one_line(self.error)}" if self.error else line

    def as_json(self) -> dict[str, Any]:
        """The outcome as JSON-ready values (the status file)."""
        return {
            "collector": self.collector,
            "account": self.account or None,
            "region": self.region or None,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "windows": self.windows,
            "items": self.items,
            "api_calls": self.stats.api_calls,
            "throttles": self.stats.throttles,
            "retries": self.stats.retries,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


@dataclass
class Tally:
    """Accumulates the windows of one cycle (never outlives it)."""

    collector: str
    started_at: datetime
    account: str = ""
    region: str = ""
    windows: int = 0
    items: int = 0
    stats: CallStats = field(default_factory=CallStats)
    complete: bool = True
    error: str | None = None
    warnings: dict[str, None] = field(default_factory=dict)
    pages: int = 0
    failures: int = 0
    notes: dict[str, None] = field(default_factory=dict)
    # Days whose span parts the cycle wrote: their rollups are refreshed after it.
    span_days: set[date] = field(default_factory=set)

    def add(self, result: CollectorResult, receipt: PersistReceipt) -> None:
        """Count one stored window."""
        self.windows += 1
        self.items += receipt.items
        self.stats = self.stats + result.stats
        self.pages += len(result.pages)
        self.failures += len(result.failures)
        self.warn(*result.warnings)
        self.notes.update(dict.fromkeys(result.notes))
        if not result.complete:
            self.complete = False
            if self.error is None and result.failures:
                first = result.failures[0]
                self.error = f"{first.api} {first.key}: {first.code}: {first.message}"

    def warn(self, *messages: str) -> None:
        """Note warnings (each once)."""
        self.warnings.update(dict.fromkeys(messages))

    def outcome(self, *, duration_s: float, failed: bool = False) -> CycleOutcome:
        """The outcome so far."""
        if self.failures and not self.pages:
            failed = True  # NOTE: every call failed: nothing was read
        status: CycleStatus = "failed" if failed else ("ok" if self.complete else "partial")
        return CycleOutcome(
            collector=self.collector,
            status=status,
            started_at=self.started_at,
            windows=self.windows,
            items=self.items,
            stats=self.stats,
            duration_s=duration_s,
            error=self.error,
            warnings=tuple(self.warnings),
            notes=tuple(self.notes),
            account=self.account,
            region=self.region,
        )
