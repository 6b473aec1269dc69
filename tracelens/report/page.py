"""The report page: header, table of contents, sections, plotly.js once, and the figure loader."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, TypedDict, Unpack

import polars as pl
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from tracelens.report.context import FINDINGS, RenderContext, Section
from tracelens.report.examples import ExampleTraces
from tracelens.report.figures import PLOTLY_CONFIG, FigureSet
from tracelens.report.links import console_links
from tracelens.report.markup import esc, fmt_time, stylesheet
from tracelens.report.sections.bottlenecks import render_bottlenecks
from tracelens.report.sections.cold_starts import render_cold_starts
from tracelens.report.sections.compare import render_comparison
from tracelens.report.sections.dns import render_dns
from tracelens.report.sections.examples import node_trace_ids, render_examples
from tracelens.report.sections.findings import render_findings
from tracelens.report.sections.functions_table import render_functions
from tracelens.report.sections.long_window import render_long_window, rollup_line
from tracelens.report.sections.overview import Window, data_line, render_overview
from tracelens.report.sections.service_map import render_service_map
from tracelens.report.sections.throttles import render_throttles
from tracelens.report.sections.timeline import render_timeline
from tracelens.report.sections.users import entry_trace_ids, render_users
from tracelens.report.times import showable_result

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult
    from tracelens.comparison import Comparison

DEFAULT_TITLE = "tracelens report"
SECTIONS: tuple[Callable[[RenderContext], Section], ...] = (
    render_users,
    render_findings,
    render_timeline,
    render_service_map,
    render_throttles,
    render_cold_starts,
    render_dns,
    render_bottlenecks,
    render_functions,
    render_examples,
    render_overview,
)


class ReportOptions(TypedDict, total=False):
    """How a report is drawn (each optional): see :func:`render_report`."""

    title: str | None
    cdn: bool
    region: str | None
    generated_at: datetime | None
    comparison: Comparison | None


def render_report(result: AnalysisResult, **options: Unpack[ReportOptions]) -> str:
    """The HTML report of ``result``: one self-contained page.

    Parameters
    ----------
    result
        Every analysis output (``tracelens.analysis.run_analysis``).
    title
        Shown at the top; default "tracelens report".
    cdn
        Link plotly.js from its CDN instead of embedding it (a smaller file that needs the
        network to draw charts).
    region
        AWS region for X-Ray console links; default: found in the inputs, else us-east-1.
    generated_at
        The time printed as "generated"; default: now.
    comparison
        A baseline window compared with this one: shown right after the findings.

    Raises
    ------
    ValueError
        When ``region`` is not an AWS region name.
    """
    region, comparison = options.get("region"), options.get("comparison")
    result, unshown_times = showable_result(result)
    links = console_links(result.inputs, result.ranked.trace_regions, region=region)
    figures = FigureSet()
    bare = RenderContext(result, figures, links, unshown_times=unshown_times)
    examples = ExampleTraces(result.inputs.traces.spans, _example_ids(bare), figures, links)
    ctx = RenderContext(result, figures, links, unshown_times=unshown_times, examples=examples)
    sections = [render(ctx) for render in SECTIONS]
    long_window = render_long_window(ctx)
    if long_window is not None:  # after what users see, the findings and the timeline
        sections.insert(3, long_window)
    if comparison is not None:
        sections.insert(2, render_comparison(ctx, comparison))
    heading = options.get("title") or DEFAULT_TITLE
    when = options.get("generated_at") or datetime.now(UTC)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="tracelens"><title>{esc(heading)}</title>'
        f"<style>{stylesheet()}</style>{_plotly_script(cdn=options.get('cdn', False))}</head><body>"
        f"{_header(ctx, heading, when)}{_toc(sections)}<main>"
        + "".join(_section(s) for s in sections)
        + "</main>"
        f'<script type="application/json" id="tracelens-figures">{ctx.figures.payload()}</script>'
        f"<script>{_loader()}</script></body></html>\n"
    )


def _header(ctx: RenderContext, heading: str, when: datetime) -> str:
    window = Window(*ctx.result.ranked.trace_window)
    asked = ctx.result.inputs.window
    kept = "" if asked.is_open else f" · traces starting {asked.describe()}"
    chips = "".join(
        f'<a class="badge {name}" href="#{FINDINGS}">{count:,} {name}</a>'
        for name, count in ctx.result.ranked.severity_counts.items()
    )
    return (
        f'<header class="top"><h1>{esc(heading)}</h1>'
        f'<p class="window"><strong>Window</strong> {esc(window.describe() + kept)}</p>'
        f'<p class="meta">{chips}<span>generated {esc(fmt_time(when.astimezone(UTC)))} · '
        f"{esc(_console_regions(ctx))}</span></p>"
        f"{data_line(ctx)}{rollup_line(ctx)}</header>"
    )


def _console_regions(ctx: RenderContext) -> str:
    links = ctx.links
    if links.region_source != "traces":
        return f"console region {links.region} ({links.region_source})"
    regions = links.regions
    if len(regions) == 1:
        return f"console region {regions[0]} (from the traces' ARNs)"
    shown = ", ".join(regions[:4]) + (", ..." if len(regions) > 4 else "")
    return f"console regions {shown} (each trace's own, from its ARNs)"


def _example_ids(ctx: RenderContext) -> list[str | None]:
    """Traces worth a waterfall, most useful first: the findings' (most severe first), the
    entry points' failing and slowest, then the service-map nodes'."""
    findings = ctx.result.findings.filter(pl.col("severity") != "info")
    return [
        *findings.get_column("trace_id"),
        *entry_trace_ids(ctx.result.entry_points),
        *node_trace_ids(ctx),
    ]


def _toc(sections: list[Section]) -> str:
    links = "".join(f'<a href="#{esc(s.anchor)}">{esc(s.title)}</a>' for s in sections)
    return f'<nav class="toc" aria-label="Contents">{links}</nav>'


def _section(section: Section) -> str:
    return (
        f'<section id="{esc(section.anchor)}"><h2>{esc(section.title)}'
        f'<a class="anchor" href="#{esc(section.anchor)}" aria-label="link">#</a></h2>'
        f"{section.body}</section>"
    )


def _plotly_script(*, cdn: bool) -> str:
    if cdn:
        return (
            f'<script src="{esc(plotly_cdn_url())}" integrity="{_plotly_sri()}" '
            'crossorigin="anonymous" charset="utf-8"></script>'
        )
    return f"<script>{_plotly_js()}</script>"


def plotly_cdn_url() -> str:
    """Where the CDN serves the plotly.js version bundled with the installed plotly."""
    return f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"


BASIC_BUNDLE = "vendor/plotly-basic.min.js"


@cache
def plotly_bundle() -> tuple[str, str]:
    """The plotly.js embedded in a page, and which: ``"basic"`` or ``"full"``.

    The basic bundle (scatter, bar and pie: every trace type the report draws) is 1.2 MB
    against the full bundle's 4.8 MB; it is used when it is of the plotly.js version the
    installed plotly writes figures for (``scripts/update_plotly_basic.sh`` refreshes it),
    else the full bundle plotly ships is.
    """
    basic = resources.files("tracelens.report").joinpath(BASIC_BUNDLE).read_text("utf-8")
    if f"plotly.js (basic - minified) v{get_plotlyjs_version()}\n" in basic[:200]:
        return basic, "basic"
    return str(get_plotlyjs()), "full"


@cache
def _plotly_js() -> str:
    # NOTE: defensive: a literal "</script" would end the element early.
    return plotly_bundle()[0].replace("</script", "<\\/script")


@cache
def _plotly_sri() -> str:
    digest = hashlib.sha384(str(get_plotlyjs()).encode("utf-8")).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


@cache
def _loader() -> str:
    script = resources.files("tracelens.report").joinpath("loader.js").read_text("utf-8")
    return script.replace("__PLOTLY_CONFIG__", json.dumps(PLOTLY_CONFIG))
