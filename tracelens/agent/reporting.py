"""Rewriting the HTML report from the store (the agent's report job and the demo)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from analyses.finding_thresholds import FindingSettings
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.inputs import Inputs
from tracelens.rollup import long_window
from tracelens.store import Store, StoreProblem
from tracelens.windowplan import SPAN_WINDOW, plan_windows


class NoDataError(RuntimeError):
    """The store holds nothing for the report's window yet."""


def has_rows(inputs: Inputs) -> bool:
    """True when ``inputs`` hold any segment, log line or datapoint."""
    logs = inputs.logs
    log_rows = logs.reports.height + logs.events.height if logs is not None else 0
    metric_rows = inputs.metrics.height if inputs.metrics is not None else 0
    return bool(inputs.traces.segments or log_rows or metric_rows)


def write_store_report(
    store: Store,
    path: Path,
    *,
    since: timedelta,
    now: datetime,
    title: str | None = None,
    on_result: Callable[[AnalysisResult], None] | None = None,
    findings: FindingSettings | None = None,
    span_window: timedelta = SPAN_WINDOW,
) -> tuple[Path, list[StoreProblem]]:
    """Analyze what the store holds for ``[now - since, now)`` and write the report to ``path``.

    When ``since`` is longer than ``span_window``, only the spans of the last ``span_window``
    are read, and the long-window sections are merged from hourly rollups
    (:func:`tracelens.windowplan.plan_windows`).

    Unreadable store files are skipped and listed among the input's rejections, so the report
    shows them.

    Returns
    -------
    tuple[Path, list[StoreProblem]]
        The file written and the store files that were skipped.

    Raises
    ------
    NoDataError
        When the store has no traces, logs or metrics in the window (nothing is written).

    ``on_result`` is given the analysis once the report is written (the alerts read its
    findings).
    """
    from tracelens.report import write_report  # noqa: PLC0415 - plotly loads only to draw

    plan = plan_windows(now - since, now, now=now, span_window=span_window)
    inputs, problems = store.load_inputs(since=plan.span_since, until=now)
    for problem in problems:
        inputs.side_rejections.add(problem.location, "whole file", f"store file: {problem.reason}")
    merged = long_window(store.backend, plan) if plan.use_rollups else None
    if not has_rows(inputs) and not (merged is not None and merged.held["traces"]):
        raise NoDataError(f"no data in store {store.url} for the last {since}; nothing to report")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = replace(run_analysis(inputs, findings), window_plan=plan, long_window=merged)
    written = write_report(result, path, title=title, generated_at=now)
    if on_result is not None:
        on_result(result)
    return written, problems
