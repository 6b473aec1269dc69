"""`analyze/report --store` over a long window: rollups answer the long-window sections, the
spans of the last span window everything else, and the output says which answered what."""

from __future__ import annotations

import math
import shutil
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from analyses.invocations import invocations
from analyses.rollups import RELATIVE_ACCURACY
from tests.builders.cli import run_ok
from tests.builders.results import T0, Ticker
from tests.builders.stores import import_bulk, persist_minutes, persist_reports, record_target
from tracelens import contract, settings
from tracelens.cli import main
from tracelens.store import open_store
from tracelens.store import rollups as files
from tracelens.windowplan import plan_windows

START = datetime(2026, 11, 2, tzinfo=UTC)
DAYS = 5
SINCE, UNTIL = "2026-11-02T00:00:00Z", "2026-11-07T00:00:00Z"
LONG = ["--since", SINCE, "--until", UNTIL, "--span-window", "2d"]
EDGE = ("source", "source_type", "target", "target_type")


def _json(*args: str) -> dict[str, Any]:
    out = run_ok(*args).stdout
    parsed: dict[str, Any] = orjson.loads(out[out.index("{") :])
    return parsed


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("long-window")
    for n, seed in enumerate((21, 22)):
        import_bulk(
            root / "store",
            root / f"run{n}",
            2_500,
            seed=seed,
            start=START,
            period=timedelta(days=DAYS),
        )
    return root / "store"


@pytest.fixture(scope="module")
def long(store: Path) -> dict[str, Any]:
    return _json("analyze", "--store", str(store), *LONG, "--json", "-q")


@pytest.fixture(scope="module")
def spans_only(store: Path) -> dict[str, Any]:
    return _json("analyze", "--store", str(store), *LONG, "--from-rollups", "never", "--json", "-q")


def test_the_json_says_which_data_answered_which_section(
    long: dict[str, Any], spans_only: dict[str, Any]
) -> None:
    rollups = long["input"]["rollups"]
    assert rollups["used"] is True and rollups["mode"] == "auto"
    assert rollups["span_window_s"] == 2 * 86400
    assert rollups["spans"] == {"since": "2026-11-05T00:00:00Z", "until": UNTIL}
    assert long["input"]["window"] == rollups["spans"]
    assert rollups["rollups"] == {"since": SINCE, "until": UNTIL}
    assert rollups["from_spans_days"] == [] and rollups["stale_days"] == []
    assert "long_window.functions" in rollups["from_rollups"]
    assert "longer than the span window (2d)" in rollups["reason"]
    assert rollups["relative_accuracy"] == RELATIVE_ACCURACY
    # the sections read from spans cover only the span window
    assert long["input"]["traces"] < long["long_window"]["traces"]

    plain = spans_only["input"]["rollups"]
    assert plain["used"] is False and plain["rollups"] is None and plain["from_rollups"] == []
    assert spans_only["long_window"] is None
    assert spans_only["input"]["window"] == {"since": SINCE, "until": UNTIL}


def test_long_window_counts_equal_the_span_path(
    long: dict[str, Any], spans_only: dict[str, Any]
) -> None:
    merged = long["long_window"]
    assert merged["traces"] == spans_only["input"]["traces"] > 0
    assert merged["segments"] == spans_only["input"]["segments"]
    days = [d["day"] for d in merged["daily"]]
    assert days == sorted(set(days)) and len(days) > 1
    assert SINCE[:10] <= days[0] and days[-1] < UNTIL[:10]
    assert sum(d["traces"] for d in merged["daily"]) == merged["traces"]

    exact = {f["name"]: f for f in spans_only["functions"] if f["invocations"]}
    rolled = {f["name"]: f for f in merged["functions"]}
    assert set(rolled) == set(exact)
    for name, row in rolled.items():
        for key in ("invocations", "errors", "faults", "cold_starts"):
            assert row[key] == exact[name][key], (name, key)
    assert sum(d["invocations"] for d in merged["daily"]) == sum(
        f["invocations"] for f in merged["functions"]
    )
    edges = {tuple(e[k] for k in EDGE): e for e in spans_only["service_map"]["edges"]}
    assert {tuple(e[k] for k in EDGE) for e in merged["edges"]} == set(edges)
    for edge in merged["edges"]:
        exact_edge = edges[tuple(edge[k] for k in EDGE)]
        for measure in ("calls", "errors", "faults", "throttles"):
            assert edge[measure] == exact_edge[measure]
    traces = {(b["entry"], b["node"], b["node_kind"]): b for b in spans_only["bottlenecks"]}
    for row in merged["bottlenecks"]:
        exact_row = traces[(row["entry"], row["node"], row["node_kind"])]
        assert row["traces"] == exact_row["traces"]
        assert row["critical_path_share"] == pytest.approx(exact_row["critical_path_share"])


