"""Findings first: what is wrong, the numbers behind it, and what to do, worst first."""

from __future__ import annotations

import orjson
import polars as pl

from analyses.rankings import SEVERITIES
from tracelens.report import context as anchors
from tracelens.report.context import FINDINGS, RenderContext, Section
from tracelens.report.markup import MISSING, esc, fmt_count, fmt_ms, fmt_pct, truncated_note

MAX_FINDINGS_SHOWN = 40
MAX_INFO_SHOWN = 50
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# Where each kind of finding is explained in detail.
SECTION_OF_KIND = {
    "cold_start": (anchors.COLD_STARTS, "Cold starts"),
    "timeout": (anchors.FUNCTIONS, "Functions"),
    "failures": (anchors.FUNCTIONS, "Functions"),
    "invocation_throttle": (anchors.THROTTLES, "Throttles"),
    "downstream_throttle": (anchors.THROTTLES, "Throttles"),
    "dns": (anchors.DNS, "DNS latency"),
    "connection_reuse": (anchors.DNS, "Connection set-up"),
    "bottleneck": (anchors.BOTTLENECKS, "Bottlenecks"),
    "recursive_loop": (anchors.SERVICE_MAP, "Service map"),
    "async_events": (anchors.COLD_STARTS, "Cold starts"),
}


def render_findings(ctx: RenderContext) -> Section:
    frame = ctx.result.findings  # worst first: analyses.findings orders them
    if frame.is_empty():
        body = '<p class="ok-line">No findings: no measurement crossed a threshold.</p>'
        return Section(FINDINGS, "Findings", body)
    urgent = frame.filter(pl.col("severity") != "info")
    shown = urgent.head(MAX_FINDINGS_SHOWN)
    cards = "".join(finding_card(row, ctx) for row in shown.to_dicts())
    note = truncated_note(shown.height, urgent.height, "critical and warning findings")
    if note:
        cards += f'<p class="table-note">{note}</p>'
    if urgent.is_empty():
        cards = '<p class="ok-line">Nothing critical and no warnings.</p>'
    return Section(FINDINGS, "Findings", cards + _info(frame.filter(pl.col("severity") == "info")))


def _info(info: pl.DataFrame) -> str:
    """Informational findings, folded: they matter for tuning, not for the incident."""
    if info.is_empty():
        return ""
    shown = info.head(MAX_INFO_SHOWN)
    items = "".join(
        f'<li><span class="kind">{esc(str(r["kind"] or "").replace("_", " "))}</span> '
        f"<strong>{esc(r['subject'])}</strong>: {esc(r['message'])}</li>"
        for r in shown.to_dicts()
    )
    note = truncated_note(shown.height, info.height, "informational findings")
    return (
        f'<details class="info-findings"><summary>{info.height:,} informational '
        f'finding(s)</summary><ul>{items}</ul><p class="table-note">{note}</p></details>'
    )


def finding_card(row: dict[str, object], ctx: RenderContext) -> str:
    """One finding as a card: severity, kind, subject, message, advice, evidence, links."""
    severity = str(row["severity"]) if row["severity"] in _RANK else "info"
    kind = str(row["kind"] or "")
    advice = row["recommendation"]
    advice_html = (
        f'<p class="advice"><strong>What to do:</strong> {esc(advice)}</p>' if advice else ""
    )
    return (
        f'<article class="finding sev-{severity}">'
        f'<header><span class="badge {severity}">{severity}</span>'
        f'<span class="kind">{esc(kind.replace("_", " "))}</span>'
        f'<strong class="subject">{esc(row["subject"])}</strong></header>'
        f'<p class="message">{esc(row["message"])}</p>{advice_html}'
        f"{_evidence(row['evidence'])}{_links(kind, row['trace_id'], ctx)}"
        f'<p class="table-note">silence with <code>--silence {esc(repr(row["key"]))}</code>'
        "</p></article>"
    )


def _links(kind: str, trace_id: object, ctx: RenderContext) -> str:
    parts = []
    if kind in SECTION_OF_KIND:
        anchor, title = SECTION_OF_KIND[kind]
        parts.append(f'<a href="#{anchor}">details: {esc(title)}</a>')
    if isinstance(trace_id, str) and ctx.links.trace_url(trace_id):
        parts.append(ctx.links.trace_link(trace_id, label="example trace in X-Ray"))
    links = f'<p class="links">{" · ".join(parts)}</p>' if parts else ""
    if isinstance(trace_id, str) and ctx.examples is not None and trace_id in ctx.examples:
        block = ctx.examples.block(trace_id, heading="Example trace")
        links += (
            f'<details class="drill"><summary>Show the example trace</summary>{block}</details>'
        )
    return links


def _evidence(text: object) -> str:
    if not isinstance(text, str) or not text:
        return ""
    try:
        numbers = orjson.loads(text)
    except orjson.JSONDecodeError:
        return f'<p class="evidence">{esc(text)}</p>'
    if not isinstance(numbers, dict):
        return f'<p class="evidence">{esc(text)}</p>'
    items = "".join(
        f"<div><dt>{esc(key.replace('_', ' '))}</dt><dd>{esc(format_value(key, value))}</dd></div>"
        for key, value in numbers.items()
    )
    return f'<dl class="evidence">{items}</dl>'


def format_value(key: str, value: object) -> str:
    """An evidence number shown with the unit its name carries."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return MISSING if value is None else str(value)
    if isinstance(value, int | float):
        if key.endswith("_ms"):
            return fmt_ms(float(value))
        if key.endswith(("_rate", "_share")):
            return fmt_pct(float(value))
        if isinstance(value, int) or float(value).is_integer():
            return fmt_count(value)
        return f"{value:,.3g}"
    return orjson.dumps(value).decode()
