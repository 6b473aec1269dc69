"""The service map: every node and call edge, coloured by what went wrong on it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
import plotly.graph_objects as go
import polars as pl

from tracelens.report import palette
from tracelens.report.context import SERVICE_MAP, RenderContext, Section
from tracelens.report.examples import node_anchor
from tracelens.report.figures import label, new_figure
from tracelens.report.graph_layout import layered_layout
from tracelens.report.markup import (
    Cell,
    Column,
    empty,
    esc,
    fmt_count,
    fmt_ms,
    fmt_pct,
    frame_table,
    truncated_note,
)

MAX_NODES = 250
MAX_PROBLEM_EDGES = 15
ROW_HEIGHT_PX = 42
_STATUS_ORDER = ("fault", "throttle", "error")
_STATUS_LEGEND = {
    "fault": "calls with faults (5xx)",
    "throttle": "calls throttled",
    "error": "calls with errors (4xx)",
    "ok": "calls without failures",
}


def render_service_map(ctx: RenderContext) -> Section:
    graph = ctx.result.service_graph
    if graph.number_of_nodes() == 0:
        return Section(
            SERVICE_MAP, "Service map", empty("No service nodes: the traces hold no spans.")
        )
    shown = _largest(graph, ctx.result.ranked.busiest_nodes)
    figure = _figure(shown)
    cut = truncated_note(shown.number_of_nodes(), graph.number_of_nodes(), "nodes (the busiest)")
    summary = (
        f"<p>{graph.number_of_nodes():,} nodes and {graph.number_of_edges():,} edges; "
        "columns run from clients (left) to what they call. A node's outline takes the colour "
        "of the worst status it recorded. Hover a node or an edge's arrow for counts and "
        f"latency; click a node for its example traces. {cut}</p>"
    )
    placeholder = ctx.figures.add("fig-service-map", figure)
    body = summary + placeholder + _cycles(ctx) + _problem_edges(ctx.result.ranked.failing_edges)
    return Section(SERVICE_MAP, "Service map", body)


def _largest(graph: nx.DiGraph, busiest: list[str]) -> nx.DiGraph:
    if graph.number_of_nodes() <= MAX_NODES:
        return graph
    return graph.subgraph(busiest[:MAX_NODES])


def edge_status(attrs: Mapping[str, Any]) -> str:
    """The worst thing seen on an edge or node: fault, throttle, error, or ok."""
    for status, column in zip(_STATUS_ORDER, ("faults", "throttles", "errors"), strict=True):
        if (attrs.get(column) or 0) > 0:
            return status
    return "ok"


def _figure(graph: nx.DiGraph) -> go.Figure:
    layout = layered_layout(graph)
    height = min(max(ROW_HEIGHT_PX * layout.tallest_column + 160, 420), 2400)
    figure = new_figure(height_px=height, dragmode="pan", hovermode="closest")
    for status in (*reversed(_STATUS_ORDER), "ok"):
        _add_edges(figure, graph, layout.positions, status)
    _add_nodes(figure, graph, layout.positions)
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    figure.update_layout(
        # NOTE: room either side for the labels of the first and last columns.
        xaxis=hidden | {"range": [-0.6, max(layout.columns - 0.4, 0.6)]},
        yaxis=hidden,
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        margin={"t": 10, "b": 10},
    )
    return figure


def _edge_hover(source: Mapping[str, Any], target: Mapping[str, Any], e: Mapping[str, Any]) -> str:
    rates = "".join(
        f" ({fmt_pct(e[rate])} {what})"
        for rate, what in (("fault_rate", "faults"), ("throttle_rate", "throttled"))
        if e.get(rate) is not None
    )
    return (
        f"{label(source.get('name'))} → {label(target.get('name'))}<br>"
        f"calls {fmt_count(e.get('calls'))}{rates}<br>"
        f"errors {fmt_count(e.get('errors'))} · faults {fmt_count(e.get('faults'))} · "
        f"throttles {fmt_count(e.get('throttles'))}<br>"
        f"p50 {fmt_ms(e.get('p50_ms'))} · p95 {fmt_ms(e.get('p95_ms'))} · "
        f"p99 {fmt_ms(e.get('p99_ms'))}"
    )


def _add_edges(
    figure: go.Figure, graph: nx.DiGraph, pos: Mapping[str, tuple[float, float]], status: str
) -> None:
    line_x: list[float | None] = []
    line_y: list[float | None] = []
    arrow_x: list[float | None] = []
    arrow_y: list[float | None] = []
    hover: list[str] = []
    for source, target, attrs in graph.edges(data=True):
        if edge_status(attrs) != status:
            continue
        (x0, y0), (x1, y1) = pos[source], pos[target]
        if source == target:  # a node calling itself: a short stub above it
            x1, y1 = x0 + 0.15, y0 + 0.35
        line_x += [x0, x1, None]
        line_y += [y0, y1, None]
        # NOTE: the arrow is oriented by the invisible point before it (angleref "previous").
        arrow_x += [x0 + (x1 - x0) * 0.5, x0 + (x1 - x0) * 0.56, None]
        arrow_y += [y0 + (y1 - y0) * 0.5, y0 + (y1 - y0) * 0.56, None]
        text = _edge_hover(graph.nodes[source], graph.nodes[target], attrs)
        hover += [text, text, ""]
    if not line_x:
        return
    colour = palette.STATUS_COLOURS[status]
    width = 1.2 if status == "ok" else 2.4
    figure.add_trace(
        go.Scatter(
            x=line_x,
            y=line_y,
            mode="lines",
            line={"color": colour, "width": width},
            hoverinfo="skip",
            name=_STATUS_LEGEND[status],
            legendgroup=status,
        )
    )
    figure.add_trace(
        go.Scatter(
            x=arrow_x,
            y=arrow_y,
            mode="markers",
            hovertext=hover,
            hoverinfo="text",
            marker={
                "symbol": "arrow",
                "angleref": "previous",
                "size": [0, 11, 0] * (len(hover) // 3),
                "color": colour,
            },
            showlegend=False,
            legendgroup=status,
            name=_STATUS_LEGEND[status],
        )
    )


def _add_nodes(
    figure: go.Figure, graph: nx.DiGraph, pos: Mapping[str, tuple[float, float]]
) -> None:
    by_style: dict[palette.NodeStyle, list[str]] = {}
    for node in graph.nodes:
        style = palette.node_style(str(graph.nodes[node].get("type", "")))
        by_style.setdefault(style, []).append(node)
    for style, nodes in sorted(by_style.items(), key=lambda item: item[0].label):
        attrs = [graph.nodes[n] for n in nodes]
        outline = [palette.STATUS_COLOURS[edge_status(a)] for a in attrs]
        figure.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in nodes],
                y=[pos[n][1] for n in nodes],
                mode="markers+text",
                name=style.label,
                legendgroup=style.label,
                showlegend=False,
                text=[label(a.get("name"), max_chars=26) for a in attrs],
                textposition="bottom center",
                textfont={"size": 10},
                hovertext=[_node_hover(a) for a in attrs],
                hoverinfo="text",
                customdata=[node_anchor(a.get("type"), a.get("name")) for a in attrs],
                marker={
                    "symbol": style.symbol,
                    "color": style.colour,
                    "size": 15,
                    "line": {"color": outline, "width": 2.5},
                },
            )
        )
        # NOTE: a separate legend entry, since a trace's swatch copies its first node's outline.
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=style.label, legendgroup=style.label,
                marker={"symbol": style.symbol, "color": style.colour, "size": 12},
            )
        )  # fmt: skip


def _node_hover(attrs: Mapping[str, Any]) -> str:
    text = (
        f"<b>{label(attrs.get('name'))}</b><br>{label(attrs.get('type'))}<br>"
        f"requests {fmt_count(attrs.get('requests'))} · errors {fmt_count(attrs.get('errors'))}"
        f" · faults {fmt_count(attrs.get('faults'))}"
        f" · throttles {fmt_count(attrs.get('throttles'))}"
    )
    if attrs.get("service_requests") is None:
        return text
    # A function's node includes the Lambda service in front of it (its AWS::Lambda segments).
    return (
        f"{text}<br>Lambda service: {fmt_count(attrs.get('service_requests'))} requests · "
        f"throttled {fmt_count(attrs.get('service_throttles'))} · own time "
        f"p50 {fmt_ms(attrs.get('service_p50_ms'))} · p95 {fmt_ms(attrs.get('service_p95_ms'))}"
    )


def _cycles(ctx: RenderContext) -> str:
    loops = ctx.result.loops
    if loops.is_empty():
        return ""
    items = "".join(
        f"<li>{esc(row['path'])} (closes at {esc(row['closing_resource'])}; "
        f"{fmt_count(row['calls'])} calls on its thinnest edge)</li>"
        for row in loops.head(10).to_dicts()
    )
    return (
        f'<div class="callout"><strong>{loops.height:,} recursive loop(s)</strong> through the '
        f"same resource (bucket, queue, topic, table or function):<ul>{items}</ul></div>"
    )


def _problem_edges(failing: pl.DataFrame) -> str:
    if failing.is_empty():
        return '<p class="ok-line">No call edge recorded an error, fault or throttle.</p>'
    columns = [Column("from"), Column("to")]
    columns += [Column(t, numeric=True) for t in ("calls", "errors", "faults", "throttles")]
    columns += [Column(t, numeric=True) for t in ("p50", "p95", "p99")]
    listing = frame_table(
        failing, columns, _edge_cells, limit=MAX_PROBLEM_EDGES, what="failing edges"
    )
    return "<h3>Edges with failures</h3>" + listing


def _edge_cells(e: dict[str, Any]) -> list[Cell]:
    return [
        Cell.name(e["source"], kind=palette.node_style(e["source_type"]).label),
        Cell.name(e["target"], kind=palette.node_style(e["target_type"]).label),
        Cell.count(e["calls"]),
        Cell.count(e["errors"], alert_nonzero=True),
        Cell.count(e["faults"], alert_nonzero=True),
        Cell.count(e["throttles"], alert_nonzero=True),
        Cell.ms(e["p50_ms"]),
        Cell.ms(e["p95_ms"]),
        Cell.ms(e["p99_ms"]),
    ]
