"""The shape of a finding, its thresholds, and vectorized text helpers for the rules."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analyses._output import shaped

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "severity": pl.String(),  # "critical" | "warning" | "info"
    "kind": pl.String(),  # cold_start, invocation_throttle, downstream_throttle, dns, ...
    "subject": pl.String(),  # the function, edge or node concerned
    "message": pl.String(),  # one sentence with the numbers
    "evidence": pl.String(),  # JSON object text of the numbers behind the message
    "recommendation": pl.String(),
    "trace_id": pl.String(),  # an example trace, when known
    "impact": pl.Float64(),  # affected requests or calls: orders findings within a severity
}

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_SEVERITY_OF_LEVEL = {2: "critical", 1: "warning", 0: "info"}


@dataclass(frozen=True)
class Thresholds:
    """Where a measurement becomes a finding; defaults live on ``analyses.findings.findings``."""

    min_invocations: int
    cold_start_rate_warning: float
    cold_start_rate_critical: float
    init_p95_warning_ms: float
    init_p95_critical_ms: float
    large_package_bytes: int
    fault_rate_warning: float
    fault_rate_critical: float
    error_rate_warning: float
    timeouts_critical: int
    downstream_throttle_rate_critical: float
    dns_p95_warning_ms: float
    dns_share_warning: float
    new_connections_per_call_warning: float
    bottleneck_share_warning: float
    bottleneck_share_info: float


def level(warning: pl.Expr, critical: pl.Expr | None = None) -> pl.Expr:
    """0 (nothing), 1 (warning) or 2 (critical) from two conditions; nulls count as false."""
    expr = pl.when(warning.fill_null(value=False)).then(1).otherwise(0)
    if critical is not None:
        expr = pl.when(critical.fill_null(value=False)).then(2).otherwise(expr)
    return expr


def severity_of(level_column: str = "level") -> pl.Expr:
    """The severity name of an integer level (2 critical, 1 warning, 0 info)."""
    return pl.col(level_column).replace_strict(_SEVERITY_OF_LEVEL, return_dtype=pl.String())


def num(column: str | pl.Expr, digits: int = 1) -> pl.Expr:
    """A number as text for messages, ``n/a`` when missing."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.cast(pl.Float64).round(digits).cast(pl.String).fill_null("n/a")


def count(column: str) -> pl.Expr:
    """An integer count as text for messages."""
    return pl.col(column).cast(pl.Int64).cast(pl.String).fill_null("0")


def pct(column: str | pl.Expr) -> pl.Expr:
    """A 0..1 ratio as a percentage text with one decimal, ``n/a`` when missing."""
    expr = pl.col(column) if isinstance(column, str) else column
    return num(expr * 100.0) + pl.lit("%")


def evidence(*columns: str) -> pl.Expr:
    """The named columns as a JSON object text (floats rounded to 3 decimals)."""
    fields = [
        pl.col(c).round(3) if c.endswith(("_ms", "_rate", "_share", "_per_call")) else pl.col(c)
        for c in columns
    ]
    return pl.struct(fields).struct.json_encode()


def finish(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of a rule conformed to ``FINDING_SCHEMA``."""
    return shaped(frame, FINDING_SCHEMA)
