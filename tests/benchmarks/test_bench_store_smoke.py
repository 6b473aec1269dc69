"""The store benchmark runs end to end on a small data set and reports every figure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_store.py"
FIGURES = r"{step} +[\d,]+ segments/s +[\d.]+ s wall +[\d.]+ s CPU +peak RSS +[\d,]+ MB"


@pytest.mark.slow
def test_the_store_benchmark_reports_persist_analyze_and_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--segments",
            "3000",
            "--pages-per-run",
            "100",
            "--data-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^segments +3,000 \(BatchGetTraces pages\)$", out, re.MULTILINE), out
    assert re.search(r"^load average +[\d.]+ before, [\d.]+ after", out, re.MULTILINE), out
    for step in ("floor", "persist", "analyze --store", "window --store", "report --store"):
        assert re.search(FIGURES.format(step=step), out), out
    for ratio in ("analyze / floor", "window / floor", "report / analyze"):
        assert re.search(rf"^{ratio} +[\d.]+x", out, re.MULTILINE), out
