"""Loading inputs for a command, with the CLI's error and strictness rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

import click

from analyses.finding_thresholds import FindingSettings
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.cli.progress import Progress
from tracelens.ingest.opening.sources import InputError
from tracelens.inputs import Inputs, load_inputs
from tracelens.timewindow import TimeWindow, TimeWindowError, format_instant
from tracelens.windowplan import SPAN_WINDOW, RollupMode, WindowPlan, plan_windows

if TYPE_CHECKING:
    from tracelens.rollup import LongWindow


Target = tuple[str, str]
"""An account label and region (``[[targets]]``), as the store records them."""


class EmptyStoreError(click.ClickException):
    """The store holds no traces, logs or metrics in the window asked for."""


def load_for_command(
    paths: Sequence[str],
    *,
    logs: Sequence[str],
    metrics: Sequence[str],
    functions: Sequence[str],
    strict: bool,
    progress: Progress,
) -> Inputs:
    """Load inputs or stop the command with one clear message (never a traceback)."""
    try:
        inputs = load_inputs(
            paths, logs=logs, metrics=metrics, functions=functions, progress=progress.source_read
        )
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    traces = inputs.traces
    for note in traces.read_stats.skipped:
        click.echo(f"note: {note}", err=True)
    progress.done(
        f"read {traces.documents:,} documents from {traces.sources:,} file(s): "
        f"{traces.segments:,} segments in {traces.traces:,} traces, "
        f"{traces.duplicates:,} duplicates, {inputs.rejected:,} rejected"
    )
    rejections = inputs.all_rejections()
    if strict and rejections.count:
        first = rejections.listed[0]
        raise click.ClickException(
            f"--strict: {rejections.count} input record(s) rejected; first: {first.describe()}"
        )
    if not traces.segments and not strict:
        click.echo("warning: no segment documents were accepted", err=True)
    return inputs


def load_from_store(
    location: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    strict: bool,
    progress: Progress,
    allow_empty: bool = False,
    target: tuple[str, str] | None = None,
) -> Inputs:
    """Load inputs from a store (``tracelens collect``/``agent`` wrote it), or stop clearly;
    ``target``: only that account label and region's data.

    Store files that cannot be read are skipped, printed as warnings, and listed among the
    input's rejections so that the JSON and the report show them. Nothing stored in the window
    stops the command unless ``allow_empty`` (rollups answer for a longer window).
    """
    from tracelens.agent.reporting import has_rows
    from tracelens.store import StoreError, open_store

    try:
        account, region = target or (None, None)
        inputs, problems = open_store(location).load_inputs(
            since=since, until=until, account=account, region=region, analysed_columns_only=True
        )
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in problems:
        click.echo(f"warning: skipped unreadable store file {problem.describe()}", err=True)
        inputs.side_rejections.add(problem.location, "whole file", f"store file: {problem.reason}")
    traces = inputs.traces
    progress.done(
        f"read store {location}: {traces.segments:,} segments in {traces.traces:,} traces, "
        f"{len(problems):,} unreadable file(s)"
    )
    if strict and problems:
        raise click.ClickException(
            f"--strict: {len(problems)} store file(s) unreadable; first: {problems[0].describe()}"
        )
    if not has_rows(inputs) and not allow_empty:
        raise _no_data(location, since)
    return inputs


def _no_data(location: str, since: datetime | None, whose: str = "") -> EmptyStoreError:
    span = f" since {format_instant(since)}" if since else ""
    return EmptyStoreError(
        f"no data in store {location}{whose}{span}; run `tracelens collect --once --store "
        f"{location}` first"
    )


@dataclass(frozen=True)
class InputOptions:
    """What ``analyze`` and ``report`` read: PATHs or a store, side inputs, strictness, window."""

    paths: tuple[str, ...]
    store: str | None
    logs: tuple[str, ...]
    metrics: tuple[str, ...]
    functions: tuple[str, ...]
    strict: bool
    since: str | None
    until: str | None
    # With --store: "auto" merges rollups for the long-window sections when the window is
    # longer than ``span_window`` (None: tracelens.rollup.SPAN_WINDOW); "never" reads spans.
    from_rollups: RollupMode = "auto"
    span_window: timedelta | None = None
    # Of a store: one target's data only (account label, region); None: all of it.
    target: tuple[str, str] | None = None


def load_command_inputs(options: InputOptions, progress: Progress) -> Inputs:
    """The inputs of ``analyze`` and ``report``: PATHs or a store, kept to --since/--until."""
    return _load_planned(options, progress)[0]


def _planned(options: InputOptions) -> tuple[TimeWindow, WindowPlan]:
    """The window whose spans are read, and which data answers which section
    (:func:`plan_windows`): with a store and a window longer than the span window, only the
    spans of its last span window."""
    now = datetime.now(UTC)
    try:
        window = TimeWindow.parse(options.since, options.until, now=now)
    except TimeWindowError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    plan = plan_windows(
        window.start,
        window.end,
        now=now,
        span_window=options.span_window or SPAN_WINDOW,
        mode=options.from_rollups,
        store=options.store is not None,
    )
    if plan.use_rollups:
        window = TimeWindow(plan.span_since, plan.span_until)
    return window, plan


def _load_planned(options: InputOptions, progress: Progress) -> tuple[Inputs, WindowPlan]:
    """The inputs, and which data answers which section (:func:`_planned`)."""
    window, plan = _planned(options)
    side = (options.logs, options.metrics, options.functions)
    if options.store is not None:
        if options.paths or any(side):
            raise click.UsageError("give PATHs (with --logs/--metrics/--functions) or --store")
        inputs = load_from_store(
            options.store,
            since=window.start,
            until=window.end,
            strict=options.strict,
            progress=progress,
            allow_empty=plan.use_rollups,
            target=options.target,
        )
    elif not options.paths:
        raise click.UsageError("give at least one PATH with exported traces, or --store DIR")
    else:
        inputs = load_for_command(
            options.paths,
            logs=options.logs,
            metrics=options.metrics,
            functions=options.functions,
            strict=options.strict,
            progress=progress,
        )
    return _within(inputs, window), plan


def _within(inputs: Inputs, window: TimeWindow) -> Inputs:
    """``inputs`` kept to ``window``, with a warning when no trace starts in it."""
    kept = inputs.within(window)
    if inputs.traces.spans.height and not kept.traces.spans.height:
        click.echo(f"warning: no trace starts {window.describe()}", err=True)
    return kept


def load_and_analyze(
    options: InputOptions, progress: Progress, findings: FindingSettings | None = None
) -> AnalysisResult:
    """:func:`load_command_inputs`, then every analysis, with progress on standard error;
    over a window longer than the span window, the long-window sections merged from rollups
    (:func:`tracelens.rollup.long_window`)."""
    inputs, plan = _load_planned(options, progress)
    return _analyzed(inputs, plan, options, progress, findings)


def _analyzed(
    inputs: Inputs,
    plan: WindowPlan,
    options: InputOptions,
    progress: Progress,
    findings: FindingSettings | None,
    merged: LongWindow | None = None,
) -> AnalysisResult:
    """Every analysis of ``inputs``; over a long window of a store, with the long-window
    sections of ``options.target`` (every target: None) merged from rollups (``merged``, if
    they were already)."""
    progress.stage(f"analyzing {inputs.traces.spans.height:,} spans")
    # NOTE: two lanes for a store's spans only (run_analysis says why).
    lanes: Literal[1, 2] = 2 if options.store is not None else 1
    result = replace(run_analysis(inputs, findings, lanes=lanes), window_plan=plan)
    progress.done(f"analyzed: {result.findings.height:,} findings")
    if plan.use_rollups and options.store is not None:
        if merged is None:
            merged = _long_windows(options.store, plan, progress, [options.target], findings)[
                options.target
            ]
        result = replace(result, long_window=merged)
    return result


def _long_windows(
    location: str,
    plan: WindowPlan,
    progress: Progress,
    targets: Sequence[Target | None],
    findings: FindingSettings | None,
) -> dict[Target | None, LongWindow]:
    """The long window of each of ``targets`` (None: every target's), from one read of the
    rollups; what could not be read, or was rolled up from spans, is said once."""
    from tracelens.rollup import from_spans_note, lacking_note, long_windows
    from tracelens.store import StoreError, open_store

    progress.stage("merging hourly rollups")
    try:
        each = long_windows(open_store(location).backend, plan, targets, findings)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    merged = each[targets[0]]  # NOTE: every target's days and files are the same
    for problem in merged.unreadable:
        click.echo(f"warning: skipped unreadable store file {problem}", err=True)
    for note in (from_spans_note(merged.from_spans_days), lacking_note(merged.lacking)):
        if note is not None:
            click.echo(f"note: {note}", err=True)
    progress.done(
        f"merged rollups of {len(merged.days):,} day(s), {len(merged.from_spans_days):,} "
        "rolled up from spans"
    )
    return each


@dataclass
class Analyses:
    """A command's analyses, one per target with data of a store written by several (each
    on its own data, none mixed into another), else one (target None for PATH inputs), made
    one at a time as they are iterated (once): each target's inputs are released as it is
    analyzed, and its result as soon as the caller lets it go."""

    targets: list[Target | None]
    make: Callable[[Target | None], AnalysisResult]

    def __len__(self) -> int:
        return len(self.targets)

    def __iter__(self) -> Iterator[tuple[Target | None, AnalysisResult]]:
        for target in self.targets:
            yield target, self.make(target)


def analyze_targets(
    options: InputOptions, progress: Progress, findings: FindingSettings | None = None
) -> list[tuple[Target | None, AnalysisResult]]:
    """Every one of :func:`target_analyses`, each with its (account label, region)."""
    return list(target_analyses(options, progress, findings))


def target_analyses(
    options: InputOptions, progress: Progress, findings: FindingSettings | None = None
) -> Analyses:
    """:func:`load_and_analyze`, once per target of a store written by several (each on its
    own data, none mixed into another), else once: each analysis with its (account label,
    region), None for PATH inputs. A target without data in the window is passed over.

    The store is read once for every target (:func:`load_targets`), not once per target."""
    if options.store is None:
        return Analyses([None], lambda _: load_and_analyze(options, progress, findings))
    targets = _stored_targets(options.store)
    if len(targets) < 2:
        target = targets[0] if targets else None
        return Analyses([target], lambda _: load_and_analyze(options, progress, findings))
    loaded = load_targets(options, targets, progress, findings)
    if loaded.passed:
        named = ", ".join(f"{account} ({region})" for account, region in loaded.passed)
        click.echo(f"note: no data in the window for {named}", err=True)
    if not loaded.inputs:
        raise click.ClickException(
            f"no data in store {options.store} for any of its {len(targets)} targets"
        )
    return Analyses(list(loaded.inputs), lambda target: loaded.analyze(target, findings))


def _stored_targets(location: str) -> list[Target]:
    from tracelens.agent.reporting import stored_targets
    from tracelens.store import StoreError, open_store

    try:
        return stored_targets(open_store(location))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


@dataclass
class LoadedTargets:
    """The inputs of several targets of a store, read at once (:func:`load_targets`)."""

    options: InputOptions
    window: TimeWindow
    plan: WindowPlan
    progress: Progress
    # Each target with data in the window (in the store's order), and those without.
    inputs: dict[Target, Inputs]
    passed: list[Target]
    # Over a long window, each target's long window (merged from one read of the rollups).
    windows: dict[Target | None, LongWindow] = field(default_factory=dict)

    def require_every(self) -> None:
        """Stop (:class:`EmptyStoreError`, as :func:`load_from_store`) when a target has no
        data in the window (a baseline for each target)."""
        if self.passed:
            account, region = self.passed[0]
            assert self.options.store is not None  # NOTE: targets are a store's
            raise _no_data(self.options.store, self.window.start, f" for {account} ({region})")

    def analyze(self, target: Target | None, findings: FindingSettings | None) -> AnalysisResult:
        """``target``'s analysis (as :func:`load_and_analyze` of that target), its inputs
        released from here."""
        assert target is not None  # NOTE: every one of several analyses is a target's
        inputs = _within(self.inputs.pop(target), self.window)
        own = replace(self.options, target=target)
        merged = self.windows.pop(target, None)
        return _analyzed(inputs, self.plan, own, self.progress, findings, merged)


def load_targets(
    options: InputOptions,
    targets: list[Target],
    progress: Progress,
    findings: FindingSettings | None = None,
) -> LoadedTargets:
    """The inputs of each of ``targets`` in ``options.store`` over the window, from one read
    of the store (:meth:`tracelens.store.Store.load_each`), with :func:`load_from_store`'s
    rules: unreadable files warned of once and listed among each target's rejections (they may
    have held any target's rows), refused by --strict; a target with no data in the window is
    passed over (unless rollups answer for a longer window)."""
    from tracelens.agent.reporting import has_rows
    from tracelens.store import StoreError, open_store

    assert options.store is not None  # NOTE: targets are a store's
    window, plan = _planned(options)
    location = options.store
    try:
        each, problems = open_store(location).load_each(
            targets, since=window.start, until=window.end, analysed_columns_only=True
        )
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in problems:
        click.echo(f"warning: skipped unreadable store file {problem.describe()}", err=True)
    segments = sum(inputs.traces.segments for inputs in each.values())
    progress.done(
        f"read store {location}: {segments:,} segments of {len(targets)} targets, "
        f"{len(problems):,} unreadable file(s)"
    )
    if options.strict and problems:
        raise click.ClickException(
            f"--strict: {len(problems)} store file(s) unreadable; first: {problems[0].describe()}"
        )
    # NOTE: over a long window, a target is kept when its spans or its rollups hold traces
    # (a target with neither would be drawn as a report of zeros).
    windows = (
        _long_windows(location, plan, progress, list(targets), findings) if plan.use_rollups else {}
    )
    inputs: dict[Target, Inputs] = {}
    passed: list[Target] = []
    for target in targets:
        own = each.pop(target)
        for problem in problems:
            own.side_rejections.add(problem.location, "whole file", f"store file: {problem.reason}")
        held = target in windows and windows[target].held["traces"]
        if has_rows(own) or held:
            inputs[target] = own
        else:
            windows.pop(target, None)
            passed.append(target)
    return LoadedTargets(options, window, plan, progress, inputs, passed, dict(windows))
