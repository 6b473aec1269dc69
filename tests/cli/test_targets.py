"""`analyze/report --store` of a store written by several targets: the store is read once for
all of them (not once per target), and each target's analysis is let go of once drawn."""

from __future__ import annotations

import gc
import weakref
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.builders.cli import count_part_reads, run_ok
from tests.builders.stores import import_bulk, record_target
from tracelens import report
from tracelens.agent import targets_report
from tracelens.analysis import AnalysisResult
from tracelens.store import open_store

START = datetime(2026, 11, 2, tzinfo=UTC)
TARGETS = [
    ("prod", "us-east-1"),
    ("staging", "eu-west-1"),
    ("dev", "us-east-1"),
    ("qa", "ap-south-1"),
]
WHEN = ["--since", "2026-11-02T00:00:00Z", "--until", "2026-11-03T00:00:00Z"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("targets")
    for n, target in enumerate(TARGETS):
        import_bulk(
            root / "store",
            root / f"run{n}",
            60 * (n + 1),
            seed=40 + n,
            start=START,
            period=timedelta(hours=20),
            target=target,
        )
        record_target(root / "store", target, START)
    return root / "store"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    return count_part_reads(monkeypatch)


def test_analyze_reads_every_part_once_for_every_target(store: Path, counted: Counter[str]) -> None:
    out = run_ok("analyze", "--store", str(store), *WHEN, "--json", "-q").stdout
    document = orjson.loads(out[out.index("{") :])

    assert sorted(t["account"] for t in document["targets"]) == sorted(a for a, _ in TARGETS)
    assert counted and set(counted.values()) == {1}  # was 4: once per target
    # each target on its own data, as a load of that target alone gives it
    alone = {
        account: open_store(str(store))
        .load_inputs(since=START, until=START + timedelta(days=1), account=account, region=region)[
            0
        ]
        .traces.segments
        for account, region in TARGETS
    }
    assert document["input"]["segments"] == sum(alone.values())


def test_report_with_a_baseline_reads_every_part_once_per_window(
    store: Path, counted: Counter[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    run_ok(
        "report", "--store", str(store), *WHEN, "--out", str(out), "-q",
        "--baseline-since", "2026-11-02T00:00:00Z", "--baseline-until", "2026-11-02T10:00:00Z",
    )  # fmt: skip

    assert counted and set(counted.values()) == {2}  # the window and the baseline's: was 8
    for account, region in TARGETS:
        page = targets_report.target_report_path(out, account, region).read_text()
        assert '<section id="baseline">' in page


def test_each_targets_analysis_is_released_once_its_report_is_written(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the page keeps each target's summary, not its analysis: while a target is drawn, the
    # analyses of the targets drawn before it are gone
    drawn: list[weakref.ref[AnalysisResult]] = []
    alive_when_drawn: list[int] = []
    original = report.write_report

    def watched(result: AnalysisResult, *args: Any, **kwargs: Any) -> Path:
        gc.collect()
        alive_when_drawn.append(sum(ref() is not None for ref in drawn))
        drawn.append(weakref.ref(result))
        return original(result, *args, **kwargs)

    monkeypatch.setattr(report, "write_report", watched)
    run_ok("report", "--store", str(store), *WHEN, "--out", str(tmp_path / "r.html"), "-q")

    gc.collect()
    assert len(drawn) == len(TARGETS)
    assert alive_when_drawn == [0] * len(TARGETS)  # was [0, 1, 2, 3]: all held for the page
    assert all(ref() is None for ref in drawn)
    page = (tmp_path / "r.html").read_text()
    assert all(f"{account}</td>" in page for account, _ in TARGETS)


def test_a_target_without_spans_or_rollups_over_a_long_window_is_passed_over(
    tmp_path: Path,
) -> None:
    # NOTE: over a window longer than the span window the rollups answer too; a target with
    # neither spans nor rollups in it has no data, not a report of zeros.
    store = str(tmp_path / "store")
    import_bulk(
        store,
        tmp_path / "x",
        60,
        seed=7,
        start=START,
        period=timedelta(hours=2),
        target=("prod", "us-east-1"),
    )
    for target in (("prod", "us-east-1"), ("idle", "eu-west-1")):
        record_target(store, target, START)
    long = ["--since", "2026-10-20T00:00:00Z", "--until", "2026-11-03T00:00:00Z"]

    result = run_ok("analyze", "--store", store, *long, "--json", "-q")

    document = orjson.loads(result.stdout[result.stdout.index("{") :])
    assert [t["account"] for t in document["targets"]] == ["prod"]
    assert "no data in the window for idle (eu-west-1)" in result.stderr
