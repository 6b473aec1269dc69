"""Rewriting the HTML report from the store (the agent's report job and the demo)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from analyses.finding_thresholds import FindingSettings
from tracelens.agent.targets_report import TargetAnalysis, TargetResult, write_target_reports
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.durations import format_duration
from tracelens.inputs import Inputs
from tracelens.rollup import LongWindow, long_window, long_windows
from tracelens.store import Store, StoreProblem
from tracelens.windowplan import SPAN_WINDOW, plan_windows

DEFAULT_TITLE = "tracelens report"


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
    targets: Sequence[tuple[str, str]] = (),
    on_targets: Callable[[list[TargetResult]], None] | None = None,
) -> tuple[Path, list[StoreProblem]]:
    """Analyze what the store holds for ``[now - since, now)`` and write the report to ``path``.

    When ``since`` is longer than ``span_window``, only the spans of the last ``span_window``
    are read, and the long-window sections are merged from hourly rollups
    (:func:`tracelens.windowplan.plan_windows`).

    With more than one of ``targets`` (account label, region), each target is analyzed on its
    own data and gets its own report next to ``path``; ``path`` is then the page covering them
    all, and ``on_targets`` (not ``on_result``) is given every target's analysis.

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

    if len(targets) > 1:
        return _write_target_reports(
            store,
            path,
            targets,
            since=since,
            now=now,
            title=title,
            findings=findings,
            on_targets=on_targets,
            span_window=span_window,
        )
    plan = plan_windows(now - since, now, now=now, span_window=span_window)
    inputs, problems = store.load_inputs(
        since=plan.span_since, until=now, analysed_columns_only=True
    )
    for problem in problems:
        inputs.side_rejections.add(problem.location, "whole file", f"store file: {problem.reason}")
    merged = long_window(store.backend, plan, None, findings) if plan.use_rollups else None
    if not has_rows(inputs) and not (merged is not None and merged.held["traces"]):
        raise NoDataError(f"no data in store {store.url} for the last {since}; nothing to report")
    path.parent.mkdir(parents=True, exist_ok=True)
    analysed = run_analysis(inputs, findings, lanes=2)  # a store's spans: two lanes pay
    result = replace(analysed, window_plan=plan, long_window=merged)
    written = write_report(result, path, title=title, generated_at=now)
    if on_result is not None:
        on_result(result)
    return written, problems


def _write_target_reports(
    store: Store,
    path: Path,
    targets: Sequence[tuple[str, str]],
    *,
    since: timedelta,
    now: datetime,
    title: str | None,
    findings: FindingSettings | None,
    on_targets: Callable[[list[TargetResult]], None] | None,
    span_window: timedelta,
) -> tuple[Path, list[StoreProblem]]:
    """One report per target with data, then the page covering every target at ``path``.

    Each target's report is from its own data: its spans, and over a window longer than
    ``span_window`` its own rows of the hourly rollups (keyed by account and region) for the
    long-window sections; no other target's rows are in it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    plan = plan_windows(now - since, now, now=now, span_window=span_window)
    # NOTE: one read of the store for every target (its parts hold every target's rows).
    each, problems = store.load_each(
        targets, since=plan.span_since, until=now, analysed_columns_only=True
    )
    # NOTE: and one read of the rollups
    windows = long_windows(store.backend, plan, targets, findings) if plan.use_rollups else {}
    merged: dict[tuple[str, str], LongWindow | None] = {}
    for target in targets:
        for problem in problems:
            each[target].side_rejections.add(
                problem.location, "whole file", f"store file: {problem.reason}"
            )
        window = windows.pop(target, None)
        if has_rows(each[target]) or (window is not None and window.held["traces"]):
            merged[target] = window
        else:
            del each[target]
    if not each:
        raise NoDataError(
            f"no data in store {store.url} for the last {since} in any of "
            f"{len(targets)} targets; nothing to report"
        )

    def analysed() -> Iterator[TargetAnalysis]:
        # NOTE: one target analysed at a time, its inputs and analysis let go of once drawn.
        for account, region in targets:
            if (account, region) not in each:
                yield TargetAnalysis(account, region, None)
                continue
            result = run_analysis(each.pop((account, region)), findings, lanes=2)
            own = merged[(account, region)]
            yield TargetAnalysis(
                account, region, replace(result, window_plan=plan, long_window=own)
            )
            del result

    written, done = write_target_reports(
        path,
        analysed(),
        heading=title or DEFAULT_TITLE,
        window=f"the last {format_duration(since)}",
        generated_at=now,
    )
    if on_targets is not None:
        on_targets(done)
    return written, problems


def stored_targets(
    store: Store, *, since: datetime | None = None, until: datetime | None = None
) -> list[tuple[str, str]]:
    """The (account label, region) pairs the store's run records in ``[since, until)`` name,
    in the order first collected (for a report on a store written by several targets)."""
    records, _ = store.runs(since=since, until=until)
    return list(dict.fromkeys((record.account, record.region) for record in records))
