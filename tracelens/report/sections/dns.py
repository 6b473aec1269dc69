"""VPC DNS latency: lookups per function and host, cold vs warm, VPC vs not; connection reuse."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from tracelens.report import palette
from tracelens.report.context import DNS, RenderContext, Section
from tracelens.report.figures import label, new_figure
from tracelens.report.markup import MISSING, Cell, Column, empty, fmt_flag, frame_table

MAX_ROWS_DRAWN = 25
MAX_ROWS_LISTED = 50
ROW_HEIGHT_PX = 30
_MARKERS = (
    ("p50_ms", "p50 (all)", "circle", palette.BLACK),
    ("p95_ms", "p95 (all)", "diamond", palette.BLACK),
    ("max_ms", "max", "x-thin", palette.GREY),
    ("cold_p50_ms", "p50 on cold starts", "triangle-up", palette.VERMILLION),
    ("warm_p50_ms", "p50 on warm invocations", "triangle-down", palette.BLUE),
)


def render_dns(ctx: RenderContext) -> Section:
    dns = ctx.result.dns
    setup = ctx.result.connection_setup
    if dns.is_empty() and setup.is_empty():
        return Section(
            DNS,
            "VPC DNS latency",
            empty(
                "No DNS lookups or connection steps recorded inside functions "
                "(the instrumentation adds them: X-Ray Go SDK, OpenTelemetry Go/Node)."
            ),
        )
    parts = []
    if not dns.is_empty():
        drawn = dns.head(MAX_ROWS_DRAWN)
        parts.append(
            ctx.figures.add(
                "fig-dns-latency",
                _figure(drawn),
                title="DNS lookup duration (ms, log scale)",
                caption="Rows are the (function, host) pairs with the most lookup time; "
                "the grey line spans p50 to max.",
            )
        )
        parts.append(_dns_table(dns))
    parts.append(_setup_table(setup))
    return Section(DNS, "VPC DNS latency", "".join(parts))


def _row_label(row: dict[str, object]) -> str:
    vpc = {True: "VPC", False: "no VPC", None: "VPC?"}[row["vpc_attached"]]  # type: ignore[index]
    host = row["host"] if row["host"] is not None else "(unknown host)"
    return f"{label(row['service'], max_chars=30)} → {label(host, max_chars=36)} [{vpc}]"


def _figure(drawn: pl.DataFrame) -> go.Figure:
    rows = drawn.to_dicts()
    names = [_row_label(r) for r in rows]
    figure = new_figure(height_px=ROW_HEIGHT_PX * len(rows) + 130)
    range_x: list[float | None] = []
    range_y: list[str | None] = []
    for name, r in zip(names, rows, strict=True):
        if r["p50_ms"] is not None and r["max_ms"] is not None:
            range_x += [r["p50_ms"], r["max_ms"], None]
            range_y += [name, name, None]
    figure.add_trace(
        go.Scatter(
            x=range_x,
            y=range_y,
            mode="lines",
            hoverinfo="skip",
            line={"color": palette.LIGHT_GREY, "width": 3},
            showlegend=False,
        )
    )
    for column, title, symbol, colour in _MARKERS:
        figure.add_trace(
            go.Scatter(
                x=drawn[column].to_list(),
                y=names,
                mode="markers",
                name=title,
                marker={
                    "symbol": symbol,
                    "size": 9,
                    "color": colour,
                    "line": {"width": 1.5, "color": colour},
                },
                hovertemplate=f"{title}: " + "%{x:,.1f} ms<extra></extra>",
            )
        )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(type="log", title_text="ms")
    return figure


def _dns_table(dns: pl.DataFrame) -> str:
    columns = [
        Column("function / service"),
        Column("host"),
        Column("VPC"),
        Column("lookups", numeric=True),
        Column("failures", numeric=True),
        Column("p50", numeric=True),
        Column("p95", numeric=True),
        Column("max", numeric=True),
        Column("cold", numeric=True, hint="lookups on cold invocations"),
        Column("cold p50", numeric=True),
        Column("warm", numeric=True),
        Column("warm p50", numeric=True),
        Column(
            "share of invocation",
            numeric=True,
            hint="lookup time / duration of the invocations that looked up",
        ),
    ]
    return frame_table(dns, columns, _dns_cells, limit=MAX_ROWS_LISTED)


def _dns_cells(r: dict[str, Any]) -> list[Cell]:
    return [
        Cell.name(r["service"]),
        Cell.name(r["host"]),
        Cell.text(fmt_flag(r["vpc_attached"])),
        Cell.count(r["lookups"]),
        Cell.count(r["failures"], alert_nonzero=True),
        Cell.ms(r["p50_ms"]),
        Cell.ms(r["p95_ms"]),
        Cell.ms(r["max_ms"]),
        Cell.count(r["cold_lookups"]),
        Cell.ms(r["cold_p50_ms"]),
        Cell.count(r["warm_lookups"]),
        Cell.ms(r["warm_p50_ms"]),
        Cell.pct(r["invocation_share"]),
    ]


def _setup_table(setup: pl.DataFrame) -> str:
    columns = [
        Column("function"),
        Column("host"),
        Column("calls", numeric=True),
        Column("new connections", numeric=True),
        Column("per call", numeric=True, hint="near 1: connections are not kept alive"),
        Column("TCP connects", numeric=True),
        Column("TLS handshakes", numeric=True),
    ]
    return frame_table(
        setup,
        columns,
        _setup_cells,
        limit=MAX_ROWS_LISTED,
        title="Connection set-up on warm invocations",
        if_empty="No connection set-up steps recorded.",
    )


def _setup_cells(r: dict[str, Any]) -> list[Cell]:
    per_call = r["new_connections_per_call"]
    return [
        Cell.name(r["function_name"]),
        Cell.name(r["host"]),
        Cell.count(r["calls"]),
        Cell.count(r["new_connections"]),
        Cell.number(per_call, MISSING if per_call is None else f"{per_call:.2f}"),
        Cell.count(r["dials"]),
        Cell.count(r["tls_handshakes"]),
    ]
