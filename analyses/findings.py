"""Ranked findings with recommendations, from whichever analyses were computed.

Every input is optional, so findings work on partial data (traces without metrics, no DNS
instrumentation...). Every finding counts what it is about in one unit, the requests (or calls,
or events) affected, and their share of all requests to the same entry point, function or call
group; severities follow that share, so that one failed lookup in a hundred is a warning while
a function refusing every call is critical. Rows are ranked by severity (critical, warning,
info), then by affected requests, then by share, kind and subject.

Thresholds are declared once, with units and reasons, in
:class:`analyses.finding_thresholds.Thresholds`. A finding is silenced by its ``key``
(``<kind>:<subject>``); silenced findings are left out of the result.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import polars as pl

from analyses._frames import require_columns
from analyses.async_events import ASYNC_SCHEMA
from analyses.bottlenecks import BOTTLENECK_SCHEMA
from analyses.cold_starts import COLD_START_SCHEMA
from analyses.dns import CONNECTION_SETUP_SCHEMA, DNS_SCHEMA
from analyses.downstream_throttles import DOWNSTREAM_THROTTLE_SCHEMA
from analyses.entry_points import ENTRY_TRACE_SCHEMA
from analyses.finding_format import FINDING_SCHEMA, SEVERITY_RANK
from analyses.finding_rules_lambda import (
    THROTTLE_ADVICE,
    async_findings,
    cold_start_findings,
    downstream_throttle_findings,
    failure_findings,
    invocation_throttle_findings,
    timeout_findings,
)
from analyses.finding_rules_network import (
    bottleneck_findings,
    connection_findings,
    dns_findings,
    loop_findings,
    off_path_functions,
)
from analyses.finding_thresholds import Thresholds
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.loops import LOOP_SCHEMA
from analyses.throttles import INVOCATION_THROTTLE_SCHEMA

__all__ = ["FINDING_SCHEMA", "Thresholds", "findings"]


def _checked(
    frame: pl.DataFrame | None, schema: dict[str, pl.DataType], what: str
) -> pl.DataFrame | None:
    if frame is not None:
        require_columns(frame, schema, what=what)
    return frame


def findings(
    *,
    functions: pl.DataFrame | None = None,
    cold_starts: pl.DataFrame | None = None,
    invocation_throttles: pl.DataFrame | None = None,
    downstream_throttles: pl.DataFrame | None = None,
    dns: pl.DataFrame | None = None,
    connection_setup: pl.DataFrame | None = None,
    bottlenecks: pl.DataFrame | None = None,
    loops: pl.DataFrame | None = None,
    async_events: pl.DataFrame | None = None,
    entry_traces: pl.DataFrame | None = None,
    thresholds: Thresholds | None = None,
    silence: Collection[str] = (),
    throttle_advice: Mapping[str, str] = THROTTLE_ADVICE,
) -> pl.DataFrame:
    """Ranked findings over the given analysis results.

    Parameters
    ----------
    functions
        ``analyses.functions.function_table`` (``FUNCTION_TABLE_SCHEMA``).
    cold_starts
        ``analyses.cold_starts.cold_starts`` (``COLD_START_SCHEMA``).
    invocation_throttles, downstream_throttles
        ``analyses.throttles`` results.
    dns, connection_setup
        ``analyses.dns.dns_lookups`` and ``analyses.dns.connection_setup``.
    bottlenecks
        ``analyses.bottlenecks.bottlenecks`` (``BOTTLENECK_SCHEMA``).
    loops
        ``analyses.loops.resource_loops`` (``LOOP_SCHEMA``): loops through the same resources.
    async_events
        ``analyses.async_events.async_events`` (``ASYNC_SCHEMA``).
    entry_traces
        ``analyses.entry_points.entry_traces`` (``ENTRY_TRACE_SCHEMA``): who waited for each
        entry point, so that a bottleneck of one nobody waited for (a queue consumer, an
        asynchronous invocation) is not told as user-facing latency.
    thresholds
        Where measurements become findings; default :class:`Thresholds()`.
    silence
        Keys (``<kind>:<subject>``) of findings to leave out.
    throttle_advice
        The recommendation of an invocation throttle per cause (``"unknown"``: any other).

    Returns
    -------
    pl.DataFrame
        ``FINDING_SCHEMA``, most severe and most impactful first; empty when nothing is found.

    Raises
    ------
    ValueError
        When a given frame lacks a column of its schema (the message names the frame).
    """
    t = thresholds if thresholds is not None else Thresholds()
    table = _checked(functions, FUNCTION_TABLE_SCHEMA, "functions")
    cold = _checked(cold_starts, COLD_START_SCHEMA, "cold_starts")
    throttled = _checked(invocation_throttles, INVOCATION_THROTTLE_SCHEMA, "invocation_throttles")
    downstream = _checked(downstream_throttles, DOWNSTREAM_THROTTLE_SCHEMA, "downstream_throttles")
    lookups = _checked(dns, DNS_SCHEMA, "dns")
    setup = _checked(connection_setup, CONNECTION_SETUP_SCHEMA, "connection_setup")
    slow = _checked(bottlenecks, BOTTLENECK_SCHEMA, "bottlenecks")
    looping = _checked(loops, LOOP_SCHEMA, "loops")
    queued = _checked(async_events, ASYNC_SCHEMA, "async_events")
    entries = _checked(entry_traces, ENTRY_TRACE_SCHEMA, "entry_traces")
    # NOTE: who waits follows the invocation path (analyses.invocations): the rules about
    # latency (cold starts, bottlenecks, DNS, connection setup) lower what nobody waited for.
    off_path = off_path_functions(cold)

    parts = [pl.DataFrame(schema=FINDING_SCHEMA)]
    if cold is not None:
        parts += [cold_start_findings(cold, table, t), timeout_findings(cold, t)]
    if table is not None:
        parts.append(failure_findings(table, t, queued))
    if throttled is not None:
        parts.append(invocation_throttle_findings(throttled, table, t, throttle_advice))
    if downstream is not None:
        parts.append(downstream_throttle_findings(downstream, t))
    if lookups is not None:
        parts.append(dns_findings(lookups, t, off_path))
    if setup is not None:
        parts.append(connection_findings(setup, t, off_path))
    if slow is not None:
        parts.append(bottleneck_findings(slow, t, entries))
    if looping is not None:
        parts.append(loop_findings(looping))
    if queued is not None:
        parts.append(async_findings(queued, t))
    found = pl.concat(parts)
    if silence:
        found = found.filter(~pl.col("key").is_in(list(silence)))
    return _ranked(found)


def _ranked(frame: pl.DataFrame) -> pl.DataFrame:
    rank = pl.col("severity").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8())
    return frame.sort(
        [rank, pl.col("affected"), pl.col("share"), pl.col("kind"), pl.col("subject")],
        descending=[False, True, True, False, False],
        nulls_last=True,
    )
