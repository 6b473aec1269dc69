"""Plotly figures of a report: a shared look, and one JSON block that a small loader draws.

plotly.js is included once per page; each figure is a placeholder ``<div data-figure>`` plus an
entry in one ``<script type="application/json">`` block, so figure data is never executed.
"""

from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from tracelens.report import palette
from tracelens.report.markup import esc, script_safe_json

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
PLOTLY_CONFIG: dict[str, Any] = {
    "responsive": True,
    "displaylogo": False,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
}

# NOTE: a small explicit template: plotly's default one adds ~10 KB of JSON to every figure.
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": FONT, "size": 12, "color": "#222"},
        "colorway": list(palette.SERIES),
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hoverlabel": {"font": {"family": FONT, "size": 12}, "align": "left"},
        "xaxis": {"gridcolor": "#e6e6e6", "zeroline": False, "automargin": True},
        "yaxis": {"gridcolor": "#e6e6e6", "zeroline": False, "automargin": True},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "x": 0,
            "traceorder": "normal",
        },
        "margin": {"l": 10, "r": 10, "t": 30, "b": 40},
    }
)


def label(value: object, *, max_chars: int = 0) -> str:
    """Untrusted text for plotly labels, legends and hover text, which render HTML-like tags.

    ``max_chars`` shortens long names (before escaping, so no entity is cut in half).
    """
    text = "" if value is None else str(value)
    if max_chars and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return esc(text)


# NOTE: plotly checks every property set on a figure against its schema, copying the template
# each time: a third of a report's drawing time at a million segments (its 64 figures, 1.0 ->
# 0.8 s, the same JSON). The figures' properties are fixed by this package, so a report skips
# the checks; the test suite turns them on (tests/conftest.py), so a wrong one fails there.
VALIDATE = False


def new_figure(*, height_px: int, **layout: Any) -> go.Figure:
    """An empty figure with the report's template, a fixed height and a full-width layout.

    Titles are page headings (see :meth:`FigureSet.add`), so they never collide with legends.
    """
    return go.Figure(
        layout={"template": TEMPLATE, "height": height_px, "autosize": True, **layout},
        _validate=VALIDATE,
    )


class FigureSet:
    """The figures of one report, in the order their placeholders appear."""

    def __init__(self) -> None:
        self._json: dict[str, str] = {}
        self._heights: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._json)

    @property
    def ids(self) -> list[str]:
        return list(self._json)

    def add(self, figure_id: str, figure: go.Figure, *, title: str = "", caption: str = "") -> str:
        """Register ``figure`` and return its placeholder markup.

        ``figure_id`` must be a fixed, report-made identifier (never text from traces).
        """
        if figure_id in self._json:
            raise ValueError(f"figure id {figure_id!r} is used twice in one report")
        self._json[figure_id] = pio.to_json(figure, validate=False)
        height = figure.layout.height or 400
        heading = f'<h4 class="chart-title">{esc(title)}</h4>' if title else ""
        note = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
        return (
            f'<figure class="chart">{heading}<div class="figure" id="{esc(figure_id)}" '
            f'data-figure style="min-height:{int(height)}px"></div>{note}</figure>'
        )

    def add_shared(self, key: str, figure: go.Figure) -> None:
        """Register ``figure`` under ``key`` for :meth:`placeholder` (drawn where it is placed,
        once per place, from one copy of its data). ``key`` is report-made, never trace text."""
        if key in self._json:
            raise ValueError(f"figure id {key!r} is used twice in one report")
        self._json[key] = pio.to_json(figure, validate=False)
        self._heights[key] = int(figure.layout.height or 400)

    def placeholder(self, key: str, element_id: str, *, lazy: bool = True) -> str:
        """A placeholder drawing the shared figure ``key``; ``lazy`` ones are drawn only when
        they are revealed (an opened ``<details>`` or a clicked map node)."""
        lazy_attr = " data-lazy" if lazy else ""
        return (
            f'<div class="figure" id="{esc(element_id)}" data-figure="{esc(key)}"{lazy_attr} '
            f'style="min-height:{self._heights[key]}px"></div>'
        )

    def payload(self) -> str:
        """All figures as one JSON object keyed by placeholder id, safe inside ``<script>``."""
        members = ",".join(f"{json.dumps(key)}:{text}" for key, text in self._json.items())
        return script_safe_json("{" + members + "}")
