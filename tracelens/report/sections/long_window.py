"""The long window: totals, percentiles and a daily trend merged from hourly rollups, and the
header line saying which data answered which section."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from analyses.rollups import EDGE_KEYS, RELATIVE_ACCURACY
from tracelens.report.context import FUNCTIONS, LONG_WINDOW, RenderContext, Section
from tracelens.report.markup import (
    Cell,
    Column,
    esc,
    fmt_count,
    fmt_pct,
    fmt_time,
    table,
    truncated_note,
)

MAX_ROWS = 200

_DAILY = [
    Column("day (UTC)"),
    Column("traces", numeric=True),
    Column("segments", numeric=True),
    Column("invocations", numeric=True, hint="traced executions"),
    Column("errors", numeric=True),
    Column("faults", numeric=True),
    Column("cold starts", numeric=True),
]
_FUNCTIONS = [
    Column("function"),
    Column("invocations", numeric=True, hint="traced executions"),
    Column("errors", numeric=True),
    Column("faults", numeric=True),
    Column("cold starts", numeric=True),
    Column("p50", numeric=True, hint="duration, within 1% (DDSketch)"),
    Column("p95", numeric=True, hint="duration, within 1% (DDSketch)"),
    Column("p99", numeric=True, hint="duration, within 1% (DDSketch)"),
]
_EDGES = [
    Column("from"),
    Column("to"),
    Column("calls", numeric=True),
    Column("errors", numeric=True),
    Column("faults", numeric=True),
    Column("throttles", numeric=True),
    Column("p50", numeric=True, hint="latency, within 1% (DDSketch)"),
    Column("p95", numeric=True, hint="latency, within 1% (DDSketch)"),
]


def _span(start: datetime | None, end: datetime | None) -> str:
    return f"{fmt_time(start) if start else 'the start'} to {fmt_time(end) if end else 'now'}"


def rollup_line(ctx: RenderContext) -> str:
    """The header's line naming which data answered which section (empty when every section
    is from the spans of the window shown)."""
    merged = ctx.result.long_window
    if merged is None:
        return ""
    plan = merged.plan
    fell_back = ""
    if merged.from_spans_days:
        days = ", ".join(d.isoformat() for d in merged.from_spans_days[:5])
        more = len(merged.from_spans_days) - 5
        fell_back = (
            f" · {len(merged.from_spans_days)} day(s) rolled up from their spans for this "
            f"report (rollup missing or stale: {days}{f' and {more} more' if more > 0 else ''})"
        )
    return (
        f'<p class="data-line{" warn" if merged.from_spans_days else ""}"><strong>Sources'
        f"</strong> every section from the spans of "
        f"{esc(_span(plan.span_since, plan.span_until))}, "
        f'except <a href="#{LONG_WINDOW}">Long window</a>: '
        f"{esc(_span(plan.rollup_since, plan.rollup_until))} merged from hourly rollups "
        f"(counts exact, percentiles within {RELATIVE_ACCURACY:.0%}){esc(fell_back)}</p>"
    )


def render_long_window(ctx: RenderContext) -> Section | None:
    """The long window's section, or None when rollups were not used."""
    merged = ctx.result.long_window
    if merged is None:
        return None
    held = merged.held
    plan = merged.plan
    intro = (
        f"<p>{esc(_span(plan.rollup_since, plan.rollup_until))} (whole hours): "
        f"{fmt_count(held['traces'])} traces, {fmt_count(held['segments'])} segments, merged "
        f"from the hourly rollups of {fmt_count(len(merged.days))} day(s)"
        + (
            f" and rolled up from the spans of {fmt_count(len(merged.from_spans_days))} day(s) "
            "whose rollup was missing or stale"
            if merged.from_spans_days
            else ""
        )
        + f". Counts are exact; percentiles are within {RELATIVE_ACCURACY:.0%} (DDSketch). "
        f"{esc(plan.reason[0].upper() + plan.reason[1:])}: findings, the service map, "
        f'throttles, cold-start kinds and the <a href="#{FUNCTIONS}">functions table</a> cover '
        "only those spans.</p>"
    )
    daily = [
        [
            Cell.text(row["day"].isoformat()),
            *(
                Cell.count(row[k], alert_nonzero=k == "faults")
                for k in ("traces", "segments", "invocations", "errors", "faults", "cold_starts")
            ),
        ]
        for row in merged.daily.to_dicts()
    ]
    functions = held["functions"][:MAX_ROWS]
    edges = held["edges"][:MAX_ROWS]
    body = (
        intro
        + "<h3>Per day</h3>"
        + table(_DAILY, daily)
        + "<h3>Functions</h3>"
        + table(
            _FUNCTIONS,
            [_function_row(f) for f in functions],
            note=truncated_note(len(functions), len(held["functions"]), "functions"),
        )
        + "<h3>Calls between services</h3>"
        + table(
            _EDGES,
            [_edge_row(e, merged.edge_fault_rates) for e in edges],
            note=truncated_note(len(edges), len(held["edges"]), "edges"),
        )
    )
    return Section(LONG_WINDOW, "Long window", body)


def _ms(row: dict[str, Any], key: str, p: str) -> Cell:
    return Cell.ms(row[key][p])


def _function_row(f: dict[str, Any]) -> list[Cell]:
    return [
        Cell.name(f["name"]),
        Cell.count(f["invocations"]),
        Cell.count(f["errors"]),
        Cell.count(f["faults"], alert_nonzero=True),
        Cell.count(f["cold_starts"]),
        *(_ms(f, "duration_ms", p) for p in ("p50", "p95", "p99")),
    ]


def _edge_row(
    e: dict[str, Any], fault_rates: Mapping[tuple[str | None, ...], float | None]
) -> list[Cell]:
    faults = e["faults"]
    rate = fault_rates.get(tuple(e[key] for key in EDGE_KEYS))
    return [
        Cell.name(e["source"], kind=e["source_type"] or ""),
        Cell.name(e["target"], kind=e["target_type"] or ""),
        Cell.count(e["calls"]),
        Cell.count(e["errors"]),
        Cell(
            esc(f"{fmt_count(faults)} ({fmt_pct(rate)})"),
            faults,
            "num alert" if faults else "num",
        ),
        Cell.count(e["throttles"], alert_nonzero=True),
        *(_ms(e, "latency_ms", p) for p in ("p50", "p95")),
    ]
