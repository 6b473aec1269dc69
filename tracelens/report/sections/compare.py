"""Compared with a baseline window: what changed per entry point, function and edge, and which
findings are new or gone (``analyses.compare``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from tracelens.report.context import COMPARE, RenderContext, Section
from tracelens.report.markup import (
    Cell,
    Column,
    esc,
    fmt_at_least,
    fmt_count,
    fmt_ms,
    fmt_pct,
    frame_table,
    table_note,
)

if TYPE_CHECKING:
    from tracelens.comparison import Comparison

MAX_ROWS = 30
_WORSE_WHEN_HIGHER = ("error_rate", "p95_ms", "throttled", "cold_starts")
_MEASURES = (
    ("requests", "requests", fmt_count),
    ("error rate", "error_rate", fmt_pct),
    ("p95", "p95_ms", fmt_ms),
    ("cold starts", "cold_starts", fmt_count),
    ("throttled", "throttled", fmt_count),
)


def render_comparison(ctx: RenderContext, comparison: Comparison) -> Section:
    window = esc(comparison.baseline_window)
    intro = (
        f"<p>Baseline: traces starting {window}. Each cell is baseline → now; a row only in "
        "one window is marked new or gone. Biggest rise in error rate first, then in p95.</p>"
    )
    body = (
        intro
        + _findings(comparison.findings)
        + _table("Entry points", comparison.entry_points, ["entry"], kind="entry_type")
        + _table("Functions", comparison.functions, ["function_name"])
        + _table("Edges", comparison.edges, ["source", "target"], skip=("cold_starts",))
    )
    return Section(COMPARE, "Compared with the baseline", body)


def _findings(frame: pl.DataFrame) -> str:
    changed = frame.filter(pl.col("status") != "still")
    if changed.is_empty():
        return '<p class="ok-line">The same findings in both windows.</p>'
    items = "".join(
        f'<li><span class="chip {"off" if r["status"] == "gone" else "on"}">{esc(r["status"])}'
        f'</span> <span class="kind">{esc(r["severity"])} · {esc(r["kind"])}</span> '
        f"<strong>{esc(r['subject'])}</strong>: {esc(r['message'])}</li>"
        for r in changed.head(MAX_ROWS).to_dicts()
    )
    note = table_note(min(changed.height, MAX_ROWS), changed.height, "changed findings")
    return f'<h3>Findings new or gone</h3><ul class="changes">{items}</ul>{note}'


def _table(
    title: str,
    frame: pl.DataFrame,
    keys: list[str],
    skip: tuple[str, ...] = (),
    kind: str | None = None,
) -> str:
    """``keys`` name a row, ``kind`` (a column) labels it: entry points of one name and two
    types are two rows."""
    measures = [m for m in _MEASURES if m[1] not in skip]
    columns = [Column(" → ".join(keys).replace("_", " ")), Column("")] + [
        Column(name, numeric=True) for name, _, _ in measures
    ]

    def cells(r: dict[str, Any]) -> list[Cell]:
        name = " → ".join(str(r[k]) for k in keys)
        status = r["status"] if r["status"] != "both" else ""
        row = [Cell.name(name, kind=str(r[kind] or "") if kind else ""), Cell.text(status)]
        for _, column, fmt in measures:
            before, after = r[f"{column}_base"], r[f"{column}_now"]
            change = r[f"{column}_change"]  # None when either window lacks it
            worse = change is not None and change > 0 and column in _WORSE_WHEN_HIGHER
            if column == "throttled":
                row.append(_throttled(r, worse=worse))
            else:
                row.append(Cell.number(change, f"{fmt(before)} → {fmt(after)}", alert=worse))
        return row

    return frame_table(
        frame, columns, cells, limit=MAX_ROWS, title=title, if_empty="Nothing in either window."
    )


_UNKNOWN_CHANGE = (
    "change unknown: a throttled count marked ≥ is a lower bound (some throttled calls "
    "record no retries field, so their SDK retries were not counted)"
)
_AT_LEAST_CHANGE = (
    "the current throttled count is a lower bound (some throttled calls record no retries "
    "field), so the rise is at least this"
)


def _throttled(r: dict[str, Any], *, worse: bool) -> Cell:
    """Throttled baseline → now, "≥ N" where a side's count is a lower bound (as the
    functions table shows it); its change is then unknown (null from ``analyses.compare``)
    and said so rather than taken as none, unless only the current count is a lower bound:
    then a positive ``throttled_change_at_least`` is a proven rise ("≥ +3", alerted)."""
    unknown = (r["throttled_retries_unknown_base"], r["throttled_retries_unknown_now"])
    before = fmt_at_least(r["throttled_base"], unknown[0])
    after = fmt_at_least(r["throttled_now"], unknown[1])
    at_least = r["throttled_change_at_least"]
    rose = at_least is not None and at_least > 0
    cell = Cell.number(r["throttled_change"], f"{before} → {after}", alert=worse or rose)
    if r["status"] != "both" or not any((count or 0) > 0 for count in unknown):
        return cell
    if rose:
        return replace(
            cell,
            markup=f'{cell.markup} <span class="kind">≥ +{fmt_count(at_least)}</span>',
            tooltip=_AT_LEAST_CHANGE,
        )
    return replace(
        cell,
        markup=f'{cell.markup} <span class="kind">change unknown</span>',
        tooltip=_UNKNOWN_CHANGE,
    )
