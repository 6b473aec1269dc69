"""The rollup benchmark runs end to end on a small month and checks its own figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_rollups.py"


@pytest.mark.slow
def test_the_rollup_benchmark_reports_every_step() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--segments", "6000"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    steps = ("import", "rollup", "again", "summary", "analyze", "long")
    for step in (*steps, "report_spans", "report_rollups"):
        assert f"\n{step} " in "\n" + result.stdout, step
    assert '"count_mismatches": []' in result.stdout
    assert "long_window count mismatch" not in result.stdout
    assert "summary / analyze CPU:" in result.stdout
    assert "report from rollups / from spans CPU:" in result.stdout
