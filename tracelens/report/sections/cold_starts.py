"""Cold starts per function: how often, of which kind, and how long requests waited."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from analyses.rankings import MAX_COLD_START_FUNCTIONS, MAX_INIT_POINTS
from tracelens.report import palette
from tracelens.report.context import COLD_STARTS, RenderContext, Section
from tracelens.report.figures import label, new_figure
from tracelens.report.markup import Cell, Column, empty, fmt_count, fmt_flag, fmt_pct, frame_table

MAX_FUNCTIONS = MAX_COLD_START_FUNCTIONS
MAX_POINTS = MAX_INIT_POINTS  # init durations drawn per function and kind
ROW_HEIGHT_PX = 30
_KINDS = ("on_demand", "snapstart", "provisioned")
_KIND_OFFSET = {"on_demand": -0.2, "snapstart": 0.0, "provisioned": 0.2}
_QUANTILE_MARKERS = (
    ("init_p50_ms", "p50", "line-ns", 18),
    ("init_p95_ms", "p95", "diamond-open", 10),
    ("init_p99_ms", "p99", "x-thin", 10),
)


def render_cold_starts(ctx: RenderContext) -> Section:
    ranked = ctx.result.ranked.cold_start_functions  # the most cold starts first
    if ranked.is_empty():
        return Section(COLD_STARTS, "Cold starts", empty("No cold start in the traces or logs."))
    drawn = ranked.head(MAX_FUNCTIONS)
    points = ctx.result.ranked.init_points  # of the functions drawn
    body = (
        "<p>User-facing cold starts (on-demand inits and SnapStart restores on the synchronous "
        "path of a request: API Gateway, a load balancer, a function URL, a synchronous "
        "Invoke) delay the request; pre-initialized environments (provisioned concurrency) "
        "were ready before it, and cold starts of asynchronous invocations, of invocations by "
        "a queue's event source mapping (SQS) or of work that ran after the entry had answered "
        "delayed no caller: both are kept apart.</p>"
        + ctx.figures.add(
            "fig-cold-start-counts",
            _counts_figure(drawn),
            title="Cold starts per function, by kind",
        )
        + ctx.figures.add(
            "fig-init-durations",
            _durations_figure(drawn, points),
            title="How long requests waited: init or restore duration (ms)",
            caption=f"Each dot is one traced cold start (at most {MAX_POINTS} per function and "
            "kind, evenly spread over the range); ticks mark the user-facing p50/p95/p99.",
        )
        + _table(ctx, ranked)
        + _async_table(ctx)
    )
    return Section(COLD_STARTS, "Cold starts", body)


def _async_table(ctx: RenderContext) -> str:
    events = ctx.result.async_events
    if events.is_empty():
        return ""

    def cells(r: dict[str, Any]) -> list[Cell]:
        return [
            Cell.name(r["function_name"]),
            Cell.count(r["events"]),
            Cell.count(r["retried_events"], alert_nonzero=True),
            Cell.count(r["max_attempt"]),
            Cell.ms(r["event_age_p50_ms"]),
            Cell.ms(r["event_age_p95_ms"]),
            Cell.ms(r["event_age_max_ms"]),
            Cell(ctx.links.trace_link(r["example_trace_id"])),
        ]

    columns = [
        Column("function"),
        Column("async events", numeric=True, hint="AWS::Lambda segments with Dwell Time"),
        Column("retried", numeric=True, hint="events with an Attempt #2 or later"),
        Column("max attempt", numeric=True),
        Column("event age p50", numeric=True, hint="Dwell Time: waiting in Lambda's queue"),
        Column("event age p95", numeric=True),
        Column("event age max", numeric=True),
        Column("example", hint="the event with the most attempts"),
    ]
    return frame_table(
        events, columns, cells, limit=100, what="functions", title="Asynchronous invocations"
    )


def _counts_figure(drawn: pl.DataFrame) -> go.Figure:
    names = [label(n, max_chars=40) for n in drawn["function_name"]]
    figure = new_figure(height_px=ROW_HEIGHT_PX * drawn.height + 110, barmode="stack")
    hover = [
        f"{label(r['function_name'])}<br>{fmt_count(r['invocations'])} traced invocations<br>"
        f"cold-start rate {fmt_pct(r['cold_start_rate'])} · user-facing "
        f"{fmt_pct(r['user_facing_cold_start_rate'])}"
        for r in drawn.to_dicts()
    ]
    series = [
        (kind, palette.COLD_KIND_LABELS[kind], palette.COLD_KIND_COLOURS[kind]) for kind in _KINDS
    ]
    series.append(("cold_starts_from_logs", "seen only in logs (untraced)", palette.GREY))
    for column, name, colour in series:
        figure.add_trace(
            go.Bar(
                y=names,
                x=drawn[column].to_list(),
                orientation="h",
                name=name,
                marker={"color": colour},
                hovertext=hover,
                hovertemplate="%{hovertext}<br>" + name + ": %{x:,}<extra></extra>",
            )
        )
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(title_text="cold starts")
    return figure


def _durations_figure(drawn: pl.DataFrame, points: pl.DataFrame) -> go.Figure:
    names = drawn.get_column("function_name").to_list()
    row_of = {name: row for row, name in enumerate(names)}
    figure = new_figure(height_px=ROW_HEIGHT_PX * 2 * len(names) + 110)
    for kind in _KINDS:
        chosen = points.filter(pl.col("cold_kind") == kind)
        if chosen.is_empty():
            continue
        # NOTE: kinds sit in bands around the function's row; a fixed jitter keeps dots apart.
        ys = [
            row_of[name] + _KIND_OFFSET[kind] + jitter
            for name, jitter in zip(chosen["function_name"], chosen["jitter"], strict=True)
        ]
        figure.add_trace(
            go.Scatter(
                x=chosen["init_ms"].to_list(),
                y=ys,
                mode="markers",
                name=palette.COLD_KIND_LABELS[kind],
                marker={"color": palette.COLD_KIND_COLOURS[kind], "size": 6, "opacity": 0.75},
                hovertemplate="%{x:,.1f} ms<extra>" + palette.COLD_KIND_LABELS[kind] + "</extra>",
            )
        )
    for column, name, symbol, size in _QUANTILE_MARKERS:
        figure.add_trace(
            go.Scatter(
                x=drawn[column].to_list(),
                y=list(range(len(names))),
                mode="markers",
                name=f"user-facing {name}",
                marker={
                    "symbol": symbol,
                    "size": size,
                    "color": palette.BLACK,
                    "line": {"width": 2, "color": palette.BLACK},
                },
                hovertemplate=f"user-facing {name} " + "%{x:,.1f} ms<extra></extra>",
            )
        )
    figure.update_yaxes(
        tickmode="array",
        tickvals=list(range(len(names))),
        ticktext=[label(n, max_chars=40) for n in names],
        range=[len(names) - 0.5, -0.5],
        showgrid=False,
    )
    figure.update_xaxes(title_text="ms", rangemode="tozero")
    return figure


def _table(ctx: RenderContext, ranked: pl.DataFrame) -> str:
    def cells(r: dict[str, Any]) -> list[Cell]:
        return [
            Cell.name(r["function_name"]),
            Cell.count(r["memory_size_mb"]),
            Cell.text(fmt_flag(r["vpc_attached"])),
            Cell.count(r["invocations"]),
            Cell.count(r["on_demand"]),
            Cell.count(r["snapstart"]),
            Cell.count(r["provisioned"]),
            Cell.count(r["cold_starts_from_logs"]),
            Cell.count(r["off_path_cold_starts"]),
            Cell.pct(r["user_facing_cold_start_rate"]),
            Cell.ms(r["init_p50_ms"]),
            Cell.ms(r["init_p95_ms"]),
            Cell.ms(r["init_p99_ms"]),
            Cell.ms(r["init_max_ms"]),
            Cell.ms(r["provisioned_init_p50_ms"]),
            Cell.count(r["timeouts"], alert_nonzero=True),
            Cell(ctx.links.trace_link(r["example_trace_id"])),
        ]

    columns = [
        Column("function"),
        Column("memory MB", numeric=True),
        Column("VPC"),
        Column("invocations", numeric=True, hint="traced executions"),
        Column("on-demand", numeric=True),
        Column("SnapStart", numeric=True),
        Column("pre-init", numeric=True, hint="provisioned / pre-initialized environments"),
        Column("logs only", numeric=True, hint="REPORT init durations with no trace"),
        Column(
            "no caller",
            numeric=True,
            hint="cold starts of async or queue-triggered invocations, or after the answer",
        ),
        Column(
            "user-facing rate",
            numeric=True,
            hint="synchronous on-demand + SnapStart cold starts / synchronous invocations",
        ),
        Column("init p50", numeric=True),
        Column("init p95", numeric=True),
        Column("init p99", numeric=True),
        Column("init max", numeric=True),
        Column("pre-init p50", numeric=True),
        Column("timeouts", numeric=True),
        Column("slowest", hint="the traced user-facing cold start with the longest init"),
    ]
    return frame_table(ranked, columns, cells, limit=100, what="functions")
