"""One cycle of every enabled collector, in order: ``tracelens collect --once`` and the Lambda
handler run collection through this one function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tracelens.agent.config import AgentConfig
from tracelens.agent.outcome import CycleOutcome


class Runner(Protocol):
    """Runs one cycle of a collector and never raises (``CollectionRunner``)."""

    def run(self, name: str) -> CycleOutcome:
        """One cycle of collector ``name``."""
        ...


def collect_once(
    config: AgentConfig,
    runner: Runner,
    *,
    on_outcome: Callable[[CycleOutcome], None] | None = None,
    seconds_left: Callable[[], float] | None = None,
    min_seconds: float = 5.0,
) -> list[CycleOutcome]:
    """One cycle of every enabled collector, Lambda configuration first.

    With ``seconds_left`` (a deadline, as in a Lambda function), a collector that would start
    with less than ``min_seconds`` left is not run: it is reported as failed with the reason,
    and its checkpoint has not moved, so the next run reads its window.
    """
    outcomes: list[CycleOutcome] = []
    for settings in config.enabled_collectors:
        left = seconds_left() if seconds_left is not None else None
        if left is not None and left < min_seconds:
            outcome = CycleOutcome(
                collector=settings.name,
                status="failed",
                started_at=datetime.now(UTC),
                error=f"not run: {left:.0f}s left before the deadline; runs next time",
            )
        else:
            outcome = runner.run(settings.name)
        if on_outcome is not None:
            on_outcome(outcome)
        outcomes.append(outcome)
    return outcomes


def once_failure(outcomes: list[CycleOutcome]) -> str | None:
    """Why a one-shot collection should end in failure, or None.

    Every collector failed; or none completed its cycle. One collector partly failing is
    routine: its window is read again next time. A cycle that was "ok" without a single call
    (nothing due, or a destination declared to need no reading) proves nothing about the
    endpoint, so it neither fails the run nor hides that every other collector failed.
    """
    judged = [o for o in outcomes if not (o.status == "ok" and o.stats.api_calls == 0)]
    if judged and all(outcome.failed for outcome in judged):
        return "every collector failed (see the lines above)"
    if judged and all(outcome.status != "ok" for outcome in judged):
        # NOTE: one collector partly failing is routine (its window is read again next time),
        # but when none completed, a scheduler running this must hear about it.
        return (
            "no collector completed its cycle (see the lines above); what was stored is kept "
            "and the rest is read again next time"
        )
    return None


def within_budget(config: AgentConfig, budget: timedelta) -> AgentConfig:
    """``config`` with every enabled collector's timeout at most its share of ``budget``.

    A collector starts no new window after its timeout, so the cycles end in about ``budget``
    (plus the window in progress at each timeout).
    """
    enabled = config.enabled_collectors
    if not enabled:
        return config
    share = max(budget / len(enabled), timedelta(seconds=1))
    collectors = tuple(
        replace(settings, timeout=min(settings.timeout, share)) if settings.enabled else settings
        for settings in config.collectors
    )
    return replace(config, collectors=collectors)
