"""Which windows a collector reads next: from its checkpoint (or the look-back) to now - lag.

Windows are whole seconds (Logs Insights takes whole seconds; aligned bounds keep consecutive
windows disjoint) and at most ``step`` long, so that the checkpoint advances step by step while
a long gap is filled.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from collectors.base import Window, floor_time
from tracelens.store import XRayState
from tracelens.store.xray_state import trace_start_s

SECOND = timedelta(seconds=1)
# NOTE: a partial trace is looked at again while it is younger than this; after that what
# was stored is kept as it is (X-Ray completes traces within minutes).
PARTIAL_HORIZON = timedelta(hours=1)


def pending_windows(
    *,
    checkpoint_end: datetime | None,
    now: datetime,
    since: timedelta,
    lag: timedelta,
    step: timedelta,
) -> tuple[Window, ...]:
    """Windows from ``checkpoint_end`` (else ``now - since``) to ``now - lag``, each ≤ ``step``.

    Empty when the checkpoint is already at (or past) ``now - lag``.
    """
    end = floor_time(now - lag, SECOND)
    start = checkpoint_end if checkpoint_end is not None else floor_time(now - since, SECOND)
    if end <= start:
        return ()
    return Window(start, end).split(step)


def xray_scan_window(window: Window, *, lag: timedelta, state: XRayState, now: datetime) -> Window:
    """The window to scan for trace summaries when ``window`` is next.

    The scan reaches back ``lag`` before ``window`` (a trace whose segments arrived after the
    last scan ended is found; traces already stored are skipped by their revision), and back to
    the oldest recent partial trace, so that it is fetched again once complete.
    """
    start = window.start - lag
    horizon_s = (now - PARTIAL_HORIZON).timestamp()
    partial_starts = [s for s in _starts(state.partial) if s >= horizon_s]
    if partial_starts:
        oldest = datetime.fromtimestamp(min(partial_starts), UTC)
        start = min(start, floor_time(oldest, SECOND))
    return Window(start, window.end)


def _starts(trace_ids: Iterable[str]) -> list[int]:
    return [s for s in (trace_start_s(trace_id) for trace_id in trace_ids) if s is not None]
