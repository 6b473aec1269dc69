"""The soak benchmark runs end to end: a few cycles, its table and its summary."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders.agent import subprocess_env

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "soak_agent.py"


@pytest.mark.integration
@pytest.mark.slow
def test_a_short_soak_collects_every_cycle_and_prints_its_summary(
    tmp_path: Path, aws_home: Path
) -> None:
    out = tmp_path / "soak"

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--cycles", "5", "--max-seconds", "60", "--out", str(out)],
        cwd=REPO,
        env=subprocess_env(aws_home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout
    assert re.search(r"^ +1 +[\d.]+ +[\d.]+ ", lines, re.MULTILINE), lines  # the table's row
    assert "summary: 5 cycle(s)" in lines
    counts = re.search(r"cycles per collector: (\{.*\})", lines)
    assert counts is not None
    cycles = ast.literal_eval(counts.group(1))
    assert sorted(cycles) == ["cloudwatch", "lambda", "logs", "xray"]
    assert min(cycles.values()) >= 5, cycles
    assert "failed" not in lines
    assert re.search(r"RSS after warm-up \(cycle 2\): [\d.]+ MB", lines)
    assert re.search(r"RSS at the end \(cycle 5\): [\d.]+ MB", lines)
    assert "growth: not judged (3 cycle(s) after the warm-up" in lines
    # The seeded hour was collected into the store, and the status file written.
    assert list((out / "demo-store").rglob("*.parquet"))
    assert (out / "tracelens-status.json").is_file()
