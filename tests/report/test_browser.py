"""The report in a real browser: loads from file:// offline, draws every figure, runs no script
from the data. Drives Debian's Chromium through Playwright (never a downloaded browser).

Set ``TRACELENS_UPDATE_SCREENSHOT=1`` to also refresh ``docs/report.png``. Without Chromium or
Playwright the tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.builders.scenario import GENERATED_AT, XSS_BREAKOUT, XSS_SCRIPT
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.inputs import load_inputs
from tracelens.report import write_report

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("TRACELENS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_WIDTH_PX = 1400
SCREENSHOT_HEIGHT_PX = 1100
EAGER = "[data-figure]:not([data-lazy])"  # drawn on load; lazy ones when revealed


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A page with every script error, console error and dialog recorded."""

    def __init__(
        self,
        browser: Any,
        *,
        width_px: int = SCREENSHOT_WIDTH_PX,
        height_px: int = SCREENSHOT_HEIGHT_PX,
        color_scheme: str = "light",
    ) -> None:
        self.page = browser.new_page(
            viewport={"width": width_px, "height": height_px}, color_scheme=color_scheme
        )
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("console", self._console)
        self.page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> Any:
        self.page.goto(path.as_uri())
        count = self.page.locator(EAGER).count()
        self.page.wait_for_function(
            f"document.querySelectorAll('{EAGER} .main-svg').length >= {count}",
            timeout=20_000,
        )
        return self.page


@pytest.fixture(scope="module")
def scenario(
    browser: Any, result: AnalysisResult, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Watched]:
    """The scenario's report (with script-injection names), loaded once for these tests."""
    folder = tmp_path_factory.mktemp("report")
    path = write_report(result, folder / "report.html", generated_at=GENERATED_AT)
    watched = Watched(browser)
    watched.open(path)
    yield watched
    watched.page.close()


def test_page_draws_every_figure_without_errors(scenario: Watched) -> None:
    page = scenario.page
    boxes = page.locator(EAGER)
    assert boxes.count() >= 9
    for index in range(boxes.count()):
        box = boxes.nth(index)
        assert "js-plotly-plot" in (box.get_attribute("class") or ""), box.get_attribute("id")
        assert box.locator("svg.main-svg").count() >= 1
        assert box.bounding_box()["height"] > 100
    assert scenario.errors == []
    assert scenario.dialogs == []


def test_injected_names_show_as_text_and_never_run(scenario: Watched) -> None:
    page = scenario.page
    page.mouse.wheel(0, 20_000)  # scroll everything into view: lazy hover layers included
    page.wait_for_timeout(300)
    injected = page.evaluate(
        """() => ({
            images: document.querySelectorAll('img').length,
            handlers: document.querySelectorAll('[onerror]').length,
            scripts: document.scripts.length,
        })"""
    )
    assert injected == {"images": 0, "handlers": 0, "scripts": 3}
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.wait_for_timeout(300)  # the waterfalls drawn on opening name spans too
    assert page.evaluate("document.querySelectorAll('img, [onerror]').length") == 0
    assert scenario.dialogs == []
    assert XSS_SCRIPT in page.inner_text("main")
    assert XSS_BREAKOUT in page.inner_text("#functions")
    # plotly shows the name as SVG text, decoded from the escaped label
    assert XSS_SCRIPT in page.locator("#fig-service-map").text_content()


def test_tables_sort_when_a_header_is_clicked(scenario: Watched) -> None:
    table = scenario.page.locator("#functions table")
    assert table.locator("tbody tr").first.locator("td").first.inner_text() == "orders"
    table.locator("th", has_text="throttled").click()
    first = table.locator("tbody tr").first.locator("td").first.inner_text()
    assert first == "payments"
    assert table.locator("th", has_text="throttled").get_attribute("aria-sort") == "descending"


def test_cdn_page_offline_explains_instead_of_failing(
    browser: Any, result: AnalysisResult, tmp_path: Path
) -> None:
    path = write_report(result, tmp_path / "cdn.html", cdn=True)
    watched = Watched(browser)
    watched.page.route("http*://**/*", lambda route: route.abort())
    watched.page.goto(path.as_uri())
    message = watched.page.locator("#fig-service-map").inner_text()
    watched.page.close()
    assert "needs plotly.js" in message
    assert [e for e in watched.errors if e.startswith("page error")] == []


