"""`tracelens store rollup` / `store summary`: hourly rollups beside the spans, merged over days."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from analyses.rollups import RELATIVE_ACCURACY
from tests.builders.cli import run_ok
from tests.builders.stores import import_bulk

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
EDGE = ("source", "source_type", "target", "target_type")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rollups")
    exports = root / "exports"
    # three days of the sample application, several import runs (several span parts a day)
    location = root / "store"
    for n, seed in enumerate((11, 12, 13)):
        import_bulk(
            location, exports / f"run{n}", 2_000, seed=seed, start=START, period=timedelta(days=2)
        )
    return location


@pytest.fixture
def store(shared: Path) -> Path:
    return shared


def _json(*args: str) -> dict[str, Any]:
    out = run_ok(*args).stdout
    parsed: dict[str, Any] = orjson.loads(out[out.index("{") :])
    return parsed


def test_summary_from_rollups_matches_the_span_analysis(store: Path) -> None:
    since, until = "2026-11-02T00:00:00Z", "2026-11-05T00:00:00Z"
    assert "0 day(s) rolled up" in run_ok("store", "rollup", "--store", str(store)).stderr
    built = run_ok("store", "rollup", "--store", str(store), "--force")
    assert "rolled up 2026-11-02" in built.stdout

    summary = _json(
        "store", "summary", "--store", str(store), "--since", since, "--until", until, "--json"
    )
    full = _json("analyze", "--store", str(store), "--since", since, "--until", until, "--json")

    assert summary["source"] == "rollups"
    assert summary["rollups"]["missing_days"] == [] and summary["rollups"]["stale_days"] == []
    needs_spans = summary["rollups"]["needs_spans"]
    # every finding kind is evaluated over rollups: what needs the spans is their example traces
    assert not any(item.startswith("findings[kind=") for item in needs_spans)
    assert any(item.startswith("findings over rollups") for item in needs_spans)
    assert summary["input"]["traces"] == full["input"]["traces"] > 0
    assert summary["input"]["segments"] == full["input"]["segments"]

    exact = {f["name"]: f for f in full["functions"] if f["invocations"]}
    rolled = {f["name"]: f for f in summary["functions"]}
    assert set(rolled) == set(exact)
    for name, row in rolled.items():
        for key in ("invocations", "errors", "faults", "cold_starts"):
            assert row[key] == exact[name][key], (name, key)
        assert row["init_ms"]["max"] == pytest.approx(exact[name]["init_ms"]["max"], abs=1e-3)
        for p in ("p50", "p95", "p99"):
            # the sketch is within 1% of an order statistic next to the interpolated value
            assert row["duration_ms"][p] == pytest.approx(exact[name]["duration_ms"][p], rel=0.2), (
                name,
                p,
            )

    exact_edges = {tuple(e[k] for k in EDGE): e for e in full["service_map"]["edges"]}
    rolled_edges = {tuple(e[k] for k in EDGE): e for e in summary["service_map"]["edges"]}
    assert set(rolled_edges) == set(exact_edges)
    for key, edge in rolled_edges.items():
        for measure in ("calls", "errors", "faults", "throttles"):
            assert edge[measure] == exact_edges[key][measure]

    exact_entries = {e["entry"]: e for e in full["entry_points"]}
    rolled_entries = {e["entry"]: e for e in summary["entry_points"]}
    assert set(rolled_entries) == set(exact_entries) and rolled_entries
    for entry, row in rolled_entries.items():
        for measure in ("type", "requests", "errors", "faults", "throttled", "failed"):
            assert row[measure] == exact_entries[entry][measure], (entry, measure)
        assert row["cold_start_requests"] == exact_entries[entry]["cold_start_requests"]
    assert [e["entry"] for e in summary["entry_points"]] == [
        e["entry"] for e in full["entry_points"]
    ]

    node = ("name", "type")
    exact_nodes = {tuple(n[k] for k in node): n for n in full["service_map"]["nodes"]}
    rolled_nodes = {tuple(n[k] for k in node): n for n in summary["service_map"]["nodes"]}
    assert set(rolled_nodes) == set(exact_nodes) and rolled_nodes
    counted = ("requests", "errors", "faults", "throttles", "failed")
    for key, row in rolled_nodes.items():
        for measure in (*counted, "service_requests", "service_throttles"):
            assert row[measure] == exact_nodes[key][measure], (key, measure)
        assert (row["service_p50_ms"] is None) == (exact_nodes[key]["service_p50_ms"] is None)


def test_bottleneck_shares_from_rollups(store: Path) -> None:
    summary = _json("store", "summary", "--store", str(store), "--json")
    full = _json("analyze", "--store", str(store), "--json", "-q")
    keys = ("entry", "node", "node_type", "node_kind")
    exact = {tuple(b[k] for k in keys): b for b in full["bottlenecks"]}
    rolled = {tuple(b[k] for k in keys): b for b in summary["bottlenecks"]}
    assert set(rolled) == set(exact) and rolled
    for key, row in rolled.items():
        assert row["traces"] == exact[key]["traces"]
        assert row["critical_path_share"] == pytest.approx(exact[key]["critical_path_share"])


def test_dns_from_rollups(store: Path) -> None:
    summary = _json("store", "summary", "--store", str(store), "--json")
    full = _json("analyze", "--store", str(store), "--json", "-q")
    keys = ("function", "service", "host")
    exact = {tuple(d[k] for k in keys): d for d in full["dns"]}
    rolled = {tuple(d[k] for k in keys): d for d in summary["dns"]}
    assert set(rolled) == set(exact) and rolled
    for key, row in rolled.items():
        for measure in ("lookups", "failures"):
            assert row[measure] == exact[key][measure]
        assert row["cold"]["lookups"] == exact[key]["cold"]["lookups"]
        assert row["warm"]["lookups"] == exact[key]["warm"]["lookups"]
        assert row["latency_ms"]["max"] == pytest.approx(exact[key]["latency_ms"]["max"], abs=1e-3)
        assert row["invocation_share"] == pytest.approx(exact[key]["invocation_share"], rel=1e-3)


def test_percentiles_stay_within_the_stated_error_on_one_function(store: Path) -> None:
    # the analyses' exact p50 and the sketch's differ by at most the relative accuracy
    # around the two order statistics; checked exactly in tests/analyses/test_rollups.py
    summary = _json("store", "summary", "--store", str(store), "--json")
    assert summary["rollups"]["relative_accuracy"] == RELATIVE_ACCURACY
    assert all(
        f["duration_ms"]["p50"] is not None for f in summary["functions"] if f["invocations"]
    )


def test_import_keeps_the_rollups_of_the_days_it_wrote_current(
    shared: Path, tmp_path: Path
) -> None:
    # the shared store was only imported: every day's rollup is current
    notes = _json("store", "summary", "--store", str(shared), "--json")["rollups"]
    assert notes["days"] and notes["missing_days"] == [] and notes["stale_days"] == []
    store = tmp_path / "store"
    shutil.copytree(shared, store)
    imported = import_bulk(
        store, tmp_path / "late", 300, seed=97, start=START, period=timedelta(hours=1), options=()
    )
    assert "rolled up " in imported.stderr and ", 0 already current" in imported.stderr
    notes = _json("store", "summary", "--store", str(store), "--json")["rollups"]
    assert notes["missing_days"] == [] and notes["stale_days"] == []


def test_days_without_rollups_and_stale_days_are_rolled_up_from_spans_and_named(
    shared: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(shared, store)
    import_bulk(
        store,
        tmp_path / "late",
        300,
        seed=99,
        start=START + timedelta(days=3),
        period=timedelta(hours=1),
        options=("-q", "--no-rollup"),
    )
    import_bulk(
        store,
        tmp_path / "late2",
        300,
        seed=98,
        start=START,
        period=timedelta(hours=1),
        options=("-q", "--no-rollup"),
    )
    result = run_ok("store", "summary", "--store", str(store), "--json")
    summary = orjson.loads(result.stdout)
    notes = summary["rollups"]
    assert "2026-11-05" in notes["missing_days"]
    assert "2026-11-02" in notes["stale_days"]
    # as `analyze/report --store` do: such days are rolled up from their spans, and named
    assert {"2026-11-02", "2026-11-05"} <= set(notes["from_spans_days"])
    assert "rolled up from their spans for this run" in result.stderr
    assert "2026-11-02" in result.stderr and "2026-11-05" in result.stderr
    from_spans = _json("store", "summary", "--store", str(store), "--json", "--engine", "local")
    for key in ("input", "functions", "service_map"):
        assert summary[key] == from_spans[key], key
    run_ok("store", "rollup", "--store", str(store))
    again = _json("store", "summary", "--store", str(store), "--json")
    notes = again["rollups"]
    assert notes["missing_days"] == notes["stale_days"] == notes["from_spans_days"] == []
    for key in ("input", "functions", "service_map"):
        assert again[key] == summary[key], key


def test_async_invocations_from_rollups(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "sample_traces" / "real_world"
    store = str(tmp_path / "store")
    run_ok("import", str(sample / "async_invocations.json"), "--store", store, "-q")
    summary = _json("store", "summary", "--store", store, "--json")
    full = _json("analyze", "--store", store, "--json", "-q")
    assert len(summary["async_invocations"]) == len(full["async_invocations"]) == 1
    rolled, exact = summary["async_invocations"][0], full["async_invocations"][0]
    for key in ("function", "events", "events_with_attempts", "attempts", "retried_events"):
        assert rolled[key] == exact[key], key
    assert rolled["max_attempt"] == exact["max_attempt"]
    assert rolled["event_age_ms"]["max"] == pytest.approx(exact["event_age_ms"]["max"], abs=1e-3)
    # 12 events: the contract interpolates between order statistics far apart, the sketch
    # returns one of them (bounds checked in tests/analyses/test_rollups.py)
    assert all(rolled["event_age_ms"][p] is not None for p in ("p50", "p95", "p99"))
