"""The throughput benchmark runs end to end on a small data set and reports every figure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_analyze.py"
FIGURES = r"{step} +[\d,]+ segments/s +[\d.]+ s wall +[\d.]+ s CPU +peak RSS +[\d,]+ MB"


@pytest.mark.parametrize("fmt", ["batch", "ndjson-one-file", "aws-spans"])
def test_the_benchmark_reports_throughput_and_peak_memory_of_floor_and_analyze(
    tmp_path: Path, fmt: str
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--segments",
            "3000",
            "--format",
            fmt,
            "--data-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(rf"^segments +3,000 \({fmt}\)$", out, re.MULTILINE), out
    assert re.search(FIGURES.format(step="floor"), out), out
    assert re.search(FIGURES.format(step="analyze"), out), out
    assert re.search(r"^analyze / floor +[\d.]+x$", out, re.MULTILINE), out
    assert re.search(r"^analyze .* [\d,]+ spans/s$", out, re.MULTILINE), out
    # The data set was generated where asked (and marked complete, so later runs reuse it).
    assert (tmp_path / f"{fmt}-3000" / ".complete").is_file()


def test_the_component_benchmark_reports_every_component() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_components.py"), "--scale", "0.02"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name, unit in (("text-logs", "lines"), ("bottlenecks", "traces"), ("report", "pages")):
        assert re.search(
            rf"^{name} +[\d,]+ {unit} +[\d.]+ s +[\d,.]+ {unit}/s +peak [\d,]+ MB$",
            result.stdout,
            re.MULTILINE,
        ), result.stdout
