from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracelens.analysis import AnalysisResult
from tracelens.report import render_report, write_report

WHEN = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)


def test_write_report_writes_the_rendered_page_atomically(
    result: AnalysisResult, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    written = write_report(result, target, title="t", generated_at=WHEN)
    assert written == target
    assert target.read_text("utf-8") == render_report(result, title="t", generated_at=WHEN)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left


def test_write_report_names_a_missing_directory(result: AnalysisResult, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(result, tmp_path / "nope" / "report.html")


def test_a_failed_render_leaves_the_old_file(result: AnalysisResult, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(ValueError, match="region"):
        write_report(result, target, region="moon-1")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
