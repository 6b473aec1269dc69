"""Example traces drawn as waterfalls on demand: each trace's figure is in the page once, and is
drawn where it is revealed (a finding's or entry point's example, a clicked map node).

The traces are chosen by the analyses (findings' ``trace_id``, entry points' slowest and failing
traces, service-map nodes' examples); at most ``MAX_TRACES`` distinct traces get a waterfall, in
that order of priority, so the page stays small. Others get only their X-Ray console link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import polars as pl

from tracelens.report.markup import esc, truncated_note
from tracelens.report.waterfall import MAX_SPANS, span_rows, waterfall_figure

if TYPE_CHECKING:
    from tracelens.report.figures import FigureSet
    from tracelens.report.links import ConsoleLinks

MAX_TRACES = 60


def node_anchor(node_type: object, name: object) -> str:
    """The page id of a service-map node's examples (report-made: a digest, never trace text)."""
    digest = hashlib.sha256(f"{node_type}:{name}".encode()).hexdigest()[:16]
    return f"node-{digest}"


class ExampleTraces:
    """Waterfalls of up to ``MAX_TRACES`` traces, in the order of ``trace_ids``."""

    def __init__(
        self,
        spans: pl.DataFrame,
        trace_ids: Iterable[str | None],
        figures: FigureSet,
        links: ConsoleLinks,
    ) -> None:
        chosen: list[str] = []
        for trace_id in trace_ids:
            if trace_id is not None and trace_id not in chosen:
                chosen.append(trace_id)
            if len(chosen) == MAX_TRACES:
                break
        self._figures = figures
        self._links = links
        self._keys: dict[str, str] = {}
        self._span_counts: dict[str, int] = {}
        self._uses = 0
        # NOTE: one pass over the spans for every chosen trace, then one small frame each.
        subset = spans.filter(
            pl.col("trace_id").is_in(pl.Series(chosen, dtype=pl.String).implode())
        )
        for number, trace_id in enumerate(chosen):
            rows = span_rows(subset, trace_id)
            if not rows:
                continue
            key = f"wf-{number}"
            figures.add_shared(key, waterfall_figure(rows, None))
            self._keys[trace_id] = key
            self._span_counts[trace_id] = len(rows)

    def __contains__(self, trace_id: object) -> bool:
        return trace_id in self._keys

    def block(self, trace_id: str | None, *, heading: str) -> str:
        """``heading``, the console link and the trace's waterfall (drawn when revealed), or
        only the heading and link when the trace has no waterfall here. ``heading`` is plain
        text (escaped here)."""
        if trace_id is None:
            return ""
        link = self._links.trace_link(trace_id, label="open in the X-Ray console")
        title = f'<h4 class="chart-title">{esc(heading)}</h4><p class="links">{link}</p>'
        key = self._keys.get(trace_id)
        if key is None:
            return f'<div class="example">{title}</div>'
        self._uses += 1
        spans = self._span_counts[trace_id]
        cut = truncated_note(min(spans, MAX_SPANS), spans, "spans")
        note = f"<figcaption>Trace {esc(trace_id)}. {cut}</figcaption>"
        figure = self._figures.placeholder(key, f"{key}-at-{self._uses}")
        return f'<figure class="example chart">{title}{figure}{note}</figure>'
