"""Over time: per minute, the entry points and functions that matter most (``analyses.timeline``).

Each figure stacks one panel per measure on a shared time axis; a series per entry point or
function (the first ``MAX_SERIES`` by failures, as the tables order them). CloudWatch sums are
drawn dashed beside the traced counts when metrics were given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from tracelens.report import palette
from tracelens.report.context import TIMELINE, RenderContext, Section
from tracelens.report.figures import TEMPLATE, label
from tracelens.report.markup import empty

MAX_SERIES = 8
PANEL_HEIGHT_PX = 130


@dataclass(frozen=True)
class Panel:
    title: str
    column: str
    hover: str  # plotly hover template for the value (after the series name and minute)
    digits: int  # decimals kept: enough to read, few enough to keep the page small
    cloudwatch: str | None = None  # the CloudWatch column drawn dashed beside it
    count: bool = False  # a minute without traced requests is 0 (else a gap in the line)


_ENTRY_PANELS = (
    Panel("requests", "requests", "%{y:,} requests", 0, count=True),
    Panel("error rate (4xx+5xx)", "error_rate", "%{y:.1%} failed", 4),
    Panel(
        "p95 latency (ms)",
        "p95_ms",
        "p95 %{y:,.0f} ms (p50 %{customdata[0]:,.0f}, p99 %{customdata[1]:,.0f})",
        1,
    ),
    Panel("throttled", "throttled", "%{y:,} throttled", 0, count=True),
    Panel("cold starts", "cold_starts", "%{y:,} waited for a cold start", 0, count=True),
)
_FUNCTION_PANELS = (
    Panel("invocations", "invocations", "%{y:,} invocations", 0, "cw_invocations", True),
    Panel("error rate", "error_rate", "%{y:.1%} failed", 4),
    Panel(
        "p95 duration (ms)",
        "p95_ms",
        "p95 %{y:,.0f} ms (p50 %{customdata[0]:,.0f}, p99 %{customdata[1]:,.0f})",
        1,
    ),
    Panel("throttled", "throttled", "%{y:,} throttled", 0, "cw_throttles", True),
    Panel("cold starts", "cold_starts", "%{y:,} cold starts", 0, count=True),
)


def _per(bucket_s: int) -> str:
    minutes = max(bucket_s // 60, 1)
    return "per minute" if minutes == 1 else f"per {minutes} minutes"


def render_timeline(ctx: RenderContext) -> Section:
    result = ctx.result
    per = _per(result.timeline_bucket_s)
    keys = ("entry", "entry_type")
    entries = result.entry_points.head(MAX_SERIES).select(keys).rows()
    ranked = result.ranked.functions_by_failures.head(MAX_SERIES).get_column("function_name")
    functions = [(name,) for name in ranked if name]
    parts = []
    if entries and not result.entry_timeline.is_empty():
        figure = _figure(result.entry_timeline, keys, entries, _ENTRY_PANELS)
        parts.append(
            ctx.figures.add(
                "fig-timeline-entries",
                figure,
                title=f"Entry points {per}",
                caption=_caption(len(entries), result.entry_points.height, "entry points", per),
            )
        )
    if functions and not result.function_timeline.is_empty():
        figure = _figure(result.function_timeline, ("function_name",), functions, _FUNCTION_PANELS)
        has_metrics = result.function_timeline.get_column("cw_invocations").null_count() < (
            result.function_timeline.height
        )
        extra = (
            " Dashed: CloudWatch sums (all requests, not only traced ones)."
            if has_metrics
            else " No CloudWatch metrics were given: traced counts only."
        )
        parts.append(
            ctx.figures.add(
                "fig-timeline-functions",
                figure,
                title=f"Functions {per}",
                caption=_caption(len(functions), result.functions.height, "functions", per) + extra,
            )
        )
    body = "".join(parts) or empty("No requests over time: the traces hold no spans.")
    return Section(TIMELINE, "Over time", body)


def _caption(shown: int, total: int, what: str, per: str) -> str:
    first = f"The first {shown} of {total:,} {what}, most failures first." if total > shown else ""
    return (
        f"{first} Counts are {per}. A time without traced requests counts 0 and leaves a gap "
        "in rates and latency."
    ).strip()


def _series_label(series: tuple[str | None, ...], repeated: set[str | None]) -> str:
    """A series' name, with its type where two series share the name (an entry point is keyed
    by name and type)."""
    name, *kind = series
    shown: object = f"{name} ({kind[0]})" if kind and name in repeated else name
    return label(shown, max_chars=60)


def _figure(
    timeline: pl.DataFrame,
    keys: tuple[str, ...],
    series: Sequence[tuple[str | None, ...]],
    panels: tuple[Panel, ...],
) -> go.Figure:
    """One panel per measure; a line per key of ``series`` (values of ``keys``)."""
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.035,
        subplot_titles=[p.title for p in panels],
    )
    # NOTE: each series is drawn on every minute of the timeline, so that a minute without
    # requests is 0 on a count and a gap on a rate or percentile, never a line across it.
    grid = timeline.select("minute").unique().sort("minute")
    names = [key[0] for key in series]
    repeated = {name for i, name in enumerate(names) if name in names[:i]}
    for index, key in enumerate(series):
        matching = pl.all_horizontal(
            pl.col(column).eq_missing(value) for column, value in zip(keys, key, strict=True)
        )
        rows = grid.join(timeline.filter(matching), on="minute", how="left")
        rows = rows.with_columns(pl.col(p.column).fill_null(0) for p in panels if p.count)
        rows = rows.with_columns(
            *(pl.col(p.column).round(p.digits) for p in panels),
            pl.col("p50_ms", "p99_ms").round(1),
        )
        colour = palette.SERIES[index % len(palette.SERIES)]
        shown = _series_label(key, repeated)
        minutes = rows.get_column("minute").to_list()
        extra = rows.select("p50_ms", "p99_ms").rows()
        # NOTE: times as short strings; plotly's own form repeats the UTC offset on each.
        minutes = [m.strftime("%Y-%m-%d %H:%M") if m is not None else None for m in minutes]
        for row, panel in enumerate(panels, start=1):
            figure.add_trace(
                go.Scatter(
                    x=minutes,
                    y=rows.get_column(panel.column).to_list(),
                    customdata=extra if panel.column == "p95_ms" else None,
                    mode="lines+markers",
                    marker={"size": 4},
                    line={"color": colour, "width": 1.6},
                    name=shown,
                    legendgroup=f"s{index}",
                    showlegend=row == 1,
                    hovertemplate=f"{shown}<br>%{{x}}<br>{panel.hover}<extra></extra>",
                ),
                row=row,
                col=1,
            )
            if panel.cloudwatch is not None:
                values = rows.get_column(panel.cloudwatch)
                if values.null_count() == values.len():
                    continue
                figure.add_trace(
                    go.Scatter(
                        x=minutes,
                        y=values.round(0).to_list(),
                        mode="lines",
                        line={"color": colour, "width": 1.2, "dash": "dash"},
                        name=f"{shown} (CloudWatch)",
                        legendgroup=f"s{index}",
                        showlegend=False,
                        hovertemplate=f"{shown}<br>%{{x}}<br>CloudWatch %{{y:,.0f}}<extra></extra>",
                    ),
                    row=row,
                    col=1,
                )
    figure.update_layout(
        template=TEMPLATE,
        height=PANEL_HEIGHT_PX * len(panels) + 120,
        autosize=True,
        hovermode="closest",
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        margin={"t": 70},
    )
    # panel titles sit at the top right of each panel, clear of the legend at the top left
    figure.update_annotations(font={"size": 11}, x=1, xanchor="right")
    for row, panel in enumerate(panels, start=1):
        if panel.column == "error_rate":
            figure.update_yaxes(tickformat=".0%", rangemode="tozero", row=row, col=1)
        else:
            figure.update_yaxes(rangemode="tozero", row=row, col=1)
    return figure
