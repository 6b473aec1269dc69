"""The whole page: order, plotly.js once, figures wired, untrusted text kept inert."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from plotly.offline import get_plotlyjs_version

from tests.builders.scenario import XSS_BREAKOUT, XSS_SCRIPT
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.ingest.loader import TraceInput
from tracelens.ingest.rejections import RejectionLog
from tracelens.inputs import Inputs
from tracelens.report import render_report
from tracelens.report.page import plotly_cdn_url
from tracelens.schema import SPAN_SCHEMA, empty_frame

SECTION_ORDER = [
    "users", "findings", "over-time", "service-map", "throttles", "cold-starts", "dns",
    "bottlenecks", "functions", "examples", "overview",
]  # fmt: skip
PLOTLY_BANNER = f"plotly.js (basic - minified) v{get_plotlyjs_version()}"
BASIC_TRACE_TYPES = {"scatter", "bar", "pie"}  # what plotly.js's basic bundle can draw


def _without_plotly_js(page: str) -> str:
    """The page minus the embedded plotly.js library (whose own code mentions tags and URLs)."""
    start = page.index(PLOTLY_BANNER)
    start = page.rindex("<script>", 0, start)
    return page[:start] + page[page.index("</script>", start) :]


def _payload(page: str) -> dict[str, dict[str, object]]:
    match = re.search(
        r'<script type="application/json" id="tracelens-figures">(.*?)</script>', page
    )
    assert match is not None
    return dict(json.loads(match.group(1)))


def test_sections_come_in_order_and_the_contents_link_them(page: str) -> None:
    positions = [page.index(f'<section id="{anchor}">') for anchor in SECTION_ORDER]
    assert positions == sorted(positions)
    nav = page[page.index('<nav class="toc"') : page.index("</nav>")]
    assert [a for a in re.findall(r'href="#([a-z-]+)"', nav)] == SECTION_ORDER


def test_plotly_js_is_embedded_once_and_nothing_is_fetched(page: str) -> None:
    assert page.count(PLOTLY_BANNER) == 1
    rest = _without_plotly_js(page)
    assert "<script src=" not in rest and "cdn.plot.ly" not in rest


def test_cdn_links_plotly_js_with_integrity(result: AnalysisResult) -> None:
    page = render_report(result, cdn=True)
    assert PLOTLY_BANNER not in page
    assert f'<script src="{plotly_cdn_url()}" integrity="sha384-' in page
    assert len(page) < 1_000_000


def test_every_placeholder_has_its_figure(page: str) -> None:
    boxes = re.findall(r'<div class="figure" id="([^"]+)" data-figure(?:="([^"]*)")?', page)
    keys = [key or element for element, key in boxes]
    payload = _payload(page)
    assert set(keys) == set(payload)  # every figure is placed, every placeholder has data
    assert len({element for element, _ in boxes}) == len(boxes)  # element ids are unique
    assert {"fig-service-map", "fig-throttle-timeline", "fig-cold-start-counts",
            "fig-init-durations", "fig-dns-latency", "fig-bottleneck-0",
            "fig-waterfall-0", "fig-timeline-entries", "fig-timeline-functions",
            "wf-0"} <= set(keys)  # fmt: skip


def test_untrusted_names_never_become_markup(page: str) -> None:
    rest = _without_plotly_js(page)
    assert XSS_SCRIPT not in rest and "<img" not in rest
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rest  # shown as text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in rest
    # exactly the page's own scripts: plotly.js, the figure data, the loader
    assert rest.count("<script") == 2 and page.count("<script") == 3


def test_figure_data_is_escaped_for_script_and_for_plotly_labels(page: str) -> None:
    block = page[page.index('id="tracelens-figures">') : page.rindex("</script><script>")]
    assert "<" not in block.removeprefix('id="tracelens-figures">')
    text = json.dumps(_payload(page))
    # plotly renders <b>/<br> in labels: names reach it entity-escaped, never as tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert XSS_SCRIPT not in text and XSS_BREAKOUT not in text


def test_header_states_window_counts_caveats_and_region(page: str) -> None:
    head = page[: page.index('<section id="findings">')]
    assert "<title>orders &lt;prod&gt;</title>" in head
    assert "2024-05-01 11:59:59 UTC" in head and "generated 2024-05-01 13:00:00 UTC" in head
    assert "console region eu-west-1 (function ARN)" in head
    # data completeness is one line at the top, its details the last section
    assert re.search(r'<p class="data-line warn">.*2 rejected.*no logs.*traced requests are a '
                     r'sample.*<a href="#overview">data completeness</a></p>', head)  # fmt: skip
    data = page[page.index('<section id="overview">') :]
    assert "X-Ray records a sample of requests" in data
    assert "No Lambda logs" in data and "UnprocessedTraceIds" in data
    assert re.search(r'<span class="value">2</span><span class="name">rejected</span>', data)
    assert "exports/&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;.json" in data
    assert "missing required field: `id`" in data


def test_findings_come_worst_first_with_links(page: str) -> None:
    findings = page[
        page.index('<section id="findings">') : page.index('<section id="service-map">')
    ]
    severities = re.findall(r'<span class="badge (\w+)">', findings)
    # the throttled "payments" has no traced run: its share of failed calls is unknown (warning)
    assert severities[:2] == ["critical"] * 2 and severities[2] == "warning"
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    assert 'href="#throttles"' in findings and 'href="#cold-starts"' in findings
    assert (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#xray:traces/1-"
        in findings
    )
    assert "What to do:" in findings


def test_region_argument_wins(result: AnalysisResult) -> None:
    page = render_report(result, region="ap-southeast-2")
    assert "region=ap-southeast-2#xray:traces/" in page
    assert "region=eu-west-1#" not in page


def test_sections_without_data_say_so_in_one_line() -> None:
    spans = empty_frame(SPAN_SCHEMA)
    empty = run_analysis(Inputs(traces=TraceInput(spans, 0, 0, 0, RejectionLog(), 0)))
    page = render_report(empty, generated_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert _payload(page) == {}
    assert page.count('<p class="empty">') == 9
    for line in ("No service nodes", "No throttles", "No cold start", "No DNS lookups",
                 "No complete trace", "No Lambda function"):  # fmt: skip
        assert line in page
    assert "No findings" in page and "Window</strong> no spans" in page
    assert "console region us-east-1 (default)" in page


@pytest.mark.parametrize("bad", ["us_east_1", "<x>"])
def test_bad_region_is_an_error(result: AnalysisResult, bad: str) -> None:
    with pytest.raises(ValueError, match="region"):
        render_report(result, region=bad)


def test_the_embedded_plotly_is_the_basic_bundle_and_draws_every_figure(page: str) -> None:
    # the basic bundle is a quarter of the full one; it holds every trace type the page uses
    types = {
        str(trace.get("type", "scatter"))
        for figure in _payload(page).values()
        for trace in figure["data"]  # type: ignore[attr-defined]
    }
    assert types <= BASIC_TRACE_TYPES
    assert len(page.encode()) < 2_000_000


def test_a_report_skips_plotlys_checks_and_draws_the_same_figures(
    result: AnalysisResult, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracelens.report import figures

    assert figures.VALIDATE  # the tests check every figure they draw (tests/conftest.py)
    with pytest.raises(ValueError, match="not_a_property"):
        figures.new_figure(height_px=100, not_a_property=1)
    monkeypatch.setattr(figures, "VALIDATE", False)  # as a report runs
    assert _payload(render_report(result)) == _payload(page)
