"""The shape of a finding, and vectorized text helpers for the rules."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analyses._output import shaped
from analyses.finding_thresholds import Thresholds

__all__ = [
    "FINDING_SCHEMA",
    "SEVERITY_RANK",
    "Thresholds",
    "count",
    "evidence",
    "finding_rows",
    "finish",
    "level",
    "num",
    "pct",
    "severity_of",
    "share_of",
]

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "severity": pl.String(),  # "critical" | "warning" | "info"
    "kind": pl.String(),  # cold_start, invocation_throttle, downstream_throttle, dns, ...
    "subject": pl.String(),  # the function, edge or node concerned
    "message": pl.String(),  # one sentence with the numbers
    "evidence": pl.String(),  # JSON object text of the numbers behind the message
    "recommendation": pl.String(),
    "trace_id": pl.String(),  # an example trace, when known
    "impact": pl.Float64(),  # = affected, as a float (kept for callers that sort on it)
    # The key that silences this finding (--silence KEY, [findings] silence): "<kind>:<subject>".
    "key": pl.String(),
    # Requests (or calls, or events) the finding is about: one unit across every rule.
    "affected": pl.Int64(),
    # affected / every request of the same entry point, function or call group; null when the
    # whole is unknown.
    "share": pl.Float64(),
}

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_SEVERITY_OF_LEVEL = {2: "critical", 1: "warning", 0: "info"}


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
    """An integer count as text for messages; ``unknown`` when the count is missing (a field
    that was not recorded is not zero)."""
    return pl.col(column).cast(pl.Int64).cast(pl.String).fill_null("unknown")


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
    """Rows of a rule conformed to ``FINDING_SCHEMA``: the rule gives every column but
    ``impact`` and ``key``, which follow from ``affected``, ``kind`` and ``subject``."""
    return shaped(
        frame.with_columns(
            pl.col("affected").cast(pl.Float64).alias("impact"),
            pl.format("{}:{}", "kind", "subject").alias("key"),
        ),
        FINDING_SCHEMA,
    )


def _expr(value: str | pl.Expr) -> pl.Expr:
    return pl.col(value) if isinstance(value, str) else value


def finding_rows(
    frame: pl.DataFrame,
    kind: str,
    *,
    subject: str | pl.Expr,
    message: pl.Expr,
    evidence_of: Sequence[str],
    recommendation: str | pl.Expr,
    affected: str | pl.Expr,
    share: str | pl.Expr,
    trace_id: str | pl.Expr = "example_trace_id",
) -> pl.DataFrame:
    """One finding of ``kind`` per row of ``frame`` (its ``level`` column gives the severity):
    columns are named (``subject``, ``affected``, ``share``, ``trace_id``) or expressions; the
    ``recommendation`` is a text or an expression; ``evidence_of`` names the evidence columns."""
    advice = pl.lit(recommendation) if isinstance(recommendation, str) else recommendation
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit(kind).alias("kind"),
            _expr(subject).alias("subject"),
            message.alias("message"),
            evidence(*evidence_of).alias("evidence"),
            advice.alias("recommendation"),
            _expr(trace_id).alias("trace_id"),
            _expr(affected).alias("affected"),
            _expr(share).alias("share"),
        )
    )


def share_of(part: str | pl.Expr, whole: str | pl.Expr) -> pl.Expr:
    """``part / whole`` as a 0..1 share, null when the whole is unknown or zero."""
    p = pl.col(part) if isinstance(part, str) else part
    w = pl.col(whole) if isinstance(whole, str) else whole
    return pl.when(w > 0).then(p.cast(pl.Float64) / w).otherwise(None)
