"""HTML building blocks: escaping, number formatting and tables.

Everything that comes from traces (names, URLs, hosts, messages, file names) is untrusted: it
enters markup only through :func:`esc` or a :class:`Cell` made with :meth:`Cell.text`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

MISSING = "\u2013"  # an en dash: a missing value
_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@cache
def stylesheet() -> str:
    """The report's CSS (``report.css``): every page tracelens writes uses it."""
    return resources.files("tracelens.report").joinpath("report.css").read_text("utf-8")


def esc(value: object) -> str:
    """``value`` as text safe in HTML content and quoted attributes (None gives "")."""
    return "" if value is None else html.escape(str(value), quote=True)


def script_safe_json(json_text: str) -> str:
    """JSON text safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` remains.

    NOTE: those characters can only occur inside JSON strings, where the ``\\uXXXX`` escapes
    decode to the same text, so the data is unchanged while ``</script>`` can never appear.
    """
    for raw, escaped in _SCRIPT_ESCAPES.items():
        json_text = json_text.replace(raw, escaped)
    return json_text


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_ms(value: float | None) -> str:
    """A duration in milliseconds: one decimal below 100 ms, whole milliseconds above."""
    if value is None or _missing(value):
        return MISSING
    return f"{value:,.1f} ms" if abs(value) < 100 else f"{value:,.0f} ms"


def fmt_count(value: int | float | None) -> str:
    if value is None or _missing(value):
        return MISSING
    return f"{int(value):,}"


def fmt_at_least(value: int | None, unknown: int | None) -> str:
    """A count of throttled attempts, "≥ N" when ``unknown`` of its calls record no
    ``retries`` field (the count is then a lower bound)."""
    shown = fmt_count(value)
    return f"≥ {shown}" if (unknown or 0) > 0 and value is not None else shown


def fmt_pct(ratio: float | None) -> str:
    """A 0..1 ratio as a percentage."""
    if ratio is None or _missing(ratio):
        return MISSING
    percent = ratio * 100.0
    return f"{percent:.2f}%" if 0 < percent < 0.1 else f"{percent:.1f}%"


def fmt_time(value: datetime | None) -> str:
    if value is None:
        return MISSING
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_flag(value: bool | None, *, yes: str = "yes", no: str = "no") -> str:
    if value is None:
        return "unknown"
    return yes if value else no


@dataclass(frozen=True)
class Cell:
    """One table cell: markup already made safe, and the value the column sorts by."""

    markup: str
    sort_value: str | float | None = None
    css_class: str = ""
    tooltip: str = ""  # plain text, escaped when drawn

    @classmethod
    def text(cls, value: object, *, css_class: str = "") -> Cell:
        """A cell showing untrusted text."""
        shown = MISSING if value is None else str(value)
        return cls(esc(shown), None if value is None else str(value), css_class)

    @classmethod
    def name(cls, value: object, *, kind: str = "") -> Cell:
        """A name (function, host, node) kept on one line, shortened with an ellipsis when
        long; the full name shows on hover. ``kind`` is a small label after it."""
        shown = MISSING if value is None else str(value)
        suffix = f' <span class="kind">{esc(kind)}</span>' if kind else ""
        return cls(esc(shown) + suffix, None if value is None else shown, "name", shown)

    @classmethod
    def count(cls, value: int | None, *, alert_nonzero: bool = False) -> Cell:
        """A count; ``alert_nonzero`` highlights it when above zero (faults, throttles)."""
        return cls.number(value, fmt_count(value), alert=alert_nonzero and (value or 0) > 0)

    @classmethod
    def number(cls, value: float | None, shown: str, *, alert: bool = False) -> Cell:
        """A numeric cell; ``alert`` highlights it (e.g. non-zero faults)."""
        css = "num alert" if alert else "num"
        return cls(esc(shown), None if _missing(value) else value, css)

    @classmethod
    def at_least(cls, value: int | None, unknown: int | None) -> Cell:
        """A count of throttled attempts, "≥ N" when ``unknown`` of its calls record no
        ``retries`` field (the count is then a lower bound, :func:`fmt_at_least`);
        highlighted when above zero."""
        return cls.number(value, fmt_at_least(value, unknown), alert=(value or 0) > 0)

    @classmethod
    def ms(cls, value: float | None) -> Cell:
        """A duration in milliseconds (:func:`fmt_ms`), sorted by its value."""
        return cls.number(value, fmt_ms(value))

    @classmethod
    def pct(cls, ratio: float | None) -> Cell:
        """A 0..1 ratio as a percentage (:func:`fmt_pct`), sorted by its value."""
        return cls.number(ratio, fmt_pct(ratio))


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False
    hint: str = ""  # tooltip explaining the column


def table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, note: str = "") -> str:
    """A sortable table (click a header); ``note`` is trusted markup shown below it."""
    head = "".join(
        f'<th scope="col"{_title_attr(c.hint)} class="{"num" if c.numeric else ""}">'
        f"{esc(c.title)}</th>"
        for c in columns
    )
    body = "".join("<tr>" + "".join(_td(cell) for cell in row) + "</tr>" for row in rows)
    foot = f'<p class="table-note">{note}</p>' if note else ""
    return (
        f'<div class="table-wrap"><table class="data sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{foot}"
    )


def _title_attr(hint: str) -> str:
    return f' title="{esc(hint)}"' if hint else ""


def _td(cell: Cell) -> str:
    sort = "" if cell.sort_value is None else f' data-sort="{esc(cell.sort_value)}"'
    css = f' class="{esc(cell.css_class)}"' if cell.css_class else ""
    return f"<td{css}{sort}{_title_attr(cell.tooltip)}>{cell.markup}</td>"


def truncated_note(shown: int, total: int, what: str) -> str:
    """ "Showing the first 50 of 812 rows" when a list was cut, else ""."""
    if total <= shown:
        return ""
    return f"Showing the first {shown:,} of {total:,} {esc(what)}."


def frame_table(
    frame: pl.DataFrame,
    columns: Sequence[Column],
    cells: Callable[[dict[str, Any]], Sequence[Cell]],
    *,
    limit: int,
    what: str = "rows",
    title: str = "",
    if_empty: str | None = None,
) -> str:
    """The first ``limit`` rows of ``frame`` as a :func:`table`, each row drawn by ``cells``,
    with a note when rows were left out ("Showing the first 30 of 41 ``what``").

    ``title`` (plain text) heads it as an ``<h3>``; with ``if_empty``, an empty ``frame``
    shows that line (:func:`empty`) instead of a table.
    """
    heading = f"<h3>{esc(title)}</h3>" if title else ""
    if if_empty is not None and frame.is_empty():
        return heading + empty(if_empty)
    shown = frame.head(limit)
    rows = [cells(r) for r in shown.to_dicts()]
    note = truncated_note(shown.height, frame.height, what)
    return heading + table(columns, rows, note=note)


def table_note(shown: int, total: int, what: str) -> str:
    """:func:`truncated_note` as a paragraph under a list or chart ("" when nothing was cut)."""
    note = truncated_note(shown, total, what)
    return f'<p class="table-note">{note}</p>' if note else ""


def empty(message: str) -> str:
    """The one line a section shows instead of an empty chart."""
    return f'<p class="empty">{esc(message)}</p>'
