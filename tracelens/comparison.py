"""The current analysis against a baseline one (``report --baseline-since/--baseline-until``)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analyses.compare import (
    compare_edges,
    compare_entry_points,
    compare_findings,
    compare_functions,
)
from tracelens.analysis import AnalysisResult


@dataclass(frozen=True)
class Comparison:
    """Per entry point, function and edge, the baseline's measures beside the current ones
    (``analyses.compare``), the findings new, gone or still there, and the baseline's window."""

    baseline_window: str
    entry_points: pl.DataFrame
    functions: pl.DataFrame
    edges: pl.DataFrame
    findings: pl.DataFrame


def compare_results(
    baseline: AnalysisResult, current: AnalysisResult, *, baseline_window: str
) -> Comparison:
    return Comparison(
        baseline_window=baseline_window,
        entry_points=compare_entry_points(baseline.entry_points, current.entry_points),
        functions=compare_functions(baseline.functions, current.functions),
        edges=compare_edges(baseline.service_edges, current.service_edges),
        findings=compare_findings(baseline.findings, current.findings),
    )
