"""The one duration grammar of config files and command-line options.

``90s``, ``5m``, ``1h30m``, ``2d``, ``250ms``, ``1w`` (number-unit parts, summed); a config file
may also give a number of seconds.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w))+\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


MAX_DURATION = timedelta(days=3650)
"""The longest duration accepted anywhere (ten years): longer ones are typing mistakes, and
overflow the date arithmetic done with them."""


class DurationError(ValueError):
    """A value that is not a duration."""


class DurationRangeError(DurationError):
    """A duration in the grammar that is longer than :data:`MAX_DURATION`."""


def parse_duration(value: object) -> timedelta:
    """``value`` as a duration: a string of number-unit parts, or a number of seconds.

    Raises
    ------
    DurationError
        When ``value`` is neither (booleans are refused: ``true`` is not a duration).
    """
    if isinstance(value, bool):
        raise DurationError(f'{value!r} is not a duration; write e.g. "5m" or "90s"')
    if isinstance(value, int | float):
        if math.isnan(value):
            raise DurationError(f'{value!r} is not a duration; write e.g. "5m" or "90s"')
        if value < 0:
            raise DurationError(f"{value!r} is negative; durations are 0 or more")
        return _bounded(value, value)
    if isinstance(value, str) and _WHOLE.match(value):
        seconds = sum(float(n) * _UNIT_S[unit] for n, unit in _PART.findall(value))
        return _bounded(seconds, value)
    raise DurationError(
        f'{value!r} is not a duration; write e.g. "90s", "5m", "1h30m", "2d" or a number of seconds'
    )


def _bounded(seconds: float, written: object) -> timedelta:
    # NOTE: checked before timedelta() sees it: 1e300 s or "99999999999999d" overflow it.
    if not seconds <= MAX_DURATION.total_seconds():
        raise DurationRangeError(
            f"{written!r} is longer than {format_duration(MAX_DURATION)} (the longest duration "
            "accepted)"
        )
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """``span`` the way config files write it (``1h30m``, ``45s``, ``0s``)."""
    total_ms = round(span.total_seconds() * 1000)
    if total_ms % 1000:
        return f"{total_ms}ms"
    seconds = total_ms // 1000
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
