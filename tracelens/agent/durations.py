"""The duration grammar lives in :mod:`tracelens.durations` (shared with the command line)."""

from __future__ import annotations

from tracelens.durations import DurationError, format_duration, parse_duration

__all__ = ["DurationError", "format_duration", "parse_duration"]
