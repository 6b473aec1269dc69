"""Time windows given on the command line: a duration back from now (``6h``, ``1h30m``, in the
grammar of :mod:`tracelens.durations`, as config files write them) or ISO 8601 timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tracelens.durations import DurationError, DurationRangeError, parse_duration


def format_instant(moment: datetime) -> str:
    """``2026-11-20T09:00:00Z``: a moment in UTC, to the second, for messages."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


class TimeWindowError(ValueError):
    """A --since/--until value that is neither a duration nor a timestamp."""


def parse_instant(text: str, *, now: datetime) -> datetime:
    """``6h`` means six hours before ``now``; anything else must be an ISO 8601 timestamp."""
    try:
        return now - parse_duration(text.strip())
    except DurationRangeError as exc:
        raise TimeWindowError(str(exc)) from exc
    except DurationError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise TimeWindowError(
            f"{text!r} is not a duration (like 30m, 6h, 1h30m, 2d) or an ISO 8601 time "
            "(like 2026-11-20T09:00:00Z)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TimeWindow:
    """A half-open interval [start, end); either side may be open."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(
        cls, since: str | None, until: str | None, *, now: datetime | None = None
    ) -> TimeWindow:
        moment = now or datetime.now(UTC)
        start = parse_instant(since, now=moment) if since else None
        end = parse_instant(until, now=moment) if until else None
        if start and end and start >= end:
            raise TimeWindowError(f"--since ({format_instant(start)}) is not before --until")
        return cls(start, end)

    @property
    def is_open(self) -> bool:
        return self.start is None and self.end is None

    def describe(self) -> str:
        """Which start times the window keeps, to follow "starting" in messages:
        ``in [A, B)``, ``at or after A``, ``before B`` (``at any time`` when open)."""
        if self.start is not None and self.end is not None:
            return f"in [{format_instant(self.start)}, {format_instant(self.end)})"
        if self.start is not None:
            return f"at or after {format_instant(self.start)}"
        if self.end is not None:
            return f"before {format_instant(self.end)}"
        return "at any time"
