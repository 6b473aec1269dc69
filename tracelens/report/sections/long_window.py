"""The long window: totals, percentiles and a daily trend merged from hourly rollups, and the
header line saying which data answered which section."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import polars as pl

from analyses.rollups import EDGE_KEYS, RELATIVE_ACCURACY
from tracelens.report.context import (
    FINDINGS,
    FUNCTIONS,
    LONG_WINDOW,
    SERVICE_MAP,
    USERS,
    RenderContext,
    Section,
)
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
from tracelens.report.sections.findings import MAX_FINDINGS_SHOWN, finding_card
from tracelens.rollup import lacking_note

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
_ENTRIES = [
    Column("entry point", hint="a trace's root: API route, function URL, event consumer"),
    Column("requests", numeric=True, hint="traced requests (X-Ray samples them)"),
    Column("errors", numeric=True, hint="4xx answers, share of requests"),
    Column("faults", numeric=True, hint="5xx answers, share of requests"),
    Column("throttled", numeric=True, hint="answered 429, or the entry's invocation throttled"),
    Column("p50", numeric=True, hint="latency of completed requests, within 1% (DDSketch)"),
    Column("p95", numeric=True, hint="latency of completed requests, within 1% (DDSketch)"),
    Column("p99", numeric=True, hint="latency of completed requests, within 1% (DDSketch)"),
    Column("cold starts", numeric=True, hint="requests that may have waited for a cold start"),
]
_NODES = [
    Column("node"),
    Column("requests", numeric=True),
    Column("errors", numeric=True),
    Column("faults", numeric=True),
    Column("throttles", numeric=True),
    Column(
        "Lambda service p50",
        numeric=True,
        hint="the Lambda service's own time per request (queueing, dwell, attempts), within 1% "
        "(DDSketch)",
    ),
    Column("Lambda service p95", numeric=True, hint="within 1% (DDSketch)"),
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
    lacking = lacking_note(merged.lacking)
    if merged.from_spans_days:
        days = ", ".join(d.isoformat() for d in merged.from_spans_days[:5])
        more = len(merged.from_spans_days) - 5
        fell_back = (
            f" · {len(merged.from_spans_days)} day(s) rolled up from their spans for this "
            f"report (rollup missing or stale: {days}{f' and {more} more' if more > 0 else ''})"
        )
    warn = " warn" if merged.from_spans_days or lacking else ""
    return (
        f'<p class="data-line{warn}"><strong>Sources'
        f"</strong> every section from the spans of "
        f"{esc(_span(plan.span_since, plan.span_until))}, "
        f'except <a href="#{LONG_WINDOW}">Long window</a>: '
        f"{esc(_span(plan.rollup_since, plan.rollup_until))} merged from hourly rollups "
        f"(counts exact, percentiles within {RELATIVE_ACCURACY:.0%}){esc(fell_back)}"
        f"{esc(f' · {lacking}' if lacking else '')}</p>"
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
        f"{esc(plan.reason[0].upper() + plan.reason[1:])}: the sections above "
        f'and beside it (<a href="#{USERS}">what users see</a> with its example traces, '
        f'<a href="#{FINDINGS}">findings</a> with their example traces, the '
        f'<a href="#{SERVICE_MAP}">service map</a> with its loops, throttles, cold-start kinds '
        f'and the <a href="#{FUNCTIONS}">functions table</a>) cover only those spans.</p>'
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
    entries = held["entry_points"][:MAX_ROWS]
    functions = held["functions"][:MAX_ROWS]
    nodes = held["nodes"][:MAX_ROWS]
    edges = held["edges"][:MAX_ROWS]
    # NOTE: as the Findings section: critical and warning ones, at most MAX_FINDINGS_SHOWN
    urgent = merged.findings.filter(pl.col("severity") != "info")
    found = urgent.head(MAX_FINDINGS_SHOWN).to_dicts()
    more = truncated_note(len(found), urgent.height, "critical and warning findings")
    infos = merged.findings.height - urgent.height
    if infos:
        more += (
            f" {fmt_count(infos)} info finding(s) over the window in the JSON "
            "(<code>long_window.findings</code>)."
        )
    left_out = (
        "<p>Not evaluated over the whole window (a day's rollup, written before it held their "
        f"evidence, lacks it): {esc(', '.join(merged.findings_left_out))}.</p>"
        if merged.findings_left_out
        else ""
    )
    body = (
        intro
        + "<h3>Per day</h3>"
        + table(_DAILY, daily)
        + (
            "<h3>Findings over the whole window</h3>"
            + left_out
            + "".join(finding_card(row, ctx) for row in found)
            + (f'<p class="table-note">{more}</p>' if more else "")
            if found or left_out or more
            else ""
        )
        + "<h3>Entry points</h3>"
        + table(
            _ENTRIES,
            [_entry_row(e) for e in entries],
            note=truncated_note(len(entries), len(held["entry_points"]), "entry points"),
        )
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
        + "<h3>Service-map nodes</h3>"
        + table(
            _NODES,
            [_node_row(n) for n in nodes],
            note=truncated_note(len(nodes), len(held["nodes"]), "nodes"),
        )
    )
    return Section(LONG_WINDOW, "Long window", body)


def _ms(row: dict[str, Any], key: str, p: str) -> Cell:
    return Cell.ms(row[key][p])


def _share(count: int, rate: float | None) -> Cell:
    shown = f"{fmt_pct(rate)} ({fmt_count(count)})" if count else fmt_count(count)
    return Cell.number(rate, shown, alert=count > 0)


def _entry_row(e: dict[str, Any]) -> list[Cell]:
    return [
        Cell.name(e["entry"], kind=e["type"] or ""),
        Cell.count(e["requests"]),
        _share(e["errors"], e["error_rate"]),
        _share(e["faults"], e["fault_rate"]),
        _share(e["throttled"], e["throttle_rate"]),
        *(_ms(e, "latency_ms", p) for p in ("p50", "p95", "p99")),
        Cell.number(
            e["cold_start_share"],
            f"{fmt_pct(e['cold_start_share'])} ({fmt_count(e['cold_start_requests'])})",
        ),
    ]


def _node_row(n: dict[str, Any]) -> list[Cell]:
    return [
        Cell.name(n["name"], kind=n["type"] or ""),
        Cell.count(n["requests"]),
        Cell.count(n["errors"]),
        Cell.count(n["faults"], alert_nonzero=True),
        Cell.count(n["throttles"], alert_nonzero=True),
        Cell.ms(n["service_p50_ms"]),
        Cell.ms(n["service_p95_ms"]),
    ]


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
