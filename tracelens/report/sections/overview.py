"""The data behind the report: time window, sources, counts, completeness and rejections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tracelens.report.context import OVERVIEW, RenderContext, Section
from tracelens.report.markup import Cell, Column, esc, fmt_count, fmt_time, table, truncated_note

if TYPE_CHECKING:
    from tracelens.inputs import Inputs

MAX_REJECTIONS_SHOWN = 20
SIDE_INPUTS = ("traces", "logs", "metrics", "configuration")

SAMPLING_CAVEAT = (
    "X-Ray records a sample of requests: counts and rates taken from traces describe the "
    "sampled requests, not all traffic. True totals (invocations, throttles) come from "
    "CloudWatch metrics."
)
_MISSING_SOURCE = {
    "logs": "No Lambda logs: cold starts and timeouts of requests that were not traced, and "
    "memory used, are missing.",
    "metrics": "No CloudWatch metrics: throttle causes that need concurrency metrics show as "
    "'unknown', and the throttle timeline has sampled counts only.",
    "configuration": "No function configuration: memory size, VPC attachment and reserved or "
    "provisioned concurrency are unknown.",
}


@dataclass(frozen=True)
class Window:
    """The span of time the traces cover: earliest start to latest end."""

    start: datetime | None
    end: datetime | None

    def describe(self) -> str:
        if self.start is None or self.end is None:
            return "no spans"
        minutes = (self.end - self.start).total_seconds() / 60.0
        return f"{fmt_time(self.start)} → {fmt_time(self.end)} ({minutes:,.1f} min)"


def render_overview(ctx: RenderContext) -> Section:
    inputs = ctx.result.inputs
    body = _sources(inputs) + _counts(inputs) + _completeness(ctx) + _rejections(inputs)
    return Section(OVERVIEW, "Data completeness", body)


def data_line(ctx: RenderContext) -> str:
    """The data behind the page in one line, linking to its details (the last section)."""
    inputs = ctx.result.inputs
    traces = inputs.traces
    used = set(inputs.sources_used())
    missing = [name for name in SIDE_INPUTS if name not in used]
    rejected = inputs.rejected
    parts = [
        f"{fmt_count(traces.traces)} traces",
        f"{fmt_count(traces.segments)} segments",
        f"{fmt_count(rejected)} rejected",
        "no " + ", ".join(missing) if missing else "logs, metrics and configuration given",
        "traced requests are a sample",
    ]
    origin = ctx.result.trace_origin
    if origin.indexed_sample:
        parts.append(origin.sample_phrase())
    warn = bool(
        rejected or missing or ctx.unshown_times or traces.in_progress or origin.indexed_sample
    )
    return (
        f'<p class="data-line{" warn" if warn else ""}"><strong>Data</strong> '
        f"{esc(' · '.join(parts))} · "
        f'<a href="#{OVERVIEW}">data completeness</a></p>'
    )


def _sources(inputs: Inputs) -> str:
    used = set(inputs.sources_used())
    chips = "".join(
        f'<span class="chip {"on" if name in used else "off"}">'
        f"{esc(name)}: {'used' if name in used else 'not given'}</span>"
        for name in SIDE_INPUTS
    )
    return f'<p class="sources">Sources {chips}</p>'


def _counts(inputs: Inputs) -> str:
    traces = inputs.traces
    items = [
        (
            "documents",
            traces.read_documents,
            "segment documents read, accepted or not (unknown from a store)",
            False,
        ),
        ("segments", traces.segments, "unique documents accepted", False),
        ("traces", traces.traces, "distinct trace ids", False),
        (
            "duplicates",
            traces.read_duplicates,
            "documents seen more than once, counted once (unknown from a store)",
            False,
        ),
        ("rejected", inputs.rejected, "documents and records refused (listed below)", True),
        ("in progress", traces.in_progress, "traces whose root segment had not ended", True),
        (
            "over size limit",
            traces.read_limit_exceeded,
            "traces X-Ray could not return whole (unknown from a store)",
            True,
        ),
        (
            "unprocessed",
            None if traces.read_unprocessed is None else len(traces.read_unprocessed),
            "trace ids X-Ray did not return (unknown from a store)",
            True,
        ),
    ]
    cells = "".join(
        f'<div class="stat{" warn" if alert and value else ""}" title="{esc(hint)}">'
        f'<span class="value">{fmt_count(value)}</span><span class="name">{esc(name)}</span></div>'
        for name, value, hint, alert in items
    )
    return f'<div class="stats">{cells}</div>'


def _completeness(ctx: RenderContext) -> str:
    inputs = ctx.result.inputs
    traces = inputs.traces
    used = set(inputs.sources_used())
    notes = [*ctx.result.trace_origin.notes(), SAMPLING_CAVEAT]
    notes += [text for name, text in _MISSING_SOURCE.items() if name not in used]
    if traces.read_stats.limit_exceeded_traces:
        notes.append(
            f"{traces.read_stats.limit_exceeded_traces:,} traces exceeded X-Ray's size limit: "
            "their segments are incomplete."
        )
    if traces.read_stats.unprocessed_trace_ids:
        notes.append(
            f"{len(traces.read_stats.unprocessed_trace_ids):,} trace ids were not returned by "
            "X-Ray (UnprocessedTraceIds): fetch them again to complete the picture."
        )
    if traces.in_progress:
        notes.append(
            f"{traces.in_progress:,} traces were still in progress: their durations are unknown "
            "and left out of latency figures."
        )
    notes += _incomplete_notes(ctx)
    if ctx.unshown_times:
        notes.append(
            f"{ctx.unshown_times:,} spans have a start or end time after the year 9999 (or "
            "before the year 1): those times are shown as unknown."
        )
    if ctx.links.region_source == "default":
        notes.append(
            "No region found in the inputs: X-Ray console links use us-east-1 (pass --region "
            "to change it)."
        )
    items = "".join(f"<li>{esc(note)}</li>" for note in notes)
    return f'<ul class="caveats">{items}</ul>'


_INCOMPLETE = {
    "missing_root": "{count} traces have no root segment (what started them is not in the "
    "data): they have no entry point and no critical path. Example: {example}.",
    "orphan_segment": "{count} segments name a parent their trace does not hold (in {traces} "
    "traces); they start trees of their own. Example: {example}.",
    "in_progress_subsegment": "{count} subsegments were still in progress inside segments "
    "that ended (in {traces} traces): their durations are unknown. Example: {example}.",
    "child_before_parent": "{count} spans start before their parent (in {traces} traces): an "
    "SDK artifact, clock skew, or an Initialization before a pre-initialized environment's "
    "first request; calls among them draw no loop edge. Example: {example}.",
}


def _incomplete_notes(ctx: RenderContext) -> list[str]:
    notes = []
    for row in ctx.result.completeness.iter_rows(named=True):
        if row["count"]:
            notes.append(
                _INCOMPLETE[row["issue"]].format(
                    count=f"{row['count']:,}",
                    traces=f"{row['traces']:,}",
                    example=f"{row['example']} (trace {row['example_trace_id']})",
                )
            )
    return notes


def _rejections(inputs: Inputs) -> str:
    log = inputs.all_rejections()
    if not log.count:
        return '<p class="ok-line">No input was rejected.</p>'
    reasons = ", ".join(f"{esc(reason)} ({count:,})" for reason, count in log.commonest_reasons(8))
    shown = log.listed[:MAX_REJECTIONS_SHOWN]
    rows = [
        [Cell.text(item.source), Cell.text(item.position), Cell.text(item.reason)] for item in shown
    ]
    listing = table(
        [Column("file"), Column("position"), Column("reason")],
        rows,
        note=truncated_note(len(shown), log.count, "rejections"),
    )
    return (
        f'<details class="rejections"><summary>{log.count:,} rejected: {reasons}</summary>'
        f"{listing}</details>"
    )
