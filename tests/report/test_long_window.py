"""The report over a long window from a store: the Long window section from rollups, and a
header line naming the data behind each section (and the days rolled up from spans)."""

from __future__ import annotations

import html
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from tracelens.cli import main
from tracelens.samples.bulk import write_bulk
from tracelens.store import open_store
from tracelens.store import rollups as files

START = datetime(2026, 11, 2, tzinfo=UTC)
LONG = ["--since", "2026-11-02T00:00:00Z", "--until", "2026-11-06T00:00:00Z"]


def _run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("long-report")
    write_bulk(root / "x", 2_000, seed=31, fmt="batch", start=START, period=timedelta(days=4))
    _run("import", str(root / "x"), "--store", str(root / "store"), "-q")
    return root / "store"


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_report_shows_the_long_window_from_rollups_and_says_so(
    store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    _run("report", "--store", str(store), *LONG, "--span-window", "2d", "--out", str(out), "-q")
    page = out.read_text()
    text = " ".join(_text(page).split())
    assert 'id="long-window"' in page
    assert "merged from hourly rollups (counts exact, percentiles within 1%)" in text
    assert "every section from the spans of 2026-11-04 00:00:00 UTC" in text
    data = orjson.loads(
        _run("analyze", "--store", str(store), *LONG, "--span-window", "2d", "--json").stdout
    )
    assert f"{data['long_window']['traces']:,} traces" in text
    for function in data["long_window"]["functions"]:
        assert function["name"] in text


def test_a_span_window_without_traces_still_reports_the_long_window(
    store: Path, tmp_path: Path
) -> None:
    # no trace starts on 2026-11-05: the sections from spans are empty, the long window is not
    out = tmp_path / "r.html"
    _run("report", "--store", str(store), *LONG, "--span-window", "1d", "--out", str(out), "-q")
    text = " ".join(_text(out.read_text()).split())
    assert "every section from the spans of 2026-11-05 00:00:00 UTC" in text
    assert 'id="long-window"' in out.read_text()


def test_a_short_window_has_no_long_window_section(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    _run("report", "--store", str(store), *LONG, "--out", str(out), "-q")
    page = out.read_text()
    assert 'id="long-window"' not in page and "from hourly rollups" not in _text(page)


def test_days_rolled_up_from_spans_are_named_in_the_header(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    open_store(copy).backend.delete(files.rollup_key(START.date()))
    out = tmp_path / "r.html"
    _run("report", "--store", str(copy), *LONG, "--span-window", "2d", "--out", str(out), "-q")
    text = " ".join(_text(out.read_text()).split())
    assert "1 day(s) rolled up from their spans for this report" in text
    assert START.date().isoformat() in text
