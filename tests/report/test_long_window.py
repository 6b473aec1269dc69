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
import polars as pl
import pytest

from analyses.entry_points import entry_traces
from analyses.rollups import PERCENTILES, RELATIVE_ACCURACY
from analyses.service_map import service_map_hops_and_node_requests
from tests.builders.cli import run_ok
from tests.builders.stores import import_bulk
from tracelens.store import open_store
from tracelens.store import rollups as files

START = datetime(2026, 11, 2, tzinfo=UTC)
LONG = ["--since", "2026-11-02T00:00:00Z", "--until", "2026-11-06T00:00:00Z"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("long-report")
    import_bulk(root / "store", root / "x", 2_000, seed=31, start=START, period=timedelta(days=4))
    return root / "store"


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_the_report_shows_the_long_window_from_rollups_and_says_so(
    store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    run_ok("report", "--store", str(store), *LONG, "--span-window", "2d", "--out", str(out), "-q")
    page = out.read_text()
    text = " ".join(_text(page).split())
    assert 'id="long-window"' in page
    assert "merged from hourly rollups (counts exact, percentiles within 1%)" in text
    assert "every section from the spans of 2026-11-04 00:00:00 UTC" in text
    data = orjson.loads(
        run_ok("analyze", "--store", str(store), *LONG, "--span-window", "2d", "--json").stdout
    )
    assert f"{data['long_window']['traces']:,} traces" in text
    for function in data["long_window"]["functions"]:
        assert function["name"] in text


def test_a_span_window_without_traces_still_reports_the_long_window(
    store: Path, tmp_path: Path
) -> None:
    # no trace starts on 2026-11-05: the sections from spans are empty, the long window is not
    out = tmp_path / "r.html"
    run_ok("report", "--store", str(store), *LONG, "--span-window", "1d", "--out", str(out), "-q")
    text = " ".join(_text(out.read_text()).split())
    assert "every section from the spans of 2026-11-05 00:00:00 UTC" in text
    assert 'id="long-window"' in out.read_text()


def test_a_short_window_has_no_long_window_section(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    run_ok("report", "--store", str(store), *LONG, "--out", str(out), "-q")
    page = out.read_text()
    assert 'id="long-window"' not in page and "from hourly rollups" not in _text(page)


def test_days_rolled_up_from_spans_are_named_in_the_header(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    open_store(copy).backend.delete(files.rollup_key(START.date()))
    out = tmp_path / "r.html"
    run_ok("report", "--store", str(copy), *LONG, "--span-window", "2d", "--out", str(out), "-q")
    text = " ".join(_text(out.read_text()).split())
    assert "1 day(s) rolled up from their spans for this report" in text
    assert START.date().isoformat() in text


def test_entry_points_and_nodes_cover_the_whole_window(store: Path, tmp_path: Path) -> None:
    # over 4 days with a 2-day span window: entry points and the nodes' percentiles are merged
    # from the rollups of all 4 days (what every span gives), not the last 2 days' spans
    split = ["--store", str(store), *LONG, "--span-window", "2d"]
    data = orjson.loads(run_ok("analyze", *split, "--json").stdout)
    every = orjson.loads(run_ok("analyze", *split, "--json", "--from-rollups", "never").stdout)
    rollups = data["input"]["rollups"]
    assert rollups["used"] and rollups["lacking"] == {}
    assert {"long_window.entry_points", "long_window.nodes"} <= set(rollups["from_rollups"])
    assert all("entry_points[] (" in s or "entry_points" not in s for s in rollups["needs_spans"])

    exact = {e["entry"]: e for e in every["entry_points"]}
    merged = {e["entry"]: e for e in data["long_window"]["entry_points"]}
    assert set(merged) == set(exact) and merged
    span_window = sum(e["requests"] for e in data["entry_points"])
    assert sum(e["requests"] for e in merged.values()) == every["input"]["traces"] > span_window
    for entry, row in merged.items():
        for key in ("requests", "errors", "faults", "throttled", "failed", "in_progress"):
            assert row[key] == exact[entry][key], (entry, key)
        assert row["cold_start_requests"] == exact[entry]["cold_start_requests"]
    spans = _spans(store)
    completed = entry_traces(spans).filter(pl.col("end_time").is_not_null())
    _assert_within_the_sketch_error(
        {(e,): row["latency_ms"] for e, row in merged.items()}, completed, ["entry"], "duration_ms"
    )

    key = ("name", "type")
    exact_nodes = {tuple(n[k] for k in key): n for n in every["service_map"]["nodes"]}
    nodes = {tuple(n[k] for k in key): n for n in data["long_window"]["nodes"]}
    assert set(nodes) == set(exact_nodes)
    fronted = [k for k, n in nodes.items() if n["service_requests"]]
    assert fronted
    for node, row in nodes.items():
        for measure in ("requests", "errors", "faults", "throttles", "failed"):
            assert row[measure] == exact_nodes[node][measure], (node, measure)
        assert row["service_requests"] == exact_nodes[node]["service_requests"]
        for p in ("service_p50_ms", "service_p95_ms"):
            assert (row[p] is None) == (exact_nodes[node][p] is None), (node, p)
    _, requests = service_map_hops_and_node_requests(spans)
    _assert_within_the_sketch_error(
        {
            k: {"p50": n["service_p50_ms"], "p95": n["service_p95_ms"]}
            for k, n in nodes.items()
            if n["service_requests"]
        },
        requests.drop_nulls("service_ms"),
        ["name", "type"],
        "service_ms",
    )

    out = tmp_path / "r.html"
    run_ok("report", *split, "--out", str(out), "-q")
    text = " ".join(_text(out.read_text()).split())
    section = text[text.index("Long window") :]
    assert "Entry points" in section and "Service-map nodes" in section
    assert "entry points, functions, service-map nodes and edges" in section
    for entry in merged:
        assert entry in section


def _spans(store: Path) -> pl.DataFrame:
    inputs, problems = open_store(store).load_inputs(
        since=datetime(2026, 11, 2, tzinfo=UTC), until=datetime(2026, 11, 6, tzinfo=UTC)
    )
    assert problems == []
    return inputs.traces.spans


def _assert_within_the_sketch_error(
    sketched: dict[tuple[Any, ...], dict[str, float | None]],
    values: pl.DataFrame,
    keys: list[str],
    column: str,
) -> None:
    """Each sketched percentile lies within the relative accuracy of the order statistics at
    ranks floor(q * (n - 1)) and the next, between which the exact (linear) one lies."""
    alpha = RELATIVE_ACCURACY
    checked = 0
    for name, q in PERCENTILES.items():
        bounds = values.group_by(keys).agg(
            pl.col(column).quantile(q, interpolation="lower").alias("lo"),
            pl.col(column).quantile(q, interpolation="higher").alias("hi"),
        )
        for row in bounds.iter_rows(named=True):
            got = sketched[tuple(row[k] for k in keys)].get(name, "absent")
            if got == "absent":
                continue
            assert isinstance(got, float), (row, name)
            assert row["lo"] * (1 - alpha) - 1e-9 <= got <= row["hi"] * (1 + alpha) + 1e-9, (
                row,
                name,
                got,
            )
            checked += 1
    assert checked > 0


def test_async_event_findings_cover_the_whole_window(tmp_path: Path) -> None:
    # the retried asynchronous events are all older than the span window: only the findings
    # merged from rollups tell them (without an example trace: that needs the spans)
    sample = Path(__file__).resolve().parents[2] / "sample_traces" / "real_world"
    store = tmp_path / "store"
    run_ok("import", str(sample / "async_invocations.json"), "--store", str(store), "-q")
    window = ["--since", "2024-04-28T00:00:00Z", "--until", "2024-05-05T00:00:00Z"]
    args = ["--store", str(store), *window, "--span-window", "2d"]
    data = orjson.loads(run_ok("analyze", *args, "--json").stdout)
    assert data["findings"] == []
    over_window = data["long_window"]["findings"]
    [found] = [f for f in over_window if f["kind"] == "async_events"]
    assert (found["subject"], found["severity"]) == ("thumbnailer", "warning")
    assert found["trace_id"] is None and found["evidence"]["retried_events"] == 2
    # the other kinds rollups hold the evidence of are told too, as from the spans of the
    # same traces (every kind; no REPORT logs here, so no timeouts either)
    every = orjson.loads(run_ok("analyze", str(sample / "async_invocations.json"), "--json").stdout)
    told = {(f["kind"], f["subject"], f["severity"]) for f in every["findings"]}
    assert {(f["kind"], f["subject"], f["severity"]) for f in over_window} == told
    assert {f["kind"] for f in over_window} >= {"failures", "cold_start", "async_events"}
    assert "bottleneck" in {f["kind"] for f in over_window}
    assert data["long_window"]["findings_left_out"] == []
    assert "long_window.findings" in data["input"]["rollups"]["from_rollups"]
    out = tmp_path / "r.html"
    run_ok("report", *args, "--out", str(out), "-q")
    text = " ".join(_text(out.read_text()).split())
    assert "Findings over the whole window" in text
    assert "2 of 12 asynchronous events needed a retry" in text
    # as the Findings section: critical and warning cards; the info ones counted, in the JSON
    infos = sum(f["severity"] == "info" for f in over_window)
    assert infos > 0 and f"{infos} info finding(s) over the window in the JSON" in text
    assert (
        "none user-facing"
        not in text.split("Findings over the whole window")[1].split("Entry points")[0]
    )
