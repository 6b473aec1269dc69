"""The report of several targets: one report per account and region, and a page covering them
all (each target's findings and functions with its account and region, and a link to its own
report).

Each target is analyzed on its own data: functions of the same name in two accounts or regions
are different functions, and an account's concurrency limit is its own, so no number of one
target is ever mixed into another's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from analyses.rankings import SEVERITIES, findings_by_severity, severity_counts
from tracelens.atomic import replace_atomically

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult
    from tracelens.comparison import Comparison

MAX_ROWS = 200


@dataclass(frozen=True)
class TargetSummary:
    """What the page covering every target (and the alerts) read of one target's analysis,
    kept instead of the analysis: each target's analysis is released once its own report is
    written, not held until the page is."""

    findings: pl.DataFrame
    functions: pl.DataFrame
    severity_counts: dict[str, int]
    traces: int

    @classmethod
    def of(cls, result: AnalysisResult) -> TargetSummary:
        """``result``'s findings, functions, findings per severity and traces."""
        return cls(
            findings=result.findings,
            functions=result.functions,
            severity_counts=severity_counts(result.findings),
            traces=result.inputs.traces.traces,
        )


@dataclass(frozen=True)
class TargetResult:
    """One target's summary (None: no data in the window) and its report file."""

    account: str
    region: str
    summary: TargetSummary | None
    path: Path | None = None

    @property
    def key(self) -> str:
        """``<label>/<region>``."""
        return f"{self.account}/{self.region}"


def target_report_path(path: Path, account: str, region: str) -> Path:
    """Where a target's own report goes: next to ``path``, named after the target."""
    return path.with_name(f"{path.stem}-{account}-{region}{path.suffix or '.html'}")


@dataclass(frozen=True)
class TargetAnalysis:
    """One target's analysis to draw (None: no data in the window), and its comparison with
    a baseline window (None: none asked for)."""

    account: str
    region: str
    result: AnalysisResult | None
    comparison: Comparison | None = None


def write_target_reports(
    path: Path,
    analysed: Iterable[TargetAnalysis],
    *,
    heading: str,
    window: str,
    generated_at: datetime,
    region: str | None = None,
    cdn: bool = False,
) -> tuple[Path, list[TargetResult]]:
    """One report per target with data next to ``path`` (titled ``heading: account
    (region)``, its console links in ``region`` if given, else the target's own), then the
    page covering every target at ``path``; the page written and each target's summary.

    ``analysed`` is taken one target at a time: each target's analysis is let go of once its
    report is written (only its :class:`TargetSummary` is kept), so a lazy ``analysed``
    holds one target's analysis at a time.
    """
    from tracelens.report import write_report  # noqa: PLC0415 - plotly loads only to draw

    done: list[TargetResult] = []
    for each in analysed:
        if each.result is None:
            done.append(TargetResult(each.account, each.region, None))
            continue
        own = write_report(
            each.result,
            target_report_path(path, each.account, each.region),
            title=f"{heading}: {each.account} ({each.region})",
            cdn=cdn,
            region=region or each.region,
            generated_at=generated_at,
            comparison=each.comparison,
        )
        done.append(TargetResult(each.account, each.region, TargetSummary.of(each.result), own))
        del each  # NOTE: before the next target is analysed
    page = render_index(done, title=heading, window=window, generated_at=generated_at)
    return write_index(path, page), done


