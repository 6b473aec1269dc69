"""A store of many parts (many runs over several days) reads back whole, with or without a window.

Regression: an open range (no --since/--until) filtered the traces' start times with a literal
predicate, which polars refused (ShapeError) once the spans came from more than one part.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from collectors.base import Window
from tests.builders.results import (
    ACCOUNT,
    REGION,
    SEGMENTS_PER_TRACE,
    SPANS_PER_TRACE,
    T0,
    Ticker,
    traces_at,
    xray_result,
)
from tracelens.cli import main
from tracelens.store import Store, open_store

RUNS, TRACES_PER_RUN = 6, 7  # runs 10 hours apart: three days, several parts per day
# NOTE: polars (2.1) refuses a literal filter on a group-by result of more than ~16k groups.
MANY_TRACES_PER_RUN = 4_000


def _fill(store: Store, per_run: int = TRACES_PER_RUN) -> None:
    for run in range(RUNS):
        start = T0 + timedelta(hours=10 * run)
        starts = [start + timedelta(milliseconds=10 * s) for s in range(per_run)]
        store.persist(
            xray_result(traces_at(starts, first=1 + run * per_run)),
            account=ACCOUNT,
            region=REGION,
        )


@pytest.mark.slow
def test_an_open_range_reads_every_part(store: Store) -> None:
    _fill(store, MANY_TRACES_PER_RUN)
    runs = {key.rsplit("/part-", 1)[1] for key in store.backend.list_keys("spans")}
    assert len(runs) == RUNS  # each run's parts: one per trace-id bucket

    inputs, problems = store.load_inputs()

    assert problems == []
    assert inputs.traces.traces == RUNS * MANY_TRACES_PER_RUN
    assert inputs.traces.spans.height == RUNS * MANY_TRACES_PER_RUN * SPANS_PER_TRACE
    assert inputs.traces.duplicates == 0


def test_open_ended_and_closed_windows_over_many_parts(store: Store) -> None:
    _fill(store)
    again = [T0 + timedelta(milliseconds=10 * s) for s in range(TRACES_PER_RUN)]
    store.persist(  # the first run's traces read again by another window: kept once
        xray_result(traces_at(again), window=Window(T0, T0 + timedelta(minutes=5))),
        account=ACCOUNT,
        region=REGION,
    )
    middle = T0 + timedelta(hours=20)  # the third run starts here

    after, _ = store.load_inputs(since=middle)
    before, _ = store.load_inputs(until=middle)
    between, _ = store.load_inputs(since=T0 + timedelta(hours=10), until=middle)

    assert after.traces.traces == (RUNS - 2) * TRACES_PER_RUN
    assert before.traces.traces == 2 * TRACES_PER_RUN
    assert before.traces.duplicates == TRACES_PER_RUN * SEGMENTS_PER_TRACE
    assert between.traces.traces == TRACES_PER_RUN


def test_analyze_store_without_a_window(store: Store, tmp_path: Path) -> None:
    _fill(store)
    out = tmp_path / "analysis.json"

    result = CliRunner().invoke(
        main, ["analyze", "--store", store.url, "--json", "--out", str(out), "-q"]
    )

    assert result.exit_code == 0, result.output
    contract = json.loads(out.read_text())
    assert contract["input"]["segments"] == RUNS * TRACES_PER_RUN * SEGMENTS_PER_TRACE


@pytest.fixture(scope="module")
def many_traces(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store of the size that crashed an open-range analysis: six runs of 4,000 traces."""
    store = open_store(tmp_path_factory.mktemp("many") / "store", clock=Ticker())
    _fill(store, MANY_TRACES_PER_RUN)
    return store


def _at(hours: int) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("window", "runs"),
    [
        ((), range(RUNS)),
        # NOTE: --since alone ends now, longer than the span window: every span is asked for
        (("--since", _at(20), "--from-rollups", "never"), range(2, RUNS)),
        (("--until", _at(20)), range(2)),
        (("--since", _at(10), "--until", _at(40)), range(1, 4)),
    ],
    ids=["open", "since", "until", "since-until"],
)
def test_analyze_store_of_many_traces_with_and_without_a_window(
    many_traces: Store, window: tuple[str, ...], runs: range, tmp_path: Path
) -> None:
    out = tmp_path / "analysis.json"

    result = CliRunner().invoke(
        main, ["analyze", "--store", many_traces.url, *window, "--json", "--out", str(out), "-q"]
    )

    assert result.exit_code == 0, result.output
    contract = json.loads(out.read_text())
    traces = len(runs) * MANY_TRACES_PER_RUN
    assert contract["input"]["traces"] == traces
    assert contract["input"]["segments"] == traces * SEGMENTS_PER_TRACE
    assert contract["input"]["duplicates"] is None  # a store keeps no count of copies dropped
    (orders,) = contract["functions"]
    assert orders["invocations"] == traces
