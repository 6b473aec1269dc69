"""The first screen: what users saw, per entry point, worst first (``analyses.entry_points``)."""

from __future__ import annotations

import polars as pl

from tracelens.report.context import EXAMPLES, USERS, RenderContext, Section
from tracelens.report.markup import Cell, Column, empty, esc, fmt_count, fmt_pct, frame_table

MAX_ENTRIES_SHOWN = 30
_RANK = "table_rank"  # a row's place in the table, added for the drawing only


def entry_anchor(index: int) -> str:
    """The id of an entry point's examples (by its rank in the table: never trace text)."""
    return f"entry-{index}"


def render_users(ctx: RenderContext) -> Section:
    frame = ctx.result.entry_points
    if frame.is_empty():
        body = empty("No entry points: no trace has a root segment.")
        return Section(USERS, "What users see", body)
    columns = [
        Column("entry point", hint="a trace's root: API route, function URL, event consumer"),
        Column("requests", numeric=True, hint="traced requests (X-Ray samples them)"),
        Column("errors", numeric=True, hint="4xx answers, share of requests"),
        Column("faults", numeric=True, hint="5xx answers, share of requests"),
        Column(
            "throttled",
            numeric=True,
            hint="answered 429, or the entry's own invocation was throttled",
        ),
        Column("p50", numeric=True, hint="latency of completed requests"),
        Column("p95", numeric=True),
        Column("p99", numeric=True),
        Column(
            "cold starts",
            numeric=True,
            hint="requests whose function cold-started (on demand or SnapStart) before the "
            "response",
        ),
        Column("examples"),
    ]
    listing = frame_table(
        frame.with_row_index(_RANK),
        columns,
        _row,
        limit=MAX_ENTRIES_SHOWN,
        what="entry points (most failures first)",
    )
    intro = (
        "<p>One row per entry point, the requests with the most failures first, then those "
        "that waited for cold starts, then the slowest. Counts are of traced requests; rates "
        "are shares of them.</p>"
    )
    return Section(USERS, "What users see", intro + listing)


def _share(count: int | None, rate: float | None) -> Cell:
    shown = f"{fmt_pct(rate)} ({fmt_count(count)})" if count else fmt_count(count)
    return Cell.number(rate, shown, alert=(count or 0) > 0)


def _row(r: dict[str, object]) -> list[Cell]:
    def number(key: str) -> float | None:
        value = r[key]
        return float(value) if isinstance(value, int | float) else None

    def count(key: str) -> int | None:
        value = r[key]
        return int(value) if isinstance(value, int) else None

    index = r[_RANK]
    assert isinstance(index, int)  # added by render_users: never null
    examples = []
    if r["failed_trace_id"] is not None:
        examples.append(f'<a href="#{entry_anchor(index)}">failing</a>')
    if r["slowest_trace_id"] is not None:
        examples.append(f'<a href="#{entry_anchor(index)}">slowest</a>')
    return [
        Cell.name(r["entry"], kind=str(r["entry_type"] or "")),
        Cell.count(count("requests")),
        _share(count("errors"), number("error_rate")),
        _share(count("faults"), number("fault_rate")),
        _share(count("throttled"), number("throttle_rate")),
        Cell.ms(number("p50_ms")),
        Cell.ms(number("p95_ms")),
        Cell.ms(number("p99_ms")),
        Cell.number(
            number("cold_start_share"),
            f"{fmt_pct(number('cold_start_share'))} ({fmt_count(count('cold_start_requests'))})",
        ),
        Cell(" · ".join(examples)),
    ]


def entry_examples(ctx: RenderContext) -> str:
    """Per entry point shown in the table, its failing and slowest traces (folded)."""
    frame = ctx.result.entry_points.head(MAX_ENTRIES_SHOWN)
    if frame.is_empty() or ctx.examples is None:
        return ""
    blocks = []
    for index, r in enumerate(frame.to_dicts()):
        parts = []
        failed, slowest = r["failed_trace_id"], r["slowest_trace_id"]
        if failed is not None:
            parts.append(ctx.examples.block(failed, heading="A failing request (the slowest)"))
        if slowest is not None and slowest != failed:
            parts.append(ctx.examples.block(slowest, heading="The slowest request"))
        if not parts:
            continue
        summary = (
            f'{esc(r["entry"])} <span class="kind">{esc(r["entry_type"])}</span> · '
            f"{fmt_count(r['requests'])} requests, {fmt_count(r['failed'])} failed"
        )
        blocks.append(
            f'<details class="drill" id="{entry_anchor(index)}"><summary>{summary}</summary>'
            f"{''.join(parts)}</details>"
        )
    if not blocks:
        return ""
    return f'<h3 id="{EXAMPLES}-entries">Entry points</h3>' + "".join(blocks)


def entry_trace_ids(frame: pl.DataFrame) -> list[str | None]:
    """The example traces of the entry points shown, in table order."""
    shown = frame.head(MAX_ENTRIES_SHOWN)
    ids: list[str | None] = []
    for failed, slowest in zip(shown["failed_trace_id"], shown["slowest_trace_id"], strict=True):
        ids += [failed, slowest]
    return ids
