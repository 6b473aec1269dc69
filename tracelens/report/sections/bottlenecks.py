"""Bottlenecks: where each entry point's critical-path time goes, and one slow trace drawn."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from tracelens.report import palette
from tracelens.report.context import BOTTLENECKS, RenderContext, Section
from tracelens.report.figures import label, new_figure
from tracelens.report.markup import (
    Cell,
    Column,
    empty,
    esc,
    fmt_count,
    fmt_ms,
    fmt_pct,
    frame_table,
    table_note,
    truncated_note,
)
from tracelens.report.waterfall import MAX_SPANS, span_rows, waterfall_figure

MAX_ENTRIES = 6
MAX_WATERFALLS = 3
MAX_NODES_COLOURED = 7
SLOW_LABEL = "slowest 5%"  # analyses.bottlenecks' default slow_quantile, 0.95


def render_bottlenecks(ctx: RenderContext) -> Section:
    frame = ctx.result.ranked.bottlenecks_by_entry
    if frame.is_empty():
        return Section(
            BOTTLENECKS, "Bottlenecks", empty("No complete trace to take a critical path from.")
        )
    # NOTE: one row per entry point, in the analysis' order: most traced first.
    slowest = frame.filter(pl.col("slowest"))
    entries = slowest.get_column("entry").to_list()
    parts = [
        "<p>Share of each entry point's critical-path time held by each node, over all its "
        f"traces and over its {SLOW_LABEL}. The node that grows in the slow bar is where slow "
        "requests wait.</p>"
    ]
    for index, entry in enumerate(entries[:MAX_ENTRIES]):
        rows = frame.filter(pl.col("entry") == entry)
        parts.append(f'<h3 class="entry">{esc(entry)}</h3>')
        parts.append(ctx.figures.add(f"fig-bottleneck-{index}", _shares_figure(rows)))
        if index < MAX_WATERFALLS:
            parts.append(_example(ctx, slowest.row(index, named=True), index))
    parts.append(table_note(MAX_ENTRIES, len(entries), "entry points"))
    parts.append(_table(ctx, ctx.result.ranked.bottlenecks_by_slow_share))
    return Section(BOTTLENECKS, "Bottlenecks", "".join(parts))


def node_label(row: dict[str, object]) -> str:
    """A node named with its kind when the analysis gives it (``orders`` is often a function,
    its Lambda service node and a table at once)."""
    node_type = row.get("node_type")
    if not isinstance(node_type, str) or not node_type:
        return str(row["node"])
    return f"{row['node']} ({palette.node_style(node_type).label})"


def _shares_figure(rows: pl.DataFrame) -> go.Figure:
    figure = new_figure(height_px=190, barmode="stack", margin={"t": 30, "b": 30})
    bars = ["all traces", SLOW_LABEL]
    for index, r in enumerate(rows.to_dicts()):  # the largest share of path time first
        colour = palette.series_colour(index) if index < MAX_NODES_COLOURED else palette.LIGHT_GREY
        name = label(node_label(r), max_chars=48)
        hover = [
            f"{name}: {fmt_pct(r['critical_path_share'])} of path time · "
            f"{fmt_ms(r['mean_ms'])} per trace · on the path in {fmt_count(r['traces'])} traces",
            f"{name}: {fmt_pct(r['slow_share'])} of slow path time · "
            f"{fmt_ms(r['slow_mean_ms'])} per slow trace · "
            f"{fmt_count(r['slow_traces'])} slow traces",
        ]
        figure.add_trace(
            go.Bar(
                y=bars,
                x=[r["critical_path_share"], r["slow_share"]],
                orientation="h",
                name=name,
                marker={"color": colour, "line": {"color": "white", "width": 1}},
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
                showlegend=index < MAX_NODES_COLOURED,
            )
        )
    figure.update_xaxes(tickformat=".0%", range=[0, 1])
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(legend={"orientation": "h", "y": -0.25, "yanchor": "top"})
    return figure


def _example(ctx: RenderContext, slowest: dict[str, Any], index: int) -> str:
    trace_id = slowest["example_trace_id"]
    if trace_id is None:
        return ""
    spans = span_rows(ctx.result.inputs.traces.spans, trace_id)
    if not spans:
        return ""
    path = ctx.result.critical_path.filter(pl.col("trace_id") == trace_id)
    on_path = set(path.get_column("id").to_list())
    title = f"Example slow trace: {node_label(slowest)} holds the most slow-path time"
    figure = waterfall_figure(spans, on_path)
    cut = truncated_note(min(len(spans), MAX_SPANS), len(spans), "spans")
    caption = f"Trace {trace_id}. Outlines mark errors, faults and throttles. {cut}"
    link = (
        f'<p class="links">{ctx.links.trace_link(trace_id, label="open this trace in X-Ray")}</p>'
    )
    placeholder = ctx.figures.add(f"fig-waterfall-{index}", figure, title=title, caption=caption)
    return placeholder + link


def _table(ctx: RenderContext, frame: pl.DataFrame) -> str:
    def cells(r: dict[str, Any]) -> list[Cell]:
        return [
            Cell.name(r["entry"]),
            Cell.name(node_label(r)),
            Cell.pct(r["critical_path_share"]),
            Cell.pct(r["slow_share"]),
            Cell.ms(r["mean_ms"]),
            Cell.ms(r["slow_mean_ms"]),
            Cell.count(r["traces"]),
            Cell(ctx.links.trace_link(r["example_trace_id"])),
        ]

    columns = [
        Column("entry point"),
        Column("node"),
        Column("share (all)", numeric=True),
        Column(f"share ({SLOW_LABEL})", numeric=True),
        Column("per trace", numeric=True, hint="mean path time per trace of the entry"),
        Column("per slow trace", numeric=True),
        Column("traces", numeric=True),
        Column("example"),
    ]
    return frame_table(
        frame,
        columns,
        cells,
        limit=40,
        what="rows (largest slow share first)",
        title="Nodes by share of slow-path time",
    )
