"""``tracelens report``: the self-contained on-call HTML report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from analyses.finding_thresholds import FindingSettings
from tracelens.cli.loading import (
    Analyses,
    InputOptions,
    LoadedTargets,
    load_and_analyze,
    load_targets,
    target_analyses,
)
from tracelens.cli.options import (
    THRESHOLDS_EPILOG,
    export_dir,
    finding_settings,
    out_file,
    quiet,
    trace_inputs,
    write_export,
)
from tracelens.cli.progress import Progress

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tracelens.agent.targets_report import TargetAnalysis
    from tracelens.analysis import AnalysisResult
    from tracelens.comparison import Comparison


@click.command(epilog=THRESHOLDS_EPILOG)
@trace_inputs(
    store_help="Report on what `tracelens collect`/`agent` stored there instead of PATHs."
)
@out_file(default=Path("tracelens-report.html"), help="Where to write the HTML file.")
@click.option("--title", help="Title shown at the top of the report.")
@click.option("--region", help="AWS region for X-Ray console links (default: from the traces).")
@click.option("--cdn", is_flag=True, help="Link plotly.js from its CDN instead of embedding it.")
@click.option("--open", "open_browser", is_flag=True, help="Open the report in a browser.")
@finding_settings()
@click.option(
    "--baseline-since",
    metavar="WHEN",
    help="Compare with the traces of a baseline window starting then (same forms as --since): "
    "the change per entry point, function and edge, and findings new or gone.",
)
@click.option("--baseline-until", metavar="WHEN", help="End of the baseline window.")
@export_dir()
@quiet()
def report(
    sources: InputOptions,
    findings: FindingSettings,
    out: Path,
    title: str | None,
    region: str | None,
    cdn: bool,
    open_browser: bool,
    baseline_since: str | None,
    baseline_until: str | None,
    export_to: Path | None,
    quiet: bool,
) -> None:
    """Write one HTML report: findings first, then the service map, throttles, cold starts,
    VPC DNS latency, bottlenecks and a per-function table.

    PATH takes the same inputs as `tracelens analyze`; with --store, no PATH is needed. The
    file works offline. A store written by several targets ([[targets]]) gets one report per
    account and region next to --out, and at --out a page covering them all.
    """
    from tracelens.report import write_report  # plotly loads only when a report is drawn
    from tracelens.report.links import is_region_name

    if region is not None and not is_region_name(region):
        raise click.BadParameter(
            f"{region!r} is not an AWS region name such as eu-west-1", param_hint="--region"
        )

    compare = baseline_since is not None or baseline_until is not None
    baseline_window = _baseline_window(baseline_since, baseline_until) if compare else ""
    progress = Progress(quiet=quiet)
    analyzed = target_analyses(sources, progress, findings)
    if len(analyzed) > 1:
        baseline = (baseline_since, baseline_until, baseline_window) if compare else None
        written = _report_targets(
            analyzed, sources, out, title, region, cdn, baseline, progress, findings, export_to
        )
        click.echo(str(written))
        if open_browser:
            click.launch(str(written))
        return
    ((_, result),) = analyzed
    comparison = None
    if compare:
        baseline = (baseline_since, baseline_until, baseline_window)
        comparison = _compare(sources, baseline, result, progress, findings)
    progress.stage("drawing the report")
    try:
        written = write_report(
            result, out, title=title, cdn=cdn, region=region, comparison=comparison
        )
    except OSError as exc:  # the directory went away, the disk is full...
        raise click.ClickException(str(exc)) from exc
    progress.done(f"wrote report {written}")
    write_export(result, export_to, progress)
    click.echo(str(written))
    if open_browser:
        click.launch(str(written))


def _report_targets(
    analyzed: Analyses,
    sources: InputOptions,
    out: Path,
    title: str | None,
    region: str | None,
    cdn: bool,
    baseline: _Baseline | None,
    progress: Progress,
    findings: FindingSettings,
    export_to: Path | None,
) -> Path:
    """A store of several targets: one report per target next to ``out``, each on its own
    data (and compared with its own data over the ``baseline`` window, if given), and at
    ``out`` the page covering them all (findings and functions with account and region).

    The targets are analysed one at a time, each drawn (and exported to ``export_to``) and
    let go of before the next: the page keeps only each target's summary."""
    from datetime import UTC, datetime

    from tracelens.agent.targets_report import write_target_reports
    from tracelens.timewindow import TimeWindow

    baselines = None
    if baseline is not None:
        since, until, _ = baseline
        targets = [target for target in analyzed.targets if target is not None]
        progress.stage("loading the baseline")
        window = replace(sources, since=since, until=until)
        baselines = load_targets(window, targets, progress, findings)
        baselines.require_every()  # NOTE: as one target's: nothing to compare with
    progress.stage(f"drawing the reports of {len(analyzed)} targets")
    try:
        written, _ = write_target_reports(
            out,
            _each_target(analyzed, baselines, baseline, progress, findings, export_to),
            heading=title or "tracelens report",
            window="traces starting " + TimeWindow.parse(sources.since, sources.until).describe(),
            generated_at=datetime.now(UTC),
            region=region,
            cdn=cdn,
        )
    except OSError as exc:  # the directory went away, the disk is full...
        raise click.ClickException(str(exc)) from exc
    progress.done(f"wrote {len(analyzed)} target reports and {written}")
    return written


def _each_target(
    analyzed: Analyses,
    baselines: LoadedTargets | None,
    baseline: _Baseline | None,
    progress: Progress,
    findings: FindingSettings,
    export_to: Path | None,
) -> Iterator[TargetAnalysis]:
    """Each target's analysis to draw, made when the previous one is drawn (and released)."""
    from tracelens.agent.targets_report import TargetAnalysis
    from tracelens.comparison import compare_results

    for target, result in analyzed:
        assert target is not None  # NOTE: several analyses are a store's targets
        account, own_region = target
        comparison = None
        if baselines is not None and baseline is not None:
            progress.stage(f"analyzing the baseline of {account} ({own_region})")
            before = baselines.analyze(target, findings)
            comparison = compare_results(before, result, baseline_window=baseline[2])
            del before
        if export_to is not None:
            write_export(result, export_to / "-".join(target), progress)
        yield TargetAnalysis(account, own_region, result, comparison)
        del result, comparison  # NOTE: drawn: released before the next target is analysed


# The baseline window: --baseline-since, --baseline-until and the window in words.
_Baseline = tuple[str | None, str | None, str]


def _compare(
    sources: InputOptions,
    baseline: _Baseline,
    result: AnalysisResult,
    progress: Progress,
    findings: FindingSettings,
) -> Comparison:
    """The same inputs analyzed over the ``baseline`` window, compared with ``result``."""
    from tracelens.comparison import compare_results

    since, until, window = baseline
    progress.stage("loading the baseline")
    baseline_result = load_and_analyze(
        replace(sources, since=since, until=until), progress, findings
    )
    return compare_results(baseline_result, result, baseline_window=window)


def _baseline_window(since: str | None, until: str | None) -> str:
    """The baseline window in words, or a usage error before any work is done."""
    from tracelens.timewindow import TimeWindow, TimeWindowError

    try:
        return TimeWindow.parse(since, until).describe()
    except TimeWindowError as exc:
        raise click.BadParameter(str(exc), param_hint="--baseline-since/--baseline-until") from exc
