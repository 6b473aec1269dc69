"""Ranked findings with recommendations, from whichever analyses were computed.

Every input is optional, so findings work on partial data (traces without metrics, no DNS
instrumentation...). Rows are ranked by severity (critical, warning, info), then by impact (the
number of affected requests or calls), then by kind and subject.

Thresholds (keyword arguments of :func:`findings`, defaults in brackets)
-------------------------------------------------------------------------
``min_invocations`` [5]
    Rates (cold start, fault, error) and connection reuse need at least this many traced
    invocations (calls): traces are sampled, and a rate over two requests says little.
``cold_start_rate_warning`` / ``_critical`` [0.05 / 0.20]
    User-facing cold starts per traced invocation. Steady traffic usually sees well under 1%;
    5% means environments are recycled or traffic is spiky, 20% means most bursts wait.
``init_p95_warning_ms`` / ``_critical_ms`` [1000 / 3000]
    Init (or restore) p95 of user-facing cold starts: a second is felt by an interactive
    caller; three seconds approaches API Gateway-style client timeouts.
``large_package_bytes`` [10 MB]
    A cold-start finding mentions the package size from this size on.
``fault_rate_warning`` / ``_critical`` [0.01 / 0.05]; ``error_rate_warning`` [0.05]
``timeouts_critical`` [5]
    Any REPORT timeout is a warning; this many is critical.
``downstream_throttle_rate_critical`` [0.05]
    Any throttled downstream call is a warning; this share of a group's calls is critical.
``dns_p95_warning_ms`` [100]; ``dns_share_warning`` [0.10]
    A lookup p95 above 100 ms (a cached lookup takes well under 1 ms, a resolver round trip a
    few ms), or lookups taking 10% of invocation time. Failures are always reported, critical
    for VPC-attached functions (resolver packet limits).
``new_connections_per_call_warning`` [0.5]
    Warm invocations opening a new connection for at least half of their calls.
``bottleneck_share_warning`` / ``_info`` [0.5 / 0.25]
    A node's share of the slowest requests' critical path.
"""

from __future__ import annotations

import polars as pl

from analyses._frames import require_columns
from analyses.bottlenecks import BOTTLENECK_SCHEMA
from analyses.cold_starts import COLD_START_SCHEMA
from analyses.dns import CONNECTION_SETUP_SCHEMA, DNS_SCHEMA
from analyses.downstream_throttles import DOWNSTREAM_THROTTLE_SCHEMA
from analyses.finding_format import FINDING_SCHEMA, SEVERITY_RANK, Thresholds
from analyses.finding_rules_lambda import (
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
)
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.loops import LOOP_SCHEMA
from analyses.throttles import INVOCATION_THROTTLE_SCHEMA

__all__ = ["FINDING_SCHEMA", "findings"]


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
    min_invocations: int = 5,
    cold_start_rate_warning: float = 0.05,
    cold_start_rate_critical: float = 0.20,
    init_p95_warning_ms: float = 1000.0,
    init_p95_critical_ms: float = 3000.0,
    large_package_bytes: int = 10_000_000,
    fault_rate_warning: float = 0.01,
    fault_rate_critical: float = 0.05,
    error_rate_warning: float = 0.05,
    timeouts_critical: int = 5,
    downstream_throttle_rate_critical: float = 0.05,
    dns_p95_warning_ms: float = 100.0,
    dns_share_warning: float = 0.10,
    new_connections_per_call_warning: float = 0.5,
    bottleneck_share_warning: float = 0.5,
    bottleneck_share_info: float = 0.25,
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
    min_invocations, cold_start_rate_warning, ...
        Thresholds: see the module docstring for each default and its reason.

    Returns
    -------
    pl.DataFrame
        ``FINDING_SCHEMA``, most severe and most impactful first; empty when nothing is found.

    Raises
    ------
    ValueError
        When a given frame lacks a column of its schema (the message names the frame).
    """
    t = Thresholds(
        min_invocations=min_invocations,
        cold_start_rate_warning=cold_start_rate_warning,
        cold_start_rate_critical=cold_start_rate_critical,
        init_p95_warning_ms=init_p95_warning_ms,
        init_p95_critical_ms=init_p95_critical_ms,
        large_package_bytes=large_package_bytes,
        fault_rate_warning=fault_rate_warning,
        fault_rate_critical=fault_rate_critical,
        error_rate_warning=error_rate_warning,
        timeouts_critical=timeouts_critical,
        downstream_throttle_rate_critical=downstream_throttle_rate_critical,
        dns_p95_warning_ms=dns_p95_warning_ms,
        dns_share_warning=dns_share_warning,
        new_connections_per_call_warning=new_connections_per_call_warning,
        bottleneck_share_warning=bottleneck_share_warning,
        bottleneck_share_info=bottleneck_share_info,
    )
    table = _checked(functions, FUNCTION_TABLE_SCHEMA, "functions")
    cold = _checked(cold_starts, COLD_START_SCHEMA, "cold_starts")
    throttled = _checked(invocation_throttles, INVOCATION_THROTTLE_SCHEMA, "invocation_throttles")
    downstream = _checked(downstream_throttles, DOWNSTREAM_THROTTLE_SCHEMA, "downstream_throttles")
    lookups = _checked(dns, DNS_SCHEMA, "dns")
    setup = _checked(connection_setup, CONNECTION_SETUP_SCHEMA, "connection_setup")
    slow = _checked(bottlenecks, BOTTLENECK_SCHEMA, "bottlenecks")
    looping = _checked(loops, LOOP_SCHEMA, "loops")

    parts = [pl.DataFrame(schema=FINDING_SCHEMA)]
    if cold is not None:
        parts += [cold_start_findings(cold, table, t), timeout_findings(cold, t)]
    if table is not None:
        parts.append(failure_findings(table, t))
    if throttled is not None:
        parts.append(invocation_throttle_findings(throttled))
    if downstream is not None:
        parts.append(downstream_throttle_findings(downstream, t))
    if lookups is not None:
        parts.append(dns_findings(lookups, t))
    if setup is not None:
        parts.append(connection_findings(setup, t))
    if slow is not None:
        parts.append(bottleneck_findings(slow, t))
    if looping is not None:
        parts.append(loop_findings(looping))
    return _ranked(pl.concat(parts))


def _ranked(frame: pl.DataFrame) -> pl.DataFrame:
    rank = pl.col("severity").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8())
    return frame.sort(
        [rank, pl.col("impact"), pl.col("kind"), pl.col("subject")],
        descending=[False, True, False, False],
        nulls_last=True,
    )
