"""Throttles: when, on which function or API, who absorbed the 429s, and why."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from tracelens.report import palette
from tracelens.report.context import THROTTLES, RenderContext, Section
from tracelens.report.figures import TEMPLATE, label
from tracelens.report.markup import Cell, Column, empty, fmt_count, fmt_time, frame_table

MAX_SUBJECTS = 8
# NOTE: the timeline's buckets are minutes; a fixed width keeps a lone bar from shrinking to a
# hairline (plotly sizes bars by the smallest gap between x values).
BAR_WIDTH_MS = 0.8 * 60_000
MAX_ROWS = 30
CAUSE_LABELS = {
    "reserved_concurrency_zero": "reserved concurrency is 0",
    "reserved_concurrency_reached": "reserved concurrency reached",
    "account_concurrency_limit": "account concurrency limit",
    "burst_scaling": "burst scaling",
    "unknown": "unknown (give metrics and configuration)",
    "downstream_api_limit": "downstream API limit",
}
_NO_THROTTLES = (
    "No throttles: no 429 or throttling exception in the traces and no Throttles datapoint "
    "in the metrics."
)
# Each chart: its title, its subjects (analyses.rankings.throttle_subjects) and kinds drawn.
_PANELS = (
    ("Lambda invocations refused (429)", "invocation", ("invocation", "metric")),
    ("Downstream API calls throttled", "downstream", ("downstream",)),
)


def render_throttles(ctx: RenderContext) -> Section:
    result = ctx.result
    timeline = result.throttle_timeline
    frames = (timeline, result.invocation_throttles, result.downstream_throttles)
    if all(frame.is_empty() for frame in frames):
        return Section(THROTTLES, "Throttles", empty(_NO_THROTTLES))
    parts = []
    if not timeline.is_empty():
        parts.append(
            ctx.figures.add(
                "fig-throttle-timeline",
                _timeline(timeline, result.ranked.throttle_subjects),
                title="Throttles per minute",
                caption="Bars count throttles seen in the sampled traces; diamonds are "
                "CloudWatch's Throttles metric, which counts every request.",
            )
        )
    parts.append(_invocation_table(ctx))
    parts.append(_downstream_table(ctx))
    return Section(THROTTLES, "Throttles", "".join(parts))


def _timeline(timeline: pl.DataFrame, subjects: pl.DataFrame) -> go.Figure:
    panels = [panel for panel in _PANELS if timeline["kind"].is_in(panel[2]).any()]
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=[title for title, _, _ in panels],
    )
    colours: dict[str, str] = {}  # one colour per subject across panels
    for row, (_, chart, kinds) in enumerate(panels, start=1):
        chosen = subjects.filter(pl.col("chart") == chart).head(MAX_SUBJECTS)
        for subject in chosen.get_column("subject"):
            colour = colours.setdefault(subject, palette.series_colour(len(colours)))
            for kind in kinds:
                _add_series(figure, timeline, subject, kind, colour, row)
    figure.update_layout(
        template=TEMPLATE,
        height=260 * len(panels) + 80,
        barmode="stack",
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.12, "yanchor": "top"},
    )
    figure.update_yaxes(title_text="per minute", rangemode="tozero")
    return figure


def _add_series(
    figure: go.Figure, timeline: pl.DataFrame, subject: str, kind: str, colour: str, row: int
) -> None:
    points = timeline.filter((pl.col("subject") == subject) & (pl.col("kind") == kind))
    if points.is_empty():
        return
    name = label(subject, max_chars=40)
    common = {
        "x": points["minute"].to_list(),
        "y": points["throttled"].to_list(),
        "legendgroup": f"{row}-{colour}",
        "hovertemplate": "%{y:,}",
    }
    if kind == "metric":
        # NOTE: markers only: the timeline lists non-zero minutes, and a line would bridge gaps.
        trace = go.Scatter(
            **common,
            mode="markers",
            name=f"{name} (CloudWatch, all requests)",
            marker={"color": colour, "symbol": "diamond-open", "size": 9, "line": {"width": 2}},
        )
    else:
        trace = go.Bar(
            **common,
            name=f"{name} (traced)",
            marker={"color": colour},
            width=[BAR_WIDTH_MS] * points.height,
        )
    figure.add_trace(trace, row=row, col=1)


def _invocation_table(ctx: RenderContext) -> str:
    def cells(r: dict[str, Any]) -> list[Cell]:
        return [
            Cell.name(r["target"]),
            Cell.name(r["source"]),
            Cell.name(r["absorbed_by"]),
            Cell.text(CAUSE_LABELS.get(r["cause"], r["cause"])),
            Cell.at_least(r["throttled_attempts"], r.get("retries_unknown")),
            Cell.count(r["throttled_calls"]),
            Cell.count(r["recovered_calls"]),
            *_seen(ctx, r),
        ]

    columns = [
        Column("function"),
        Column("caller"),
        Column("absorbed by", hint="the service that received the 429s"),
        Column("cause"),
        Column(
            "attempts",
            numeric=True,
            hint="throttled attempts incl. retries; 'at least' when a call records no retries",
        ),
        Column("calls", numeric=True, hint="caller calls with a throttled attempt"),
        Column("recovered", numeric=True, hint="calls whose retries got through"),
        Column("first"),
        Column("last"),
        Column("example"),
    ]
    return frame_table(
        ctx.result.invocation_throttles,
        columns,
        cells,
        limit=MAX_ROWS,
        title="Throttled invocations",
        if_empty="No Lambda invocation was throttled in the traces.",
    )


def _downstream_table(ctx: RenderContext) -> str:
    def cells(r: dict[str, Any]) -> list[Cell]:
        return [
            Cell.name(r["source"]),
            Cell.name(r["service"]),
            Cell.name(r["resource"]),
            Cell.text(r["operation"]),
            Cell.number(r["throttled_calls"], fmt_count(r["throttled_calls"]), alert=True),
            Cell.count(r["calls"]),
            Cell.pct(r["throttle_rate"]),
            Cell.count(r["retries"]),
            Cell.text(r["exception_type"]),
            *_seen(ctx, r),
        ]

    columns = [
        Column("caller"),
        Column("service"),
        Column("resource"),
        Column("operation"),
        Column("throttled", numeric=True),
        Column("calls", numeric=True),
        Column("rate", numeric=True),
        Column("retries", numeric=True, hint="SDK retries; \u2013 where no call recorded them"),
        Column("exception"),
        Column("first"),
        Column("last"),
        Column("example"),
    ]
    return frame_table(
        ctx.result.downstream_throttles,
        columns,
        cells,
        limit=MAX_ROWS,
        title="Throttled downstream calls",
        if_empty="No downstream call was throttled.",
    )


def _seen(ctx: RenderContext, r: dict[str, Any]) -> list[Cell]:
    """The first, last and example cells every throttle table ends with."""
    return [
        Cell.text(fmt_time(r["first_time"]), css_class="time"),
        Cell.text(fmt_time(r["last_time"]), css_class="time"),
        Cell(ctx.links.trace_link(r["example_trace_id"])),
    ]
