"""Which windows a collector reads next, and how far back an X-Ray scan reaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.base import Window
from collectors.xray import scan_window as xray_scan_window
from collectors.xray_state import XRayState
from tracelens.agent.windows import pending_windows
from tracelens.durations import format_duration, parse_duration

NOW = datetime(2026, 11, 20, 12, 0, 30, 750_000, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _trace_id(moment: datetime) -> str:
    return f"1-{int(moment.timestamp()):08x}-{'a' * 24}"


def test_a_first_run_covers_the_look_back_in_steps_of_at_most_an_hour() -> None:
    windows = pending_windows(
        checkpoint_end=None,
        now=NOW,
        since=timedelta(hours=2, minutes=30),
        lag=2 * MINUTE,
        step=timedelta(hours=1),
    )
    start = datetime(2026, 11, 20, 9, 30, 30, tzinfo=UTC)  # whole seconds
    end = datetime(2026, 11, 20, 11, 58, 30, tzinfo=UTC)
    assert [w.start for w in windows] == [
        start,
        start + timedelta(hours=1),
        start + timedelta(hours=2),
    ]
    assert windows[-1].end == end
    assert all(w.span <= timedelta(hours=1) for w in windows)


def test_later_runs_start_at_the_checkpoint_and_nothing_is_due_when_caught_up() -> None:
    checkpoint = datetime(2026, 11, 20, 11, 50, tzinfo=UTC)
    (window,) = pending_windows(
        checkpoint_end=checkpoint,
        now=NOW,
        since=timedelta(hours=3),
        lag=5 * MINUTE,
        step=timedelta(hours=1),
    )
    assert window == Window(checkpoint, datetime(2026, 11, 20, 11, 55, 30, tzinfo=UTC))
    assert (
        pending_windows(
            checkpoint_end=NOW,
            now=NOW,
            since=timedelta(hours=3),
            lag=MINUTE,
            step=timedelta(hours=1),
        )
        == ()
    )


def test_an_xray_scan_reaches_back_the_lag_and_to_a_recent_partial_trace() -> None:
    window = Window(NOW - 10 * MINUTE, NOW - 2 * MINUTE)
    plain = xray_scan_window(window, lag=2 * MINUTE, state=XRayState(), now=NOW)
    assert plain == Window(NOW - 12 * MINUTE, window.end)

    partial_start = datetime(2026, 11, 20, 11, 31, 7, tzinfo=UTC)
    stale = NOW - timedelta(hours=2)
    state = XRayState(partial={_trace_id(partial_start): 2, _trace_id(stale): 1})
    scan = xray_scan_window(window, lag=2 * MINUTE, state=state, now=NOW)
    assert scan == Window(partial_start, window.end)  # the stale partial trace is let go


def test_durations_read_as_config_files_write_them() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("250ms") == timedelta(milliseconds=250)
    assert parse_duration(45) == timedelta(seconds=45)
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
    for bad in ("5 minutes", "", "-1s", True, -3):
        try:
            parse_duration(bad)
        except ValueError as exc:
            assert "duration" in str(exc) or "negative" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
