"""Checking the frames an analysis is given, and shaping its result to the declared schema."""

from __future__ import annotations

import polars as pl

from analyses._frames import require_columns
from tracelens.schema import FUNCTION_SCHEMA, METRIC_SCHEMA, REPORT_SCHEMA, SPAN_SCHEMA


def check_inputs(
    *,
    spans: pl.DataFrame | None = None,
    reports: pl.DataFrame | None = None,
    metrics: pl.DataFrame | None = None,
    functions: pl.DataFrame | None = None,
) -> None:
    """Raise ``ValueError`` naming the frame and its missing columns, for each frame given."""
    for frame, schema, what in (
        (spans, SPAN_SCHEMA, "spans"),
        (reports, REPORT_SCHEMA, "reports"),
        (metrics, METRIC_SCHEMA, "metrics"),
        (functions, FUNCTION_SCHEMA, "functions"),
    ):
        if frame is not None:
            require_columns(frame, schema, what=what)


def shaped(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``frame``'s columns of ``schema``, in its order and types.

    Unlike ``tracelens.schema.conform`` a missing column is an error, not a null column: an
    analysis that forgot to compute one should fail its tests.
    """
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
