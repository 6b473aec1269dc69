"""A short plain-text summary for a terminal: findings first, then the busiest functions."""

from __future__ import annotations

import polars as pl

from tracelens.analysis import AnalysisResult

MAX_FINDINGS = 15
MAX_FUNCTIONS = 15
MAX_REJECTIONS = 5


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _rejections(result: AnalysisResult) -> list[str]:
    """The first refused inputs, so that a wrong file is noticed without --json."""
    rejections = result.inputs.all_rejections()
    if not rejections.count:
        return []
    lines = ["", "Rejected (first in input order):"]
    lines += [f"  {r.describe()}" for r in rejections.listed[:MAX_REJECTIONS]]
    if rejections.count > MAX_REJECTIONS:
        lines.append(f"  ... and {rejections.count - MAX_REJECTIONS:,} more (use --json)")
    return lines


def text_summary(result: AnalysisResult) -> str:
    """What an on-call engineer reads first, in under 40 lines."""
    traces = result.inputs.traces
    window = result.inputs.window
    read = (
        f"{traces.segments:,} segments in {traces.traces:,} traces"
        if window.is_open
        else f"{traces.segments:,} segments read, {traces.traces:,} traces starting "
        f"{window.describe()}"
    )
    lines = [
        f"{read} ({_count(traces.read_duplicates)} duplicates, "
        f"{result.inputs.rejected:,} rejected)",
        "",
        "Findings:" if result.findings.height else "Findings: none",
    ]
    for row in result.findings.head(MAX_FINDINGS).iter_rows(named=True):
        lines.append(f"  [{row['severity']:<8}] {row['key']}: {row['message']}")
        lines.append(f"             -> {row['recommendation']}")
    if result.findings.height > MAX_FINDINGS:
        lines.append(f"  ... and {result.findings.height - MAX_FINDINGS} more (use --json)")
    if result.findings.height:
        lines.append("  (each finding by its key, kind:subject; --silence KEY leaves it out)")
    lines += _rejections(result)
    table = result.functions.sort("invocations", descending=True).head(MAX_FUNCTIONS)
    if table.height:
        header = f"{'function':<32} {'inv':>6} {'cold':>5} {'thr':>5} {'err':>4} {'flt':>4}"
        lines += ["", f"{header} {'p95 ms':>8}"]
        for row in table.iter_rows(named=True):
            lines.append(
                f"{row['function_name'][:32]:<32} {row['invocations']:>6} {row['cold_starts']:>5} "
                f"{row['throttled']:>5} {row['errors']:>4} {row['faults']:>4} "
                f"{_fmt_ms(row['duration_p95_ms']):>8}"
            )
    slow = result.bottlenecks.filter(pl.col("slow_share") > 0).sort("slow_share", descending=True)
    if slow.height:
        top = slow.row(0, named=True)
        lines += [
            "",
            f"Slowest path: {top['node']} holds {top['slow_share']:.0%} of the critical path "
            f"of the slowest {top['entry']} requests.",
        ]
    return "\n".join(lines) + "\n"


def _count(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"
