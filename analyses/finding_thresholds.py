"""Where a measurement becomes a finding: every threshold, declared once with its unit and reason.

:class:`Thresholds` is the only declaration. The finding rules read it, the config file's
``[findings]`` table and the ``--threshold NAME=VALUE`` option of ``analyze``/``report`` set
it (:func:`parse_threshold`), and their ``--help`` lists it (:func:`describe_thresholds`).

Shares are 0..1 ratios of affected requests (or calls) to all requests of the same entry point,
function or call group, so that a rule's severity follows how many users were hurt, not a raw
count of some event.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


def _t(default: float, unit: str, reason: str) -> Any:
    return field(default=default, metadata={"unit": unit, "reason": reason})


@dataclass(frozen=True)
class Thresholds:
    """Every finding threshold; each field's metadata holds its ``unit`` and ``reason``."""

    min_invocations: int = _t(
        5,
        "invocations",
        "Rates (cold start, fault, error, connection reuse) need this many traced invocations "
        "or calls: traces are sampled, and a rate over two requests says little.",
    )
    cold_start_rate_warning: float = _t(
        0.05,
        "share of synchronous invocations",
        "User-facing cold starts per traced synchronous invocation. Steady traffic usually sees "
        "well under 1%; 5% means environments are recycled or traffic is spiky.",
    )
    cold_start_rate_critical: float = _t(
        0.20,
        "share of synchronous invocations",
        "User-facing cold starts per traced synchronous invocation: at 20% most bursts wait for "
        "an init.",
    )
    init_p95_warning_ms: float = _t(
        1000.0,
        "ms",
        "Init (or restore) p95 of user-facing cold starts: a second is felt by an interactive "
        "caller.",
    )
    init_p95_critical_ms: float = _t(
        3000.0,
        "ms",
        "Init p95 of user-facing cold starts: three seconds approaches API Gateway-style client "
        "timeouts.",
    )
    large_package_bytes: int = _t(
        10_000_000, "bytes", "A cold-start finding mentions the package size from this size on."
    )
    fault_rate_warning: float = _t(
        0.01, "share of invocations", "Traced invocations flagged fault (unhandled errors)."
    )
    fault_rate_critical: float = _t(
        0.05, "share of invocations", "Traced invocations flagged fault: one request in twenty."
    )
    error_rate_warning: float = _t(
        0.05, "share of invocations", "Traced invocations flagged error (handled failures)."
    )
    timeout_share_critical: float = _t(
        0.05,
        "share of REPORTed invocations",
        "Any REPORT timeout is a warning; this share of the function's REPORTed invocations "
        "(or of its traced ones when fewer REPORTs were given) is critical.",
    )
    throttle_failed_share_critical: float = _t(
        0.05,
        "share of calls",
        "Any throttled invocation is a warning; calls that failed for good (no retry got "
        "through) making up this share of the calls to the function are critical. Reserved "
        "concurrency 0 (every call refused) is always critical.",
    )
    downstream_throttle_rate_critical: float = _t(
        0.05,
        "share of calls",
        "Any throttled downstream call is a warning; this share of a call group's calls is "
        "critical.",
    )
    dns_p95_warning_ms: float = _t(
        100.0,
        "ms",
        "A lookup p95 above this: a cached lookup takes well under 1 ms, a resolver round "
        "trip a few ms.",
    )
    dns_share_warning: float = _t(
        0.10, "share of invocation time", "Lookups taking this share of invocation time."
    )
    dns_failure_share_critical: float = _t(
        0.05,
        "share of invocations",
        "Any failed lookup is a warning; failures in this share of the invocations that looked "
        "the host up are critical for VPC-attached services (resolver packet limits).",
    )
    new_connections_per_call_warning: float = _t(
        0.5,
        "connections per call",
        "Warm invocations opening a new connection for at least half of their calls.",
    )
    bottleneck_share_warning: float = _t(
        0.5, "share of critical path", "A node's share of the slowest requests' critical path."
    )
    bottleneck_share_info: float = _t(
        0.25, "share of critical path", "A node's share of the slowest requests' critical path."
    )
    event_age_p95_warning_ms: float = _t(
        60_000.0,
        "ms",
        "p95 time asynchronous events waited in Lambda's queue (Dwell Time) before their "
        "first attempt: a minute means the function cannot keep up with its events.",
    )
    async_retry_share_warning: float = _t(
        0.01,
        "share of events",
        "Asynchronous events that needed a second or third attempt (the first one failed).",
    )


@dataclass(frozen=True)
class FindingSettings:
    """Where measurements become findings, and the findings silenced by key
    (``<kind>:<subject>``): what the config file's ``[findings]`` table and the command line
    set."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    silence: tuple[str, ...] = ()


THRESHOLD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Thresholds))


class ThresholdError(ValueError):
    """A threshold name or value that cannot be used (the message says which and why)."""


def threshold_value(name: str, value: object) -> float | int:
    """``value`` checked as the threshold ``name`` (an int field takes whole numbers only).

    Raises
    ------
    ThresholdError
        For an unknown name, a value that is not a number, or a negative value.
    """
    kinds = {f.name: f.type for f in dataclasses.fields(Thresholds)}
    if name not in kinds:
        raise ThresholdError(f"unknown threshold {name!r}; known: {', '.join(THRESHOLD_NAMES)}")
    whole = kinds[name] in (int, "int")
    number: float | int
    if isinstance(value, bool):
        raise ThresholdError(f"threshold {name} must be a number, not {value!r}")
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value) if whole else float(value)
        except ValueError:
            kind = "whole number" if whole else "number"
            raise ThresholdError(f"threshold {name} must be a {kind}, not {value!r}") from None
    else:
        raise ThresholdError(f"threshold {name} must be a number, not {value!r}")
    if whole and not float(number).is_integer():
        raise ThresholdError(f"threshold {name} must be a whole number, not {value!r}")
    if number < 0 or math.isnan(number):
        raise ThresholdError(f"threshold {name} must be 0 or more, not {value!r}")
    return int(number) if whole else float(number)


def parse_threshold(text: str) -> tuple[str, float | int]:
    """``NAME=VALUE`` (as ``--threshold`` takes it) as a checked (name, value) pair.

    Raises
    ------
    ThresholdError
        When the text is not ``NAME=VALUE`` or the name or value is wrong.
    """
    name, sep, value = text.partition("=")
    if not sep:
        raise ThresholdError(f"{text!r} is not NAME=VALUE (e.g. cold_start_rate_critical=0.3)")
    name = name.strip()
    return name, threshold_value(name, value.strip())


def with_overrides(base: Thresholds, overrides: dict[str, float | int]) -> Thresholds:
    """``base`` with the given (already checked) values replaced."""
    values: dict[str, Any] = dict(overrides)
    return dataclasses.replace(base, **values) if values else base


def describe_thresholds(
    thresholds: Thresholds | None = None, *, reasons: bool = False
) -> list[str]:
    """One line per threshold, ``name = value  (unit)``, and ``: reason`` with ``reasons``:
    for ``--help``, ``tracelens.example.toml`` and the README."""
    current = thresholds or Thresholds()
    lines = []
    for f in dataclasses.fields(Thresholds):
        line = f"{f.name} = {getattr(current, f.name)!r}  ({f.metadata['unit']})"
        lines.append(f"{line}: {f.metadata['reason']}" if reasons else line)
    return lines