def qualified_findings(targets: Sequence[TargetResult]) -> pl.DataFrame | None:
    """Every target's findings in one frame, each subject (and key) naming its target: what
    alerts deduplicate on, so one target's finding never resolves another's."""
    frames = [
        target.summary.findings.with_columns(
            pl.format("{} ({})", pl.col(name), pl.lit(target.key)).alias(name)
            for name in ("subject", "key")
            if name in target.summary.findings.columns
        )
        for target in targets
        if target.summary is not None
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else None


def render_index(
    targets: Sequence[TargetResult],
    *,
    title: str,
    window: str,
    generated_at: datetime,
    links: Mapping[str, str] | None = None,
) -> str:
    """The page covering every target; ``window`` says which data (e.g. "the last 6h"),
    ``links`` each target's report URL by its key (default: the report's file name, next to
    the page)."""
    # NOTE: imported here: the report package loads plotly, which the agent needs only to
    # write pages.
    from tracelens.report.markup import (  # noqa: PLC0415
        Cell,
        Column,
        esc,
        fmt_time,
        stylesheet,
        table,
    )

    rows = []
    for target in targets:
        summary = target.summary
        link = (
            f'<a href="{esc((links or {}).get(target.key, target.path.name))}">'
            f"{esc(target.path.name)}</a>"
            if target.path is not None and summary is not None
            else esc(f"no data in {window}")
        )
        counts = summary.severity_counts if summary is not None else None
        functions = summary.functions.height if summary is not None else None
        traces = summary.traces if summary is not None else None
        rows.append(
            [
                Cell.text(target.account),
                Cell.text(target.region),
                *(Cell.count(counts.get(s) if counts else None) for s in SEVERITIES),
                Cell.count(functions),
                Cell.count(traces),
                Cell(link),
            ]
        )
    overview = table(
        [
            Column("Account"),
            Column("Region"),
            *(Column(s.capitalize(), numeric=True) for s in SEVERITIES),
            Column("Functions", numeric=True),
            Column("Traces", numeric=True),
            Column("Report"),
        ],
        rows,
    )
    when = fmt_time(generated_at.astimezone(UTC))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="tracelens"><title>{esc(title)}</title>'
        f"<style>{stylesheet()}</style></head><body>"
        f'<header class="top"><h1>{esc(title)}</h1>'
        f'<p class="meta"><span>{len(targets)} targets · {esc(window)}'
        f" · generated {esc(when)}</span></p></header><main>"
        f'<section id="targets"><h2>Targets</h2>{overview}</section>'
        f'<section id="findings"><h2>Findings</h2>{_findings(targets)}</section>'
        f'<section id="functions"><h2>Functions</h2>{_functions(targets)}</section>'
        "</main></body></html>\n"
    )


def write_index(path: Path, page: str) -> Path:
    """Write the page atomically."""
    replace_atomically(path, page.encode("utf-8"))
    return path


def _with_target(frame: pl.DataFrame, target: TargetResult) -> pl.DataFrame:
    return frame.with_columns(account=pl.lit(target.account), region=pl.lit(target.region))


def _findings(targets: Sequence[TargetResult]) -> str:
    from tracelens.report.markup import Cell, Column, frame_table  # noqa: PLC0415

    findings = findings_by_severity(
        [_with_target(t.summary.findings, t) for t in targets if t.summary is not None]
    )

    def cells(row: dict[str, Any]) -> list[Cell]:
        return [
            Cell.text(row["severity"], css_class=f"sev {row['severity']}"),
            Cell.text(row["account"]),
            Cell.text(row["region"]),
            Cell.text(row["kind"]),
            Cell.name(row["subject"]),
            Cell.text(row["message"]),
        ]

    columns = ["Severity", "Account", "Region", "Kind", "Subject", "Finding"]
    return frame_table(
        findings,
        [Column(name) for name in columns],
        cells,
        limit=MAX_ROWS,
        what="findings",
        if_empty="No findings in any target.",
    )


def _functions(targets: Sequence[TargetResult]) -> str:
    from tracelens.report.markup import Cell, Column, frame_table  # noqa: PLC0415

    frames = [
        _with_target(t.summary.functions.sort("function_name"), t)
        for t in targets
        if t.summary is not None
    ]
    functions = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()

    def cells(row: dict[str, Any]) -> list[Cell]:
        return [
            Cell.text(row["account"]),
            Cell.text(row["region"]),
            Cell.name(row["function_name"]),
            Cell.count(row.get("invocations")),
            Cell.count(row.get("cold_starts")),
            Cell.count(row.get("errors"), alert_nonzero=True),
            Cell.count(row.get("faults"), alert_nonzero=True),
            Cell.at_least(row.get("throttled"), row.get("throttled_retries_unknown")),
        ]

    columns = [
        Column("Account"),
        Column("Region"),
        Column("Function"),
        *(
            Column(name, numeric=True)
            for name in ("Invocations", "Cold starts", "Errors", "Faults", "Throttled")
        ),
    ]
    return frame_table(
        functions,
        columns,
        cells,
        limit=MAX_ROWS,
        what="functions",
        if_empty="No function in any target.",
    )
