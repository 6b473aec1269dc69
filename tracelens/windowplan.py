"""Which data answers which section of an analysis over a window: spans, or hourly rollups.

The rule (:func:`plan_windows`): with a store, a window longer than the span window
(``[report] span_window``, ``--span-window``; default :data:`SPAN_WINDOW`) is answered from
rollups, over its whole hours, for the sections rollups hold (``long_window`` in the JSON), and
from the spans of its last span window for every other section; any other window is read as
spans only. Nothing here reads data: :func:`tracelens.rollup.long_window` merges the rollups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal


def floor_hour(moment: datetime) -> datetime:
    """``moment`` rounded down to a whole hour (UTC)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole hour (UTC)."""
    floor = floor_hour(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


SPAN_WINDOW = timedelta(days=7)
"""How much of a long window is read as spans by default (``[report] span_window``,
``--span-window``): a window longer than this is answered from rollups for the sections they
hold, and from the spans of its last ``SPAN_WINDOW`` for every other section."""

RollupMode = Literal["auto", "never"]


@dataclass(frozen=True)
class WindowPlan:
    """Which data answers which section of an analysis over ``[since, until)``.

    Attributes
    ----------
    use_rollups
        Whether the long-window sections come from rollups (else every section is from spans,
        over the whole window).
    reason
        Why, in words (shown in the report and the JSON).
    span_since, span_until
        The spans read: every section except the long window's is computed from them.
    rollup_since, rollup_until
        The rollups merged (whole hours: the window rounded out), or None.
    """

    mode: RollupMode
    span_window: timedelta
    use_rollups: bool
    reason: str
    span_since: datetime | None
    span_until: datetime | None
    rollup_since: datetime | None = None
    rollup_until: datetime | None = None


def plan_windows(
    since: datetime | None,
    until: datetime | None,
    *,
    now: datetime,
    span_window: timedelta = SPAN_WINDOW,
    mode: RollupMode = "auto",
    store: bool = True,
) -> WindowPlan:
    """The rule: with a store and ``mode`` auto, a window longer than ``span_window`` is
    answered from rollups (its whole hours) for the sections rollups hold, and from the spans
    of its last ``span_window`` for the others; any other window is read as spans only."""

    def spans_only(reason: str) -> WindowPlan:
        return WindowPlan(mode, span_window, False, reason, since, until)

    if not store:
        return spans_only("the input is files, not a store: every section is from the spans")
    if mode == "never":
        return spans_only("rollups not used (--from-rollups never): every section from spans")
    if since is None:
        return spans_only("no --since: every section is from the spans of the whole store")
    end = until or now
    length = _words(end - since)
    if end - since <= span_window:
        return spans_only(
            f"the window ({length}) is within the span window ({_words(span_window)}): "
            "every section is from the spans"
        )
    return WindowPlan(
        mode,
        span_window,
        True,
        f"the window ({length}) is longer than the span window ({_words(span_window)}): the "
        "long window (totals and a daily trend; entry points, functions, service-map nodes and "
        "edges, DNS, critical-path shares and asynchronous invocations with their percentiles; "
        "the findings) is merged from hourly rollups over "
        "the whole window; every other section (findings with example traces, example traces, "
        f"throttles, cold-start kinds, loops) is from the spans of its last {_words(span_window)}",
        span_since=end - span_window,
        span_until=until,
        rollup_since=floor_hour(since),
        rollup_until=ceil_hour(end),
    )


def _words(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g}d"
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h".replace(".0h", "h")
