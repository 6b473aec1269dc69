"""The page covering several targets: drawn with the report's counts, stylesheet and tables."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.builders.scenario import XSS_BREAKOUT, XSS_SCRIPT, scenario_result
from tracelens.agent.targets_report import (
    TargetAnalysis,
    TargetResult,
    TargetSummary,
    render_index,
    write_target_reports,
)
from tracelens.analysis import AnalysisResult
from tracelens.report.markup import esc, stylesheet


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return scenario_result(20)


def _page(result: AnalysisResult) -> str:
    summary = TargetSummary.of(result)
    targets = [
        TargetResult("111111111111", "eu-west-1", summary, Path("r-111-eu-west-1.html")),
        TargetResult("222222222222", "us-east-1", summary, Path("r-222-us-east-1.html")),
        TargetResult("333333333333", "ap-south-1", None),
    ]
    return render_index(
        targets, title="All targets", window="the last 6h", generated_at=datetime.now(UTC)
    )


def test_counts_style_and_order_come_from_the_report(result: AnalysisResult) -> None:
    page = _page(result)
    assert f"<style>{stylesheet()}</style>" in page
    counts = result.ranked.severity_counts
    assert sum(counts.values()) == result.findings.height > 0
    cells = "".join(f'<td class="num" data-sort="{n}">{n:,}</td>' for n in counts.values())
    assert page.count(cells) == 2  # each target's row: its analysis' severity counts
    assert "no data in the last 6h" in page
    findings = page[page.index('<section id="findings">') : page.index('<section id="functions">')]
    severities = [s for s in ("critical", "warning", "info") if counts[s]]
    firsts = [findings.index(f'<td class="sev {s}"') for s in severities]
    lasts = [findings.rindex(f'<td class="sev {s}"') for s in severities]
    # worst first over both targets, as the report orders one target's findings
    assert all(last < first for last, first in zip(lasts, firsts[1:], strict=False))
    assert findings.count("<tr>") == 1 + 2 * result.findings.height


def test_trace_text_stays_escaped(result: AnalysisResult) -> None:
    page = _page(result)
    assert XSS_SCRIPT not in page and XSS_BREAKOUT not in page
    assert esc(XSS_SCRIPT) in page or esc(XSS_BREAKOUT) in page


def test_each_targets_analysis_is_let_go_of_once_its_report_is_written(tmp_path: Path) -> None:
    # the page keeps a summary of each target, not its analysis: given one at a time, an
    # analysis is gone before the next one is made (all were held until the page was written)
    made: list[weakref.ref[AnalysisResult]] = []
    alive: list[int] = []

    def analysed() -> Iterator[TargetAnalysis]:
        for n in range(3):
            gc.collect()
            alive.append(sum(ref() is not None for ref in made))
            each = scenario_result(5)
            made.append(weakref.ref(each))
            yield TargetAnalysis(f"{n}" * 12, "eu-west-1", each)
            del each

    written, done = write_target_reports(
        tmp_path / "page.html",
        analysed(),
        heading="All",
        window="the last 6h",
        generated_at=datetime.now(UTC),
    )

    gc.collect()
    assert alive == [0, 0, 0] and all(ref() is None for ref in made)
    assert [t.summary is not None for t in done] == [True, True, True]
    assert written.read_text().count('href="page-') == 3
