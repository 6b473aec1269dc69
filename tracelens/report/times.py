"""Times the report cannot show: Python's datetime ends at year 9999, a span table's does not.

A segment may end in year 10000 or later (its ``end_time`` is a float of seconds); polars holds
it, but turning it into a Python ``datetime`` (to print it, or to hand it to plotly) raises
OverflowError. Before drawing, every such value in the frames the report reads is set to null,
which the report shows as unknown, and the data section says how many spans had one (counted
by ``analyses.completeness.unrepresentable_rows``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import polars as pl

from analyses.completeness import representable

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult


def _datetime_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]


def _has_unshowable(frame: pl.DataFrame) -> bool:
    """Whether a row of ``frame`` holds a time Python cannot represent."""
    columns = _datetime_columns(frame)
    if not columns or frame.is_empty():
        return False
    return bool(
        frame.select(~pl.all_horizontal(representable(c) for c in columns)).to_series().any()
    )


def showable(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every time Python cannot represent set to null (the frame itself when
    there is none, so the common case copies nothing)."""
    if not _has_unshowable(frame):
        return frame
    return frame.with_columns(
        pl.when(representable(c)).then(pl.col(c)).otherwise(None).alias(c)
        for c in _datetime_columns(frame)
    )


def showable_result(result: AnalysisResult) -> tuple[AnalysisResult, int]:
    """``result`` with :func:`showable` frames, and how many spans held such a time.

    NOTE: neither ranks ``result`` (``AnalysisResult.ranked``): the report reads the rankings
    of the frames it draws, so a copy made here is ranked once, and ``result`` never.
    """
    spans = result.inputs.traces.spans
    count = result.unrepresentable_spans
    if count == 0 and not any(
        _has_unshowable(getattr(result, f.name))
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