def test_screenshot_of_the_sample_report(browser: Any, tmp_path: Path) -> None:
    xray = REPO / "sample_traces" / "xray"
    if not xray.is_dir():
        pytest.skip("sample_traces/ is not present")
    sample = REPO / "sample_traces"
    inputs = load_inputs(
        [xray],
        logs=[sample / "logs"],
        metrics=[sample / "metrics"],
        functions=[sample / "functions"],
    )
    window_end = inputs.traces.spans["end_time"].max()
    assert isinstance(window_end, datetime)
    generated_at = window_end + timedelta(minutes=5)  # fixed, so the image only changes with data
    path = write_report(
        run_analysis(inputs),
        tmp_path / "sample.html",
        title="orders-app",
        generated_at=generated_at,
    )
    watched = Watched(browser)
    page = watched.open(path)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    watched.page.close()
    assert shot.stat().st_size > 20_000
    assert watched.errors == []
    if os.environ.get("TRACELENS_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, REPO / "docs" / "report.png")


# --- Layout, dark mode, print and drill down, on the bundled sample (issue: reads anywhere) ---

SHOTS = os.environ.get("TRACELENS_SCREENSHOT_DIR")


def _shot(page: Any, name: str, tmp_path: Path, **options: Any) -> Path:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), **options)
    assert path.stat().st_size > 10_000
    return path


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = REPO / "sample_traces"
    if not (sample / "xray").is_dir():
        pytest.skip("sample_traces/ is not present")
    inputs = load_inputs(
        [sample / "xray"],
        logs=[sample / "logs"],
        metrics=[sample / "metrics"],
        functions=[sample / "functions"],
    )
    window_end = inputs.traces.spans["end_time"].max()
    assert isinstance(window_end, datetime)
    folder = tmp_path_factory.mktemp("sample")
    return write_report(
        run_analysis(inputs),
        folder / "sample.html",
        title="orders-app",
        generated_at=window_end + timedelta(minutes=5),
    )


