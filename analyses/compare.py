"""A window compared with a baseline window: per entry point, function and edge, and findings.

Each table joins the two windows' rows on their key; a row present in only one window has
``status`` ``"new"`` (only now) or ``"gone"`` (only in the baseline) and null measures for the
other window (unknown, not zero). Error rates count errors and faults over requests, calls or
invocations. Rows are ordered by the rise in error rate, then the rise in p95, largest first.

A function's throttled count is a lower bound when some of its throttled calls record no
``retries`` field (``throttled_retries_unknown`` above 0): each side keeps that count of calls
(``throttled_retries_unknown_base``/``_now``), and ``throttled_change`` is null when either
side is a lower bound (the difference is then not known; entry points and edges count exactly).
Where only the current side is a lower bound, ``throttled_change_at_least`` is now - base: the
change is at least that (2 -> "at least 5" rose by at least 3); null wherever the baseline is a
lower bound (its true count may be any higher) or the change is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analyses._frames import require_columns
from analyses.entry_points import ENTRY_POINT_SCHEMA
from analyses.finding_format import FINDING_SCHEMA
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.service_map import EDGE_SCHEMA

MEASURES = ("requests", "error_rate", "p95_ms", "cold_starts", "throttled")
_COUNTS = ("requests", "cold_starts", "throttled")
FINDING_CHANGE_SCHEMA: dict[str, pl.DataType] = {
    "status": pl.String(),  # "new" | "gone" | "still"
    "severity": pl.String(),  # now, else in the baseline
    "kind": pl.String(),
    "subject": pl.String(),
    "message": pl.String(),
}


_BOUND = "throttled_retries_unknown"
"""Of the throttled calls, those recording no ``retries`` field: the count is a lower bound."""


def change_schema(keys: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The columns of a comparison keyed by ``keys``: each measure ``_base`` and ``_now``,
    then each measure's ``_change`` (now - base; null when either is unknown, or the throttled
    count of either is a lower bound), ``throttled_change_at_least`` (a lower bound of the
    throttled change where only the current count is a lower bound), then
    ``throttled_retries_unknown`` of each side."""
    measures = {
        f"{m}_{side}": pl.Int64() if m in _COUNTS else pl.Float64()
        for m in MEASURES
        for side in ("base", "now", "change")
    }
    bounds = {f"{_BOUND}_{side}": pl.Int64() for side in ("base", "now")}
    at_least = {"throttled_change_at_least": pl.Int64()}
    return {**keys, "status": pl.String(), **measures, **at_least, **bounds}


@dataclass(frozen=True)
class _Scope:
    schema: dict[str, pl.DataType]
    keys: dict[str, pl.DataType]
    measures: dict[str, pl.Expr]
    throttled_retries_unknown: pl.Expr


def _rate(failed: tuple[str, ...], total: str) -> pl.Expr:
    count = pl.sum_horizontal(pl.col(c).fill_null(0) for c in failed)
    return pl.when(pl.col(total) > 0).then(count / pl.col(total))


def _status(base_column: str, now_column: str, *, both: str) -> pl.Expr:
    """A joined row's status: ``"new"`` where ``base_column`` is null (the row is only in the
    current window), ``"gone"`` where ``now_column`` is null (only in the baseline), else
    ``both``."""
    return (
        pl.when(pl.col(base_column).is_null())
        .then(pl.lit("new"))
        .when(pl.col(now_column).is_null())
        .then(pl.lit("gone"))
        .otherwise(pl.lit(both))
    )


def _scope(
    schema: dict[str, pl.DataType],
    keys: tuple[str, ...],
    *,
    requests: str,
    p95_ms: str,
    cold_starts: str | None,
    throttled: str,
    throttled_retries_unknown: str | None = None,
) -> _Scope:
    """A table's key columns and the columns holding each measure (none: unknown); its error
    rate is errors and faults over ``requests``; ``throttled`` is a lower bound where
    ``throttled_retries_unknown`` is above 0 (none: an exact count)."""
    return _Scope(
        schema,
        {key: schema[key] for key in keys},
        {
            "requests": pl.col(requests),
            "error_rate": _rate(("errors", "faults"), requests),
            "p95_ms": pl.col(p95_ms),
            "cold_starts": pl.lit(None, pl.Int64) if cold_starts is None else pl.col(cold_starts),
            "throttled": pl.col(throttled),
        },
        pl.lit(0, pl.Int64)
        if throttled_retries_unknown is None
        else pl.col(throttled_retries_unknown).fill_null(0),
    )


