"""The report of several targets: one report per account and region, and a page covering them
all (each target's findings and functions with its account and region, and a link to its own
report).

Each target is analyzed on its own data: functions of the same name in two accounts or regions
are different functions, and an account's concurrency limit is its own, so no number of one
target is ever mixed into another's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from tracelens.atomic import replace_atomically

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult

SEVERITIES = ("critical", "warning", "info")
MAX_ROWS = 200


@dataclass(frozen=True)
class TargetResult:
    """One target's analysis (None: no data in the window) and its report file."""

    account: str
    region: str
    result: AnalysisResult | None
    path: Path | None = None

    @property
    def key(self) -> str:
        """``<label>/<region>``."""
        return f"{self.account}/{self.region}"


def target_report_path(path: Path, account: str, region: str) -> Path:
    """Where a target's own report goes: next to ``path``, named after the target."""
    return path.with_name(f"{path.stem}-{account}-{region}{path.suffix or '.html'}")


def qualified_findings(targets: Sequence[TargetResult]) -> pl.DataFrame | None:
    """Every target's findings in one frame, each subject (and key) naming its target: what
    alerts deduplicate on, so one target's finding never resolves another's."""
    frames = [
        target.result.findings.with_columns(
            pl.format("{} ({})", pl.col(name), pl.lit(target.key)).alias(name)
            for name in ("subject", "key")
            if name in target.result.findings.columns
        )
        for target in targets
        if target.result is not None
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
    from tracelens.report.markup import Cell, Column, esc, fmt_time, table  # noqa: PLC0415

    rows = []
    for target in targets:
        link = (
            f'<a href="{esc((links or {}).get(target.key, target.path.name))}">'
            f"{esc(target.path.name)}</a>"
            if target.path is not None and target.result is not None
            else esc(f"no data in {window}")
        )
        counts = _severity_counts(target.result)
        functions = target.result.functions.height if target.result is not None else None
        traces = target.result.inputs.traces.traces if target.result is not None else None
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
        f"<style>{_css()}</style></head><body>"
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


def _severity_counts(result: AnalysisResult | None) -> dict[str, int] | None:
    if result is None:
        return None
    counts = dict(result.findings.get_column("severity").value_counts().rows())
    return {severity: int(counts.get(severity, 0)) for severity in SEVERITIES}


def _findings(targets: Sequence[TargetResult]) -> str:
    from tracelens.report.markup import Cell, Column, empty, table, truncated_note  # noqa: PLC0415

    order = {severity: rank for rank, severity in enumerate(SEVERITIES)}
    rows = [
        (order.get(row["severity"], len(SEVERITIES)), target, row)
        for target in targets
        if target.result is not None
        for row in target.result.findings.to_dicts()
    ]
    if not rows:
        return empty("No findings in any target.")
    rows.sort(key=lambda item: item[0])
    cells = [
        [
            Cell.text(row["severity"], css_class=f"sev {row['severity']}"),
            Cell.text(target.account),
            Cell.text(target.region),
            Cell.text(row["kind"]),
            Cell.name(row["subject"]),
            Cell.text(row["message"]),
        ]
        for _, target, row in rows[:MAX_ROWS]
    ]
    columns = ["Severity", "Account", "Region", "Kind", "Subject", "Finding"]
    note = truncated_note(len(cells), len(rows), "findings")
    return table([Column(name) for name in columns], cells, note=note)


def _functions(targets: Sequence[TargetResult]) -> str:
    from tracelens.report.markup import Cell, Column, empty, table, truncated_note  # noqa: PLC0415

    rows = [
        (target, row)
        for target in targets
        if target.result is not None
        for row in target.result.functions.sort("function_name").to_dicts()
    ]
    if not rows:
        return empty("No function in any target.")
    cells = [
        [
            Cell.text(target.account),
            Cell.text(target.region),
            Cell.name(row["function_name"]),
            Cell.count(row.get("invocations")),
            Cell.count(row.get("cold_starts")),
            Cell.count(row.get("errors"), alert_nonzero=True),
            Cell.count(row.get("faults"), alert_nonzero=True),
            Cell.count(row.get("throttled"), alert_nonzero=True),
        ]
        for target, row in rows[:MAX_ROWS]
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
    return table(columns, cells, note=truncated_note(len(cells), len(rows), "functions"))


def _css() -> str:
    return resources.files("tracelens.report").joinpath("report.css").read_text("utf-8")