def test_long_window_percentiles_are_within_the_sketch_error(
    store: Path, long: dict[str, Any]
) -> None:
    since = datetime.fromisoformat(SINCE.replace("Z", "+00:00"))
    until = datetime.fromisoformat(UNTIL.replace("Z", "+00:00"))
    inputs, _ = open_store(store).load_inputs(since=since, until=until)
    durations = (
        invocations(inputs.traces.spans)
        .filter(pl.col("duration_ms").is_not_null())
        .group_by("function_name")
        .agg(pl.col("duration_ms").sort())
    )
    exact = {row["function_name"]: row["duration_ms"] for row in durations.to_dicts()}
    checked = 0
    for row in long["long_window"]["functions"]:
        values = exact[row["name"]]
        for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            # DDSketch's rank rule: the order statistic at floor(q * (n - 1)), within 1%
            truth = values[math.floor(q * (len(values) - 1))]
            got = row["duration_ms"][name]
            assert abs(got - truth) <= RELATIVE_ACCURACY * truth + 1e-9, (row["name"], name)
            checked += 1
    assert checked >= 3


def test_a_missing_and_a_stale_rollup_day_fall_back_to_spans_and_say_so(
    store: Path, long: dict[str, Any], tmp_path: Path
) -> None:
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    backend = open_store(copy).backend
    missing, stale = START.date(), (START + timedelta(days=1)).date()
    backend.delete(files.rollup_key(missing))
    import_bulk(
        copy,
        tmp_path / "late",
        200,
        seed=23,
        start=START + timedelta(days=1, hours=3),
        period=timedelta(hours=1),
        options=("-q", "--no-rollup"),
    )

    result = run_ok("analyze", "--store", str(copy), *LONG, "--json")
    data = orjson.loads(result.stdout)
    rollups = data["input"]["rollups"]
    assert rollups["missing_days"] == [missing.isoformat()]
    assert rollups["stale_days"] == [stale.isoformat()]
    assert rollups["from_spans_days"] == [missing.isoformat(), stale.isoformat()]
    assert missing.isoformat() not in rollups["days"]
    assert "rolled up from their spans for this run" in result.stderr
    after = _json("analyze", "--store", str(copy), *LONG, "--from-rollups", "never", "--json", "-q")
    assert data["long_window"]["traces"] == after["input"]["traces"]
    assert data["long_window"]["traces"] > long["long_window"]["traces"]
    # nothing was written by the reader: `store rollup` brings the days up to date
    assert files.rollup_days(backend, missing, missing) == []


def test_a_window_within_the_span_window_reads_spans_only(store: Path) -> None:
    data = _json(
        "analyze",
        "--store",
        str(store),
        "--since",
        "2026-11-05T00:00:00Z",
        "--until",
        UNTIL,
        "--span-window",
        "2d",
        "--json",
        "-q",
    )
    assert data["input"]["rollups"]["used"] is False and data["long_window"] is None
    assert "within the span window" in data["input"]["rollups"]["reason"]


def test_a_span_window_under_an_hour_is_refused(store: Path) -> None:
    result = CliRunner().invoke(
        main, ["analyze", "--store", str(store), "--span-window", "10m", "--json"]
    )
    assert result.exit_code == 2 and "1h or more" in result.output


def test_the_rule_rounds_the_rollup_window_out_to_whole_hours_and_ends_now() -> None:
    now = datetime(2026, 12, 1, 10, 20, tzinfo=UTC)
    plan = plan_windows(now - timedelta(days=30), None, now=now, span_window=timedelta(days=7))
    assert plan.use_rollups and plan.span_since == now - timedelta(days=7)
    assert plan.span_until is None
    assert plan.rollup_since == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert plan.rollup_until == datetime(2026, 12, 1, 11, tzinfo=UTC)
    files_only = plan_windows(now - timedelta(days=30), None, now=now, store=False)
    assert not files_only.use_rollups and files_only.span_since == now - timedelta(days=30)
    assert not plan_windows(None, None, now=now).use_rollups


def test_long_window_and_input_rollups_have_exactly_the_declared_keys(
    long: dict[str, Any],
) -> None:
    def fields(hint: Any) -> set[str]:
        return set(typing.get_type_hints(hint))

    merged = long["long_window"]
    assert set(merged) == fields(contract.LongWindow)
    assert set(long["input"]["rollups"]) == fields(contract.Rollups)
    entries = {
        "daily": contract.LongWindowDay,
        "functions": contract.LongWindowFunction,
        "edges": contract.ServiceEdge,
        "dns": contract.LongWindowDns,
        "bottlenecks": contract.LongWindowBottleneck,
        "async_invocations": contract.LongWindowAsync,
    }
    for key, hint in entries.items():
        for entry in merged[key]:
            assert set(entry) == fields(hint), key
    assert merged["daily"] and merged["functions"] and merged["edges"] and merged["bottlenecks"]