_ENTRY = _scope(
    ENTRY_POINT_SCHEMA,
    ("entry", "entry_type"),
    requests="requests",
    p95_ms="p95_ms",
    cold_starts="cold_start_requests",
    throttled="throttled",
)
_FUNCTION = _scope(
    FUNCTION_TABLE_SCHEMA,
    ("function_name",),
    requests="invocations",
    p95_ms="duration_p95_ms",
    cold_starts="cold_starts",
    throttled="throttled",
    throttled_retries_unknown="throttled_retries_unknown",
)
_EDGE = _scope(
    EDGE_SCHEMA,
    ("source", "source_type", "target", "target_type"),
    requests="calls",
    p95_ms="p95_ms",
    cold_starts=None,
    throttled="throttles",
)


def _compare(scope: _Scope, baseline: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    require_columns(baseline, scope.schema, what="baseline")
    require_columns(current, scope.schema, what="current")
    keys = list(scope.keys)

    def side(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
        return frame.select(
            *keys,
            pl.lit(value=True).alias(f"in_{suffix}"),
            *(expr.alias(f"{name}_{suffix}") for name, expr in scope.measures.items()),
            scope.throttled_retries_unknown.alias(f"{_BOUND}_{suffix}"),
        )

    joined = side(baseline, "base").join(
        side(current, "now"), on=keys, how="full", coalesce=True, nulls_equal=True
    )
    status = _status("in_base", "in_now", both="both")
    rise = (pl.col("error_rate_now") - pl.col("error_rate_base")).fill_null(0.0)
    slower = (pl.col("p95_ms_now") - pl.col("p95_ms_base")).fill_null(0.0)
    schema = change_schema(scope.keys)
    changes = [(pl.col(f"{m}_now") - pl.col(f"{m}_base")).alias(f"{m}_change") for m in MEASURES]
    # NOTE: "at least N" on either side: the difference is not known (unknown is not zero)
    base_bounded = (pl.col(f"{_BOUND}_base") > 0).fill_null(value=False)
    now_bounded = (pl.col(f"{_BOUND}_now") > 0).fill_null(value=False)
    difference = pl.col("throttled_now") - pl.col("throttled_base")
    changes[MEASURES.index("throttled")] = (
        pl.when(~base_bounded & ~now_bounded).then(difference).alias("throttled_change")
    )
    # only "now" is a lower bound: its true count is at least it, so the change at least this
    changes.append(
        pl.when(~base_bounded & now_bounded).then(difference).alias("throttled_change_at_least")
    )
    ordered = joined.with_columns(status.alias("status"), *changes).sort(
        [rise, slower, *keys], descending=[True, True, *([False] * len(keys))], nulls_last=True
    )
    return ordered.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def compare_entry_points(baseline: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """``analyses.entry_points.entry_points`` of two windows, side by side."""
    return _compare(_ENTRY, baseline, current)


def compare_functions(baseline: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """``analyses.functions.function_table`` of two windows, side by side."""
    return _compare(_FUNCTION, baseline, current)


def compare_edges(baseline: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """``analyses.service_map.service_map_edges`` of two windows, side by side."""
    return _compare(_EDGE, baseline, current)


def compare_findings(baseline: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Findings new in the current window, gone since the baseline, or still there, matched by
    (kind, subject); ``FINDING_CHANGE_SCHEMA``, new first, then gone, then still."""
    require_columns(baseline, FINDING_SCHEMA, what="baseline")
    require_columns(current, FINDING_SCHEMA, what="current")
    keys = ["kind", "subject"]
    base = baseline.select(*keys, "severity", "message").unique(keys, keep="first")
    now = current.select(*keys, "severity", "message").unique(keys, keep="first")
    joined = base.join(now, on=keys, how="full", coalesce=True, suffix="_now", nulls_equal=True)
    status = _status("severity", "severity_now", both="still")
    order = pl.col("status").replace_strict({"new": 0, "gone": 1, "still": 2}, default=3)
    return (
        joined.with_columns(
            status.alias("status"),
            pl.coalesce("severity_now", "severity").alias("severity"),
            pl.coalesce("message_now", "message").alias("message"),
        )
        .sort([order, "kind", "subject"], nulls_last=True)
        .select(pl.col(n).cast(t) for n, t in FINDING_CHANGE_SCHEMA.items())
    )
