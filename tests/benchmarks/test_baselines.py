"""A benchmark's run is checked against the baseline of its own scale, never another's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import baselines

REPO = Path(__file__).resolve().parents[2]


def test_each_scale_keeps_its_own_baseline(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    assert baselines.read(path) == {}
    baselines.save(path, baselines.scale(1_000_000), {"ratio": 1.0})
    baselines.save(path, baselines.scale(200_000), {"ratio": 2.0})
    baselines.save(path, baselines.scale(200_000), {"ratio": 3.0})
    assert baselines.read(path) == {"200000": {"ratio": 3.0}, "1000000": {"ratio": 1.0}}
    assert baselines.for_check(path, "1000000", ["x.py"]) == {"ratio": 1.0}
    assert baselines.scale(3000, "batch") == "batch-3000"


def test_a_baseline_of_one_run_is_read_as_its_scale(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"segments": 1_000_000, "format": "batch", "ratio": 3.4}))
    assert baselines.read(path) == {"batch-1000000": json.loads(path.read_text())}
    baselines.save(path, "batch-3000", {"ratio": 4.0})
    assert list(baselines.read(path)) == ["batch-3000", "batch-1000000"]


def test_a_check_at_a_scale_without_a_baseline_names_the_command_that_makes_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "baseline_rollups.json"
    baselines.save(path, "1000000", {"ratios": {}})
    create = ["benchmarks/bench_rollups.py", "--segments", "200000", "--save-baseline"]
    with pytest.raises(SystemExit) as stopped:
        baselines.for_check(path, "200000", create)
    assert stopped.value.code == baselines.NO_BASELINE
    message = capsys.readouterr().err
    assert "no baseline at scale 200000 in baseline_rollups.json (it holds: 1000000)" in message
    assert ".venv/bin/python benchmarks/bench_rollups.py --segments 200000 --save-baseline" in (
        message
    )


@pytest.mark.parametrize(
    ("script", "scale"),
    [
        ("bench_rollups.py", ["--segments", "6000"]),
        ("bench_store.py", ["--segments", "6000"]),
        ("bench_analyze.py", ["--segments", "6000", "--format", "ndjson"]),
    ],
)
def test_every_benchmark_refuses_a_check_at_a_scale_without_a_baseline(
    script: str, scale: list[str], tmp_path: Path
) -> None:
    # refused before any data is generated or any step runs
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *scale, "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == baselines.NO_BASELINE, done.stdout + done.stderr
    assert f"benchmarks/{script} {' '.join(scale)} --save-baseline" in done.stderr
    assert done.stdout == ""
