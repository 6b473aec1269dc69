"""Section renderers: what they select, cap and draw."""

from __future__ import annotations

import dataclasses

import polars as pl

from analyses.compare import (
    compare_edges,
    compare_entry_points,
    compare_findings,
    compare_functions,
)
from analyses.entry_points import ENTRY_POINT_SCHEMA
from analyses.finding_format import FINDING_SCHEMA
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.service_map import EDGE_SCHEMA
from tests.builders.spans import SpanBuilder, frame_of
from tracelens.analysis import AnalysisResult
from tracelens.comparison import Comparison
from tracelens.report.context import RenderContext
from tracelens.report.figures import FigureSet
from tracelens.report.links import ConsoleLinks
from tracelens.report.sections.compare import render_comparison
from tracelens.report.sections.findings import MAX_FINDINGS_SHOWN, render_findings
from tracelens.report.sections.functions_table import render_functions
from tracelens.report.waterfall import span_rows, waterfall_figure


def _ctx(result: AnalysisResult) -> RenderContext:
    return RenderContext(result, FigureSet(), ConsoleLinks("eu-west-1", "given"))


def _comparison_body(
    result: AnalysisResult,
    *,
    entries: tuple[pl.DataFrame, pl.DataFrame] | None = None,
    functions: tuple[pl.DataFrame, pl.DataFrame] | None = None,
) -> str:
    """The comparison section against "yesterday" of these (baseline, now) tables, the other
    tables empty in both windows."""

    def given(
        pair: tuple[pl.DataFrame, pl.DataFrame] | None, schema: dict[str, pl.DataType]
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        empty = frame_of([], schema)
        return pair or (empty, empty)

    comparison = Comparison(
        baseline_window="yesterday",
        entry_points=compare_entry_points(*given(entries, ENTRY_POINT_SCHEMA)),
        functions=compare_functions(*given(functions, FUNCTION_TABLE_SCHEMA)),
        edges=compare_edges(*given(None, EDGE_SCHEMA)),
        findings=compare_findings(*given(None, FINDING_SCHEMA)),
    )
    return render_comparison(_ctx(result), comparison).body


def test_waterfall_nests_children_under_parents_in_start_order() -> None:
    b = SpanBuilder()
    api = b.caller("api", start_s=0.0, duration_ms=500.0)
    inv = b.lambda_invocation(
        "fn",
        start_s=0.1,
        duration_ms=300.0,
        trace_id=api.trace_id,
        parent_id=b.invoke_call(api, "fn", start_s=0.05, duration_ms=400.0),
    )
    b.aws_call(inv, "DynamoDB", "GetItem", resource="t", start_s=0.2, duration_ms=10.0)
    b.aws_call(inv, "S3", "GetObject", resource="b", start_s=0.15, duration_ms=10.0)
    b.span(trace_id=api.trace_id, kind="segment", depth=0, name="DynamoDB", inferred=True,
           parent_id=inv.handler_id, start_s=0.2, duration_ms=10.0)  # fmt: skip
    rows = span_rows(b.frame(), api.trace_id)
    assert [(r["name"], r["level"]) for r in rows] == [
        ("api", 0),
        ("Lambda", 1),
        ("fn", 2),
        ("fn", 3),
        ("Invocation", 4),
        ("S3", 5),
        ("DynamoDB", 5),
    ]  # fmt: skip  (the inferred DynamoDB segment is left out)
    assert rows[0]["offset_ms"] == 0.0 and rows[1]["offset_ms"] == 50.0
    figure = waterfall_figure(rows, {rows[0]["id"], rows[5]["id"]})
    on_path = next(
        t for t in figure.data if t.name == "on the critical path" and t.y[0] is not None
    )
    assert list(on_path.y) == [0, 5] and list(on_path.base) == [0.0, 150.0]
    assert figure.layout.yaxis.ticktext[5] == "\u203a" * 5 + "S3"


def _finding(severity: str, impact: float, subject: str) -> dict[str, object]:
    return {"severity": severity, "kind": "failures", "subject": subject,
            "message": f"{subject} failed", "evidence": '{"fault_rate": 0.25, "p95_ms": 1234.5}',
            "recommendation": "fix it", "trace_id": None, "impact": impact}  # fmt: skip


def test_findings_keep_the_analysis_order_cap_and_fold_info(result: AnalysisResult) -> None:
    # NOTE: in analyses.findings' order (worst first): the report draws it as it is.
    rows = [_finding("critical", 9.0, "c-big"), _finding("critical", 1.0, "c-small")]
    rows += [
        _finding("warning", float(k), f"w{k}") for k in reversed(range(MAX_FINDINGS_SHOWN + 5))
    ]
    rows += [_finding("info", 1.0, f"i{k}") for k in range(3)]
    frame = frame_of(rows, FINDING_SCHEMA)
    section = render_findings(_ctx(dataclasses.replace(result, findings=frame)))
    body = section.body
    assert body.index("c-big") < body.index("c-small") < body.index(f"w{MAX_FINDINGS_SHOWN + 4}")
    assert body.count('<article class="finding') == MAX_FINDINGS_SHOWN
    assert "Showing the first 40 of 47 critical and warning findings." in body
    assert "3 informational finding(s)" in body and "<details" in body
    assert "<dt>fault rate</dt><dd>25.0%</dd>" in body and "<dd>1,234 ms</dd>" in body


def test_functions_table_highlights_trouble(result: AnalysisResult) -> None:
    body = render_functions(_ctx(result)).body
    payments = body[body.index('title="payments"') :]
    payments = payments[: payments.index("</tr>")]
    assert '<td class="num alert" data-sort="20">20</td>' in payments  # throttled attempts
    assert '<td class="num" data-sort="2">2</td>' in payments  # reserved concurrency
    assert body.count("<tr>") == 1 + result.functions.height


def test_the_comparison_shows_a_lower_bound_and_a_rise_it_proves(
    result: AnalysisResult,
) -> None:
    def functions(*rows: tuple[str, int, int]) -> pl.DataFrame:
        return frame_of(
            [
                {"function_name": name, "invocations": 9, "throttled": throttled,
                 "throttled_retries_unknown": unknown}
                for name, throttled, unknown in rows
            ],
            FUNCTION_TABLE_SCHEMA,
        )  # fmt: skip

    base = functions(("bounded", 2, 0), ("exact", 1, 0), ("was-bounded", 4, 1))
    now = functions(("bounded", 5, 3), ("exact", 4, 0), ("was-bounded", 6, 0))
    body = _comparison_body(result, functions=(base, now))
    bounded = body[body.index(">bounded<") : body.index(">exact<")]
    exact = body[body.index(">exact<") : body.index(">was-bounded<")]
    was_bounded = body[body.index(">was-bounded<") :]
    # 2 -> "at least 5": a rise of at least 3, alerted, never an exact +3
    assert "2 → ≥ 5" in bounded and "≥ +3" in bounded and "change unknown" not in bounded
    assert 'class="num alert"' in bounded
    assert 'data-sort="3"' not in bounded
    # "at least 4" -> 6: the baseline may have been higher, nothing is known
    assert "≥ 4 → 6" in was_bounded and "change unknown" in was_bounded
    assert "1 → 4" in exact and "change unknown" not in exact and "≥" not in exact


def test_the_comparison_tells_entry_points_of_one_name_apart_by_type(
    result: AnalysisResult,
) -> None:
    entries = frame_of(
        [
            {"entry": "worker", "entry_type": "event consumer", "requests": 3},
            {"entry": "worker", "entry_type": "other", "requests": 2},
        ],
        ENTRY_POINT_SCHEMA,
    )
    body = _comparison_body(result, entries=(entries, entries))
    assert '>worker <span class="kind">event consumer</span>' in body
    assert '>worker <span class="kind">other</span>' in body
