"""Which windows a collector reads next: from its checkpoint (or the look-back) to now - lag.

Windows are whole seconds (Logs Insights takes whole seconds; aligned bounds keep consecutive
windows disjoint) and at most ``step`` long, so that the checkpoint advances step by step while
a long gap is filled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from collectors.base import Window, floor_time

SECOND = timedelta(seconds=1)


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
