"""--since/--until values and how messages name the window they make."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracelens.timewindow import TimeWindow, TimeWindowError

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_durations_count_back_from_now_and_timestamps_are_utc() -> None:
    window = TimeWindow.parse("6h", "2026-11-20T11:30:00", now=NOW)
    assert window.start == datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 20, 11, 30, tzinfo=UTC)
    assert TimeWindow.parse("90m", None, now=NOW).start == datetime(
        2026, 11, 20, 10, 30, tzinfo=UTC
    )
    assert TimeWindow.parse(None, None, now=NOW).is_open


@pytest.mark.parametrize(
    ("since", "until", "said"),
    [
        ("2h", "1h", "in [2026-11-20T10:00:00Z, 2026-11-20T11:00:00Z)"),
        ("2h", None, "at or after 2026-11-20T10:00:00Z"),
        (None, "2026-11-20T09:00:00+01:00", "before 2026-11-20T08:00:00Z"),
        (None, None, "at any time"),
    ],
)
def test_the_window_reads_after_starting(since: str | None, until: str | None, said: str) -> None:
    assert TimeWindow.parse(since, until, now=NOW).describe() == said


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [("yesterday", None, "is not a duration"), ("1h", "2h", "is not before --until")],
)
def test_bad_windows_say_what_is_wrong(since: str, until: str | None, message: str) -> None:
    with pytest.raises(TimeWindowError, match=message):
        TimeWindow.parse(since, until, now=NOW)