def _overflow(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth - window.innerWidth,
                cut: [...document.querySelectorAll('.table-wrap')]
                    .filter(w => w.scrollWidth > w.clientWidth + 1).length,
            })"""
        )
    )


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (1024, 768)])
def test_first_screen_shows_what_users_see_then_findings(
    browser: Any, sample_page: Path, tmp_path: Path, width: int, height: int
) -> None:
    watched = Watched(browser, width_px=width, height_px=height)
    page = watched.open(sample_page)
    _shot(page, f"report-{width}x{height}", tmp_path)
    users = page.locator("#users table")
    assert users.bounding_box()["y"] < height  # the entry-point table starts on the first screen
    first = users.locator("tbody tr").first.locator("td").first.inner_text()
    assert first.startswith("reports-api/prod GET /reports/legacy")
    findings = page.locator("#findings").bounding_box()
    assert findings["y"] > users.bounding_box()["y"]
    assert page.locator("header .data-line a[href='#overview']").is_visible()
    assert _overflow(page)["page"] <= 0  # the page itself never scrolls sideways
    # every column of the first table in view, the last one included
    right = page.evaluate(
        """() => {
            const wrap = document.querySelector('#users .table-wrap').getBoundingClientRect();
            const last = document.querySelector('#users th:last-child').getBoundingClientRect();
            return [last.right, wrap.right];
        }"""
    )
    assert right[0] <= right[1] + 2  # (the box's border)
    map_box = page.locator("#fig-service-map").bounding_box()
    assert map_box["width"] <= width
    # map labels stay inside the plot area
    labels_out = page.evaluate(
        """() => {
            const plot = document.querySelector('#fig-service-map .main-svg').getBoundingClientRect();
            return [...document.querySelectorAll('#fig-service-map .textpoint text')]
                .filter(t => { const r = t.getBoundingClientRect();
                               return r.left < plot.left - 1 || r.right > plot.right + 1; })
                .map(t => t.textContent);
        }"""
    )
    assert labels_out == []
    assert watched.errors == []
    watched.page.close()


def test_wide_tables_scroll_inside_their_box_at_1024(browser: Any, sample_page: Path) -> None:
    watched = Watched(browser, width_px=1024, height_px=768)
    page = watched.open(sample_page)
    style = page.evaluate(
        "getComputedStyle(document.querySelector('#functions .table-wrap')).overflowX"
    )
    assert style == "auto"
    assert _overflow(page)["page"] <= 0
    watched.page.close()


def test_dark_mode_follows_the_system_setting(
    browser: Any, sample_page: Path, tmp_path: Path
) -> None:
    watched = Watched(browser, width_px=1440, height_px=900, color_scheme="dark")
    page = watched.open(sample_page)
    _shot(page, "report-dark-1440x900", tmp_path)
    colours = page.evaluate(
        """() => ({
            body: getComputedStyle(document.body).backgroundColor,
            ink: getComputedStyle(document.body).color,
            chart: document.querySelector('#fig-service-map .main-svg .bg')
                ? getComputedStyle(document.querySelector('#fig-service-map .main-svg')).background
                : '',
            paper: document.querySelector('#fig-service-map')._fullLayout.paper_bgcolor,
        })"""
    )
    assert colours["body"] == "rgb(27, 29, 33)"
    assert colours["ink"] == "rgb(227, 227, 227)"
    assert colours["paper"] == "#1b1d21"
    assert watched.errors == []
    watched.page.close()


def test_print_keeps_every_column(browser: Any, sample_page: Path, tmp_path: Path) -> None:
    watched = Watched(browser, width_px=1024, height_px=768)
    page = watched.open(sample_page)
    page.emulate_media(media="print")
    assert _overflow(page)["cut"] == 0  # no table is cut or needs scrolling on paper
    hidden = page.evaluate(
        """() => [...document.querySelectorAll('table.data td')]
              .filter(td => td.scrollWidth > td.clientWidth + 1).length"""
    )
    assert hidden == 0  # no cell's text is clipped with an ellipsis
    assert page.locator("nav.toc").is_hidden()
    _shot(page, "report-print-1024", tmp_path, full_page=False)
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.stat().st_size > 50_000
    assert watched.errors == []
    watched.page.close()


def _drawn_in(page: Any, selector: str) -> int:
    return int(page.evaluate(f"document.querySelectorAll('{selector} .main-svg').length"))


def test_clicks_reveal_example_traces(browser: Any, sample_page: Path, tmp_path: Path) -> None:
    watched = Watched(browser, width_px=1440, height_px=900)
    page = watched.open(sample_page)
    assert _drawn_in(page, "#examples") == 0  # nothing drawn until asked for

    # an entry point's "failing" example opens its block and draws its waterfall
    page.locator("#users tbody tr").first.get_by_role("link", name="failing").click()
    page.wait_for_function("document.querySelectorAll('#entry-0 .main-svg').length > 0")
    assert page.locator("#entry-0").get_attribute("open") is not None
    assert (
        page.locator("#entry-0 a.trace")
        .first.get_attribute("href")
        .startswith(
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#xray:traces/1-"
        )
    )

    # a finding's example trace opens in place
    page.locator("article.finding summary", has_text="Show the example trace").first.click()
    page.wait_for_function(
        "document.querySelector('article.finding details[open] .main-svg') !== null"
    )

    # a click on a node of the service map shows that node's example traces
    page.locator("#fig-service-map").scroll_into_view_if_needed()
    point = page.locator("#fig-service-map .scatterlayer .trace path.point").last
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "document.querySelector('details.drill[id^=\"node-\"][open] .main-svg') !== null",
        timeout=10_000,
    )
    opened = page.locator("details.drill[id^='node-'][open]").first
    assert opened.locator("a.trace").count() >= 1
    # the page scrolls (smoothly) to the node's block
    page.wait_for_function(
        """() => { const r = document.querySelector('details.drill[id^="node-"][open]')
                       .getBoundingClientRect();
                   return r.top >= 0 && r.top < 200; }""",
        timeout=10_000,
    )
    _shot(page, "report-node-drilldown", tmp_path)
    assert watched.errors == []
    watched.page.close()