@pytest.fixture(scope="module")
def two_targets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("long-window-targets")
    for n, (seed, target) in enumerate(
        ((31, ("prod", "us-east-1")), (32, ("staging", "eu-west-1")))
    ):
        import_bulk(
            root / "store",
            root / f"run{n}",
            1_500,
            seed=seed,
            start=START,
            period=timedelta(days=DAYS),
            target=target,
        )
        record_target(root / "store", target, START)
    return root / "store"


def test_each_target_of_a_store_merges_its_own_rollups(two_targets: Path) -> None:
    long = _json("analyze", "--store", str(two_targets), *LONG, "--json", "-q")
    spans = _json(
        "analyze", "--store", str(two_targets), *LONG, "--from-rollups", "never", "--json", "-q"
    )
    assert sorted(t["account"] for t in long["targets"]) == ["prod", "staging"]
    rollups = long["input"]["rollups"]
    assert rollups["used"] is True and rollups["from_spans_days"] == []
    assert rollups["stale_days"] == [] and len(rollups["days"]) > 1
    merged = long["long_window"]
    assert merged["traces"] == spans["input"]["traces"] > 0
    assert merged["segments"] == spans["input"]["segments"]
    every = [row for key in ("daily", "functions", "edges", "bottlenecks") for row in merged[key]]
    assert {(row["account"], row["region"]) for row in every} == {
        ("prod", "us-east-1"),
        ("staging", "eu-west-1"),
    }
    exact = {(f["account"], f["name"]): f for f in spans["functions"] if f["invocations"]}
    rolled = {(f["account"], f["name"]): f for f in merged["functions"]}
    assert set(rolled) == set(exact)
    for key, row in rolled.items():
        for measure in ("invocations", "errors", "faults", "cold_starts"):
            assert row[measure] == exact[key][measure], (key, measure)
    # each target's rows hold its own traces only (the other's would add to its counts)
    for account in ("prod", "staging"):
        invocations = [f["invocations"] for f in merged["functions"] if f["account"] == account]
        daily = [d["invocations"] for d in merged["daily"] if d["account"] == account]
        assert sum(daily) == sum(invocations) > 0


def test_the_span_window_is_the_config_files_unless_given(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(settings.CONFIG, raising=False)
    config = tmp_path / "tracelens.toml"
    config.write_text('[report]\nspan_window = "2d"\n')
    window = ["--store", str(store), "--since", SINCE, "--until", UNTIL, "--json", "-q"]

    def span_window_s(*args: str) -> float:
        data = _json("analyze", *window, *args)
        return float(data["input"]["rollups"]["span_window_s"])

    assert span_window_s() == 7 * 86400  # the default
    assert span_window_s("--config", str(config)) == 2 * 86400
    assert span_window_s("--config", str(config), "--span-window", "3d") == 3 * 86400
    monkeypatch.setenv(settings.CONFIG, str(config))  # the default config file
    assert span_window_s() == 2 * 86400

    out = tmp_path / "report.html"
    run_ok("report", "--store", str(store), "--since", SINCE, "--until", UNTIL, "--out", str(out))
    assert "longer than the span window (2d)" in out.read_text()
    help_text = " ".join(run_ok("report", "--help").stdout.split())
    assert "[report] span_window, else 7d" in help_text
    assert "its [report] span_window is the default of --span-window" in help_text


def test_timeouts_older_than_the_span_window_are_found_over_the_long_window(
    tmp_path: Path,
) -> None:
    # traces on the first and the fourth day; REPORTs of the first day's requests timed out
    # (and one untraced): only the rollups of the long window hold them
    store = open_store(str(tmp_path / "store"), clock=Ticker(T0 + timedelta(days=5)))
    persist_minutes(store, [1, 2, 3])
    persist_minutes(store, [1, 2], day=3, first=10)
    persist_reports(store, [(1, 1, "timeout"), (2, 2, "timeout"), (3, 3, "success")])
    persist_reports(store, [(40, 50, "timeout")])
    run_ok("store", "rollup", "--store", str(tmp_path / "store"))
    since = T0.replace(hour=0).isoformat().replace("+00:00", "Z")
    until = (T0.replace(hour=0) + timedelta(days=4)).isoformat().replace("+00:00", "Z")
    window = ["--since", since, "--until", until, "--span-window", "1d"]
    got = _json("analyze", "--store", str(tmp_path / "store"), *window, "--json", "-q")
    rollups = got["input"]["rollups"]
    assert rollups["used"] is True and rollups["from_spans_days"] == []
    assert "timeout" not in {f["kind"] for f in got["findings"]}  # the span window's
    timeouts = [f for f in got["long_window"]["findings"] if f["kind"] == "timeout"]
    assert [f["subject"] for f in timeouts] == ["orders"]
    assert timeouts[0]["affected"] == 3 and timeouts[0]["trace_id"] is None
    assert "timeout" not in got["long_window"]["findings_left_out"]
