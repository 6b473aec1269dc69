"""Sections added to rollups: a rollup written before one was added is rewritten, rolled up
again from its spans meanwhile, and, once its spans are gone, merged for what it holds and
named as lacking the rest (never counted as none)."""

from __future__ import annotations

import html
from datetime import date, timedelta
from pathlib import Path

import orjson
import polars as pl
from click.testing import CliRunner

from analyses import rollups as partials
from analyses.rollup_findings import rules_lacking
from tests.builders.results import T0
from tests.builders.stores import persist_minutes, rollup_store, write_rollup_file
from tracelens import rollup
from tracelens.cli import main
from tracelens.contract import LONG_WINDOW_KEYS
from tracelens.rollup import build, long_window, read
from tracelens.store import Store, open_store
from tracelens.store import rollups as files
from tracelens.windowplan import plan_windows

DAY = T0.date()
NEXT = DAY + timedelta(days=1)


def _write_before_sections(store: Store, day: date) -> None:
    """A day's rollup as written before entry points and nodes were rolled up: keyed by
    target, recording its span parts, without those sections' rows nor the sections key (nor
    the rows of every target together, added later)."""
    computed = rollup.compute_day(store.backend, day)
    frame = computed.frame.filter(
        ~pl.col("section").is_in(partials.ADDED_SECTIONS)
        & pl.col(files.TARGET_COLUMNS[0]).is_not_null()
    )
    metadata = {
        files.SPAN_PARTS_METADATA: computed.span_parts,
        files.KEYS_METADATA: files.TARGET_COLUMNS,
    }
    write_rollup_file(store, day, frame, metadata)


def _requests(held: dict[str, object]) -> int:
    entries = held["entry_points"]
    assert isinstance(entries, list)
    return sum(int(e["requests"]) for e in entries)


def test_a_rollup_records_its_sections_and_one_without_them_is_not_current(
    tmp_path: Path,
) -> None:
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    assert build(store.backend).built == [DAY]
    footer = files.read_footer(store.backend, DAY)
    assert isinstance(footer, files.RollupFooter)
    assert footer.sections == partials.SECTIONS and footer.lacking == ()
    _write_before_sections(store, DAY)
    older = files.read_footer(store.backend, DAY)
    assert isinstance(older, files.RollupFooter) and older.by_target
    assert older.lacking == partials.ADDED_SECTIONS
    # its spans are kept: rolled up from them for a read (named stale), rewritten by a build
    got = read(store.backend, since=None, until=None)
    assert got.stale_days == got.from_spans_days == [DAY] and got.lacking == {}
    assert _requests(rollup.sections(got.merged)) == 3
    assert build(store.backend).built == [DAY]
    assert read(store.backend, since=None, until=None).days == [DAY]


def test_a_rollup_without_a_section_whose_spans_are_gone_is_named_not_counted_as_zero(
    tmp_path: Path,
) -> None:
    store = open_store(str(_lacking_store(tmp_path)))
    got = read(store.backend, since=None, until=None)
    # both days merged for what they hold; the old one named as lacking the added sections
    assert got.days == [DAY, NEXT] and got.from_spans_days == []
    assert got.lacking == {section: [DAY] for section in partials.ADDED_SECTIONS}
    held = rollup.sections(got.merged)
    assert held["traces"] == 5 and _requests(held) == 2  # the other day's, not 5, not 0
    summary = rollup.summary(got)["rollups"]
    assert summary["lacking"] == {
        "entry_points": [DAY.isoformat()],
        "service_map.nodes": [DAY.isoformat()],
    }
    note = rollup.lacking_note(got.lacking)
    assert note is not None and "not counted as zero" in note
    plan = plan_windows(T0 - timedelta(days=9), T0 + timedelta(days=2), now=T0 + timedelta(days=2))
    merged = long_window(store.backend, plan)
    assert merged.lacking == got.lacking and merged.held["traces"] == 5
    # the findings whose evidence the old day lacks are left out, not told from the other day
    assert merged.findings_left_out == rules_lacking(partials.EVIDENCE_SECTIONS)
    assert set(merged.findings["kind"]) <= {"async_events"}


def _lacking_store(tmp_path: Path) -> Path:
    """A store of two days whose first day's rollup predates the added sections, its spans
    gone."""
    store = rollup_store(tmp_path)
    persist_minutes(store, [1, 2, 3])
    persist_minutes(store, [4, 5], day=1, first=10)
    build(store.backend)
    _write_before_sections(store, DAY)
    for key in files.span_days(store.backend, DAY, DAY)[DAY]:
        store.backend.delete(key)
    return tmp_path / "store"


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_contract_names_what_the_long_window_lacks_by_its_own_keys(tmp_path: Path) -> None:
    # a client reads rollups.lacking["long_window.nodes"] before trusting long_window.nodes
    root = _lacking_store(tmp_path)
    window = ["--since", f"{DAY - timedelta(days=1)}T00:00:00Z"]
    window += ["--until", f"{NEXT + timedelta(days=1)}T00:00:00Z", "--span-window", "1d"]
    data = orjson.loads(_cli("analyze", "--store", str(root), *window, "--json"))
    lacking = data["input"]["rollups"]["lacking"]
    assert lacking == {
        "long_window.entry_points": [DAY.isoformat()],
        "long_window.nodes": [DAY.isoformat()],
        "long_window.findings": [DAY.isoformat()],
    }
    left_out = data["long_window"]["findings_left_out"]
    assert left_out == rules_lacking(partials.EVIDENCE_SECTIONS) and "failures" in left_out
    assert set(lacking) <= set(LONG_WINDOW_KEYS)
    # the report says it once, in the header line naming the data behind each section
    out = tmp_path / "r.html"
    _cli("report", "--store", str(root), *window, "--out", str(out), "-q")
    page = out.read_text()
    note = rollup.lacking_note(_lacking_of(root))
    assert note is not None and page.count(html.escape(note)) == 1
    assert page.count("not counted as zero") == 1


def _lacking_of(root: Path) -> dict[str, list[date]]:
    return read(open_store(str(root)).backend, since=None, until=None).lacking
