from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracelens.analysis import AnalysisResult
from tracelens.atomic import NotRegularFileError
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


def test_the_report_is_never_written_over_a_link_or_a_pipe(
    result: AnalysisResult, tmp_path: Path
) -> None:
    link = tmp_path / "report.html"
    link.symlink_to("/dev/null")
    pipe = tmp_path / "pipe.html"
    os.mkfifo(pipe)
    for target in (link, pipe):
        with pytest.raises(NotRegularFileError, match="replaces only regular files"):
            write_report(result, target)
    assert link.is_symlink() and stat.S_ISFIFO(pipe.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.html", "report.html"]
