"""One cycle of every enabled collector of every target, in order: ``tracelens collect --once``
and the Lambda handler run collection through this one function."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tracelens.agent.config import AgentConfig, Target
from tracelens.agent.outcome import CycleOutcome


class Runner(Protocol):
    """Runs one cycle of a collector and never raises (``CollectionRunner``)."""

    def run(self, name: str) -> CycleOutcome:
        """One cycle of collector ``name``."""
        ...


def collect_once(
    config: AgentConfig,
    runner: Runner | Sequence[Runner],
    *,
    on_outcome: Callable[[CycleOutcome], None] | None = None,
    on_target: Callable[[Target], None] | None = None,
    seconds_left: Callable[[], float] | None = None,
    min_seconds: float = 5.0,
) -> list[CycleOutcome]:
    """One cycle of every enabled collector of each runner's target, Lambda configuration
    first; the targets one after the other (a failing one never stops the next).

    With ``seconds_left`` (a deadline, as in a Lambda function), a collector that would start
    with less than ``min_seconds`` left is not run: it is reported as failed with the reason,
    and its checkpoint has not moved, so the next run reads its window. ``on_target`` is told
    of each target before its collectors run.
    """
    runners = list(runner) if isinstance(runner, Sequence) else [runner]
    outcomes: list[CycleOutcome] = []
    for each in runners:
        target = config.target_of(each)
        if on_target is not None:
            on_target(target)
        for name in target.collectors:
            left = seconds_left() if seconds_left is not None else None
            if left is not None and left < min_seconds:
                outcome = CycleOutcome(
                    collector=name,
                    status="failed",
                    started_at=datetime.now(UTC),
                    error=f"not run: {left:.0f}s left before the deadline; runs next time",
                    account=target.account,
                    region=target.region,
                )
            else:
                outcome = each.run(name)
            if on_outcome is not None:
                on_outcome(outcome)
            outcomes.append(outcome)
    return outcomes


def failed_targets(outcomes: list[CycleOutcome]) -> list[str]:
    """``<label>/<region>`` of each target whose every collector that made a call failed (in
    the order collected), when the outcomes are of more than one target."""
    by_target: dict[str, list[CycleOutcome]] = {}
    for outcome in outcomes:
        by_target.setdefault(f"{outcome.account}/{outcome.region}", []).append(outcome)
    if len(by_target) < 2:
        return []
    return [key for key, mine in by_target.items() if _all_failed(mine)]


def _judged(outcomes: list[CycleOutcome]) -> list[CycleOutcome]:
    """The outcomes that say something of the endpoint: not "ok" without a single call."""
    return [o for o in outcomes if not (o.status == "ok" and o.stats.api_calls == 0)]


def _all_failed(outcomes: list[CycleOutcome]) -> bool:
    judged = _judged(outcomes)
    return bool(judged) and all(outcome.failed for outcome in judged)


def once_failure(outcomes: list[CycleOutcome]) -> str | None:
    """Why a one-shot collection should end in failure, or None.

    Every collector failed; or none completed its cycle; or, with several targets, every
    collector of one target failed while the others were collected (a partial success: what they
    read is stored). One collector partly failing is routine: its window is read again next
    time. A cycle that was "ok" without a single call (nothing due, or a destination declared
    to need no reading) proves nothing about the endpoint, so it neither fails the run nor
    hides that every other collector failed.
    """
    failing = failed_targets(outcomes)
    keys = {f"{outcome.account}/{outcome.region}" for outcome in outcomes}
    if failing and len(failing) < len(keys):
        return (
            f"{len(failing)} of {len(keys)} targets failed: {', '.join(failing)} (see the lines "
            "above); the other targets were collected and stored"
        )
    if _all_failed(outcomes):
        return "every collector failed (see the lines above)"
    judged = _judged(outcomes)
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
    cycles = len(enabled)
    if config.targets:
        # NOTE: every target's collectors run one after the other within the budget.
        cycles = max(sum(len(target.collectors) for target in config.collect_targets()), 1)
    share = max(budget / cycles, timedelta(seconds=1))
    collectors = tuple(
        replace(settings, timeout=min(settings.timeout, share)) if settings.enabled else settings
        for settings in config.collectors
    )
    return replace(config, collectors=collectors)
