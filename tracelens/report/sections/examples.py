"""Drill down: example traces per entry point and per service-map node, as waterfalls drawn
when a block is opened (from the map, the entry-point table, or here)."""

from __future__ import annotations

from tracelens.report.context import EXAMPLES, RenderContext, Section
from tracelens.report.examples import node_anchor
from tracelens.report.markup import empty, esc, fmt_count, fmt_ms, truncated_note
from tracelens.report.sections.users import entry_examples

MAX_NODES_SHOWN = 250
_WHY = {"failed": "Failing request", "slowest": "Slowest request"}


def node_trace_ids(ctx: RenderContext) -> list[str | None]:
    """The nodes' example traces, most failing nodes first, failing examples first."""
    return list(ctx.result.ranked.node_examples_by_failures.get_column("trace_id"))


def render_examples(ctx: RenderContext) -> Section:
    body = entry_examples(ctx) + _nodes(ctx)
    if not body:
        body = empty("No example traces.")
    intro = (
        "<p>Open a block (or click a node on the service map, or an entry point's example) "
        "to draw its traces as waterfalls: every span of the trace in start order, nested "
        "under its parent, outlined when it failed.</p>"
    )
    return Section(EXAMPLES, "Example traces", intro + body)


def _nodes(ctx: RenderContext) -> str:
    nodes = ctx.result.ranked.nodes_by_failures
    if ctx.examples is None or nodes.is_empty():
        return ""
    shown = nodes.head(MAX_NODES_SHOWN)
    by_node = ctx.result.ranked.node_examples_by_failures.partition_by(
        ["name", "type"], as_dict=True, maintain_order=True
    )
    blocks = []
    for r in shown.to_dicts():
        group = by_node.get((r["name"], r["type"]))
        parts = []
        if group is not None:
            for e in group.to_dicts():
                heading = (
                    f"{_WHY.get(e['why'], e['why'])} #{e['rank']}: {fmt_ms(e['duration_ms'])} "
                    f"at this node, {e['status']}"
                )
                parts.append(ctx.examples.block(e["trace_id"], heading=heading))
        body = "".join(parts) or '<p class="empty">No example trace for this node.</p>'
        summary = (
            f'{esc(r["name"])} <span class="kind">{esc(r["type"])}</span> · '
            f"{fmt_count(r['requests'])} requests, {fmt_count(r['failed'])} failed"
        )
        blocks.append(
            f'<details class="drill" id="{node_anchor(r["type"], r["name"])}">'
            f"<summary>{summary}</summary>{body}</details>"
        )
    note = truncated_note(shown.height, nodes.height, "nodes (most failures first)")
    foot = f'<p class="table-note">{note}</p>' if note else ""
    return f'<h3 id="{EXAMPLES}-nodes">Service-map nodes</h3>' + "".join(blocks) + foot
