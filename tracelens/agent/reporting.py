"""Rewriting the HTML report from the store (the agent's report job and the demo)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from analyses.finding_thresholds import FindingSettings
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.inputs import Inputs
from tracelens.store import Store, StoreProblem


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
) -> tuple[Path, list[StoreProblem]]:
    """Analyze what the store holds for ``[now - since, now)`` and write the report to ``path``.

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

    inputs, problems = store.load_inputs(since=now - since, until=now)
    for problem in problems:
        inputs.side_rejections.add(problem.location, "whole file", f"store file: {problem.reason}")
    if not has_rows(inputs):
        raise NoDataError(f"no data in store {store.url} for the last {since}; nothing to report")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = run_analysis(inputs, findings)
    written = write_report(result, path, title=title, generated_at=now)
    if on_result is not None:
        on_result(result)
    return written, problems
