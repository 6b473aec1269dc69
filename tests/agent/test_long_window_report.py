"""The agent's report over a [report] since longer than [report] span_window merges rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.builders.results import ACCOUNT, REGION, traces_at, xray_result
from tracelens.agent.reporting import write_store_report
from tracelens.analysis import AnalysisResult
from tracelens.rollup import build
from tracelens.store import open_store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_a_report_longer_than_the_span_window_reads_rollups_for_the_long_window(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path / "store")
    starts = [NOW - timedelta(days=d, hours=1) for d in (0, 1, 2, 3)]
    for n, start in enumerate(starts):
        result = xray_result(traces_at([start], first=n + 1))
        store.persist(result, account=ACCOUNT, region=REGION)
    build(store.backend)
    results: list[AnalysisResult] = []
    written, _ = write_store_report(
        store,
        tmp_path / "report.html",
        since=timedelta(days=5),
        now=NOW,
        span_window=timedelta(days=1),
        on_result=results.append,
    )
    (result,) = results
    assert result.long_window is not None and result.long_window.held["traces"] == 4
    assert result.inputs.traces.traces == 1  # the spans of the last day only
    assert 'id="long-window"' in written.read_text()
