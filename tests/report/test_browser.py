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

from tests.report.conftest import GENERATED_AT
from tests.report.scenario import XSS_BREAKOUT, XSS_SCRIPT
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

    def __init__(self, browser: Any, *, width_px: int = SCREENSHOT_WIDTH_PX) -> None:
        self.page = browser.new_page(viewport={"width": width_px, "height": SCREENSHOT_HEIGHT_PX})
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
        count = self.page.locator("[data-figure]").count()
        self.page.wait_for_function(
            f"document.querySelectorAll('[data-figure] .main-svg').length >= {count}",
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
    boxes = page.locator("[data-figure]")
    assert boxes.count() >= 7
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
