"""A time the span table holds but Python's datetime cannot (after year 9999) never crashes the
report: it shows as unknown and the data section counts it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import polars as pl
import pytest

from tracelens import analysis
from tracelens.analysis import AnalysisResult, Rankings, run_analysis
from tracelens.contract import to_contract
from tracelens.inputs import load_inputs
from tracelens.report import render_report
from tracelens.report.times import showable

YEAR_10000_S = 253402300800.0
T0 = 1_714_560_000.0  # 2024-05-01


def _documents() -> list[dict[str, object]]:
    def segment(
        trace: str, sid: str, start: float, end: float, **more: object
    ) -> dict[str, object]:
        return {"trace_id": trace, "id": sid, "name": "orders", "start_time": start,
                "end_time": end, "origin": "AWS::Lambda::Function", **more}  # fmt: skip

    ends_late = "1-66318000-0123456789abcdef01234567"
    all_late = "1-66318001-0123456789abcdef01234567"
    throttled = {
        "subsegments": [
            {"id": "b000000000000001", "name": "DynamoDB", "namespace": "aws",
             "start_time": T0 + 0.1, "end_time": T0 + 5, "throttle": True, "error": True,
             "http": {"response": {"status": 400}}, "aws": {"operation": "PutItem"}}
        ]
    }  # fmt: skip
    return [
        segment(ends_late, "a000000000000001", T0, T0 + 10, **throttled),
        segment(all_late, "a000000000000002", T0 + 60, T0 + 61),
        segment("1-66318002-0123456789abcdef01234567", "a000000000000003", T0, T0 + 0.2),
    ]


def _late_result(tmp_path: Path) -> AnalysisResult:
    """The analysis of ``_documents`` with times after year 9999 put into the span table.

    NOTE: ingest refuses such times now; the span table can still hold them (a store written
    before, another producer), so they are put into the frame after loading.
    """
    path = tmp_path / "late.ndjson"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in _documents()))
    inputs = load_inputs([path])
    late = {
        "b000000000000001": (None, 5),
        "a000000000000001": (None, 10),
        "a000000000000002": (60, 61),
    }  # id: seconds after year 10000 (start, end)
    spans = inputs.traces.spans
    for span_id, (start, end) in late.items():
        chosen = pl.col("id") == span_id
        spans = spans.with_columns(
            *(
                pl.when(chosen)
                .then(
                    pl.lit(int((YEAR_10000_S + offset) * 1_000_000)).cast(pl.Datetime("us", "UTC"))
                )
                .otherwise(pl.col(column))
                .alias(column)
                for column, offset in (("start_time", start), ("end_time", end))
                if offset is not None
            )
        )
    traces = dataclasses.replace(inputs.traces, spans=spans)
    return run_analysis(dataclasses.replace(inputs, traces=traces))


def test_a_segment_ending_after_year_9999_is_reported_not_a_crash(tmp_path: Path) -> None:
    result = _late_result(tmp_path)

    page = render_report(result)

    assert "spans have a start or end time after the year 9999" in page
    assert "3 spans have" in page  # two segments and the subsegment
    assert "2024-05-01 10:40:00 UTC" in page  # the window starts where the times can be shown
    to_contract(result)  # the JSON contract already held; it still does


def test_a_report_with_such_times_ranks_its_rows_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The report draws a copy with those times as nulls: only that copy is ranked, not the
    # analysis as well (the rankings were computed twice per report).
    result = _late_result(tmp_path)
    ranked: list[AnalysisResult] = []
    rankings = analysis._rankings

    def counted(each: AnalysisResult) -> Rankings:
        ranked.append(each)
        return rankings(each)

    monkeypatch.setattr(analysis, "_rankings", counted)

    assert "3 spans have" in render_report(result)
    assert len(ranked) == 1
    assert ranked[0] is not result  # the copy drawn, whose window starts where times show
    assert "ranked" not in vars(result)


def test_showable_keeps_a_frame_without_such_times_as_it_is() -> None:
    frame = pl.DataFrame(
        {"t": [0, 253402300800_000000]}, schema={"t": pl.Datetime("us", "UTC")}
    ).with_row_index()
    shown = showable(frame)
    assert shown.get_column("t").null_count() == 1
    assert showable(frame.head(1)).equals(frame.head(1))
