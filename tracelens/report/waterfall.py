"""One trace drawn as a waterfall: a bar per span, nested under its parent, in start order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import plotly.graph_objects as go
import polars as pl

from tracelens.report import palette
from tracelens.report.figures import label, new_figure
from tracelens.report.markup import fmt_ms

MAX_SPANS = 120
ROW_HEIGHT_PX = 20
# NOTE: tick labels are right-aligned, so nesting shows as a prefix mark per level.
_LEVEL = "\u203a"
_NO_OUTLINE = "rgba(0,0,0,0)"


def span_rows(spans: pl.DataFrame, trace_id: str) -> list[dict[str, Any]]:
    """The spans of one trace in tree order (parents before children, siblings by start),
    each with ``level`` (nesting) and ``offset_ms`` (start after the trace's first span)."""
    # NOTE: inferred segments repeat the call they were derived from (the critical path
    # leaves them out too), so drawing them would show every downstream call twice.
    trace = spans.filter(
        (pl.col("trace_id") == trace_id) & ~pl.col("inferred").fill_null(value=False)
    )
    if trace.is_empty():
        return []
    first = trace.get_column("start_time").min()
    if first is None:  # no start time that can be shown (see tracelens.report.times)
        return []
    rows = (
        trace.with_columns(
            offset_ms=(pl.col("start_time") - pl.lit(first)).dt.total_microseconds() / 1000.0
        )
        .sort(["start_time", "depth", "id"])
        .to_dicts()
    )
    return list(_tree_order(rows))


def _tree_order(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    ids = {row["id"] for row in rows}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:  # rows are few: one trace, already sorted by start
        parent = row["parent_id"] if row["parent_id"] in ids else None
        children.setdefault(parent, []).append(row)
    stack = [(row, 0) for row in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:
        row, level = stack.pop()
        if row["id"] in seen:  # a malformed trace whose parents loop
            continue
        seen.add(row["id"])
        yield {**row, "level": level}
        stack += [(child, level + 1) for child in reversed(children.get(row["id"], []))]


def waterfall_figure(rows: list[dict[str, Any]], on_path: set[str] | None) -> go.Figure:
    """Bars for ``rows`` (from :func:`span_rows`, at most ``MAX_SPANS``); spans whose id is in
    ``on_path`` are highlighted as the critical path (None: no critical path is drawn)."""
    rows = rows[:MAX_SPANS]
    figure = new_figure(
        height_px=ROW_HEIGHT_PX * len(rows) + 110, barmode="overlay", showlegend=True
    )
    groups = (
        ((True, "span", palette.BLUE),)
        if on_path is None
        else (
            (True, "on the critical path", palette.BLUE),
            (False, "off the critical path", palette.LIGHT_GREY),
        )
    )
    for highlighted, name, colour in groups:
        chosen = [
            (i, r)
            for i, r in enumerate(rows)
            if on_path is None or (r["id"] in on_path) == highlighted
        ]
        if not chosen:
            continue
        _legend_entry(figure, name, colour, _NO_OUTLINE)
        figure.add_trace(
            go.Bar(
                y=[i for i, _ in chosen],
                x=[r["duration_ms"] or 0.0 for _, r in chosen],
                base=[r["offset_ms"] for _, r in chosen],
                orientation="h",
                name=name,
                showlegend=False,
                marker={
                    "color": colour,
                    "line": {"color": [_outline(r) for _, r in chosen], "width": 2},
                },
                hovertext=[_hover(r) for _, r in chosen],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    if any(_outline(r) != _NO_OUTLINE for r in rows):
        _legend_entry(figure, "outline: error / fault / throttle", "white", palette.VERMILLION)
    figure.update_yaxes(
        tickmode="array",
        tickvals=list(range(len(rows))),
        ticktext=[_LEVEL * r["level"] + label(r["name"], max_chars=40) for r in rows],
        autorange="reversed",
        tickfont={"size": 10},
    )
    figure.update_xaxes(title_text="ms since the trace started", rangemode="tozero")
    return figure


def _legend_entry(figure: go.Figure, name: str, colour: str, outline: str) -> None:
    """A legend item with a clean swatch (a real trace's swatch takes its first bar's outline)."""
    figure.add_trace(
        go.Bar(
            x=[None], y=[None], orientation="h", name=name, hoverinfo="skip",
            marker={"color": colour, "line": {"color": outline, "width": 2}},
        )
    )  # fmt: skip


def _outline(row: Mapping[str, Any]) -> str:
    if row["fault"]:
        return palette.STATUS_COLOURS["fault"]
    if row["throttle"]:
        return palette.STATUS_COLOURS["throttle"]
    return palette.STATUS_COLOURS["error"] if row["error"] else _NO_OUTLINE


def _hover(row: Mapping[str, Any]) -> str:
    what = " · ".join(
        label(row[k], max_chars=80)
        for k in ("origin", "aws_operation", "aws_resource", "host")
        if row.get(k)
    )
    flags = [k for k in ("error", "fault", "throttle") if row.get(k)]
    duration = "in progress" if row["duration_ms"] is None else fmt_ms(row["duration_ms"])
    lines = [
        f"<b>{label(row['name'], max_chars=80)}</b>",
        what,
        f"starts +{fmt_ms(row['offset_ms'])} · {duration}",
        ", ".join(flags),
    ]
    if row.get("exception_type"):
        lines.append(
            f"{label(row['exception_type'], max_chars=80)}: "
            f"{label(row.get('exception_message'), max_chars=160)}"
        )
    return "<br>".join(line for line in lines if line)
