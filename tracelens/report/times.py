"""Times the report cannot show: Python's datetime ends at year 9999, a span table's does not.

A segment may end in year 10000 or later (its ``end_time`` is a float of seconds); polars holds
it, but turning it into a Python ``datetime`` (to print it, or to hand it to plotly) raises
OverflowError. Before drawing, every such value in the frames the report reads is set to null,
which the report shows as unknown, and the data section says how many spans had one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult

# Microseconds since 1970 of datetime(1, 1, 1) and of datetime(9999, 12, 31, 23, 59, 59, 999999).
FIRST_US = -62_135_596_800_000_000
LAST_US = 253_402_300_799_999_999


def _showable(column: str) -> pl.Expr:
    epoch = pl.col(column).dt.epoch("us")
    return epoch.is_between(FIRST_US, LAST_US) | epoch.is_null()


def _datetime_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]


def unshowable_rows(frame: pl.DataFrame) -> int:
    """How many rows of ``frame`` hold a time Python cannot represent."""
    columns = _datetime_columns(frame)
    if not columns or frame.is_empty():
        return 0
    bad = ~pl.all_horizontal([_showable(c) for c in columns])
    return int(frame.select(bad.sum()).item())


def showable(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every time Python cannot represent set to null (the frame itself when
    there is none, so the common case copies nothing)."""
    if unshowable_rows(frame) == 0:
        return frame
    return frame.with_columns(
        pl.when(_showable(c)).then(pl.col(c)).otherwise(None).alias(c)
        for c in _datetime_columns(frame)
    )


def showable_result(result: AnalysisResult) -> tuple[AnalysisResult, int]:
    """``result`` with :func:`showable` frames, and how many spans held such a time."""
    spans = result.inputs.traces.spans
    count = unshowable_rows(spans)
    if count == 0 and not any(
        unshowable_rows(getattr(result, f.name))
        for f in dataclasses.fields(result)
        if isinstance(getattr(result, f.name), pl.DataFrame)
    ):
        return result, 0
    traces = dataclasses.replace(result.inputs.traces, spans=showable(spans))
    frames: dict[str, Any] = {
        f.name: showable(value)
        for f in dataclasses.fields(result)
        if isinstance(value := getattr(result, f.name), pl.DataFrame)
    }
    inputs = dataclasses.replace(result.inputs, traces=traces)
    return dataclasses.replace(result, inputs=inputs, **frames), count
