"""A month of traces: `store summary --since 30d` from hourly rollups against `analyze --store`.

Generates N segment documents spread over 30 days (the sample application replayed, about
N / 720 segments an hour), imports them into a fresh store, then runs each step in a fresh
process so its peak RSS is its own:

- import:   `tracelens import` of the BatchGetTraces pages (the store's writer);
- rollup:   `tracelens store rollup` (reads each day's spans once, writes its rollup);
- again:    `tracelens store rollup` with nothing changed (every day current: no span read);
- summary:  `tracelens store summary --since START --until END --json` (merges rollups only);
- analyze:  `tracelens analyze --store DIR --since START --until END --json` (every span).

Prints wall and CPU seconds and peak RSS of each, summary / analyze, and checks the figures
the rollups hold: counts equal analyze's, percentiles within 1% of the order statistics around
analyze's (interpolated) value, reported as the largest relative difference seen.

    .venv/bin/python benchmarks/bench_rollups.py --segments 300000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30

CLI_SCRIPT = r"""
import json, resource, sys, time
from pathlib import Path
from click.testing import CliRunner
from tracelens.cli import main

arguments, out = json.loads(sys.argv[1]), sys.argv[2]
start, start_cpu = time.perf_counter(), time.process_time()
result = CliRunner().invoke(main, arguments)
elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
if result.exit_code:
    sys.exit(result.output + repr(result.exception))
Path(out).write_text(result.stdout)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def run(arguments: list[str], out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, json.dumps(arguments), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"benchmark step {arguments[:2]} failed:\n{done.stderr}{done.stdout}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _json(path: Path) -> dict[str, Any]:
    text = path.read_text()
    return dict(json.loads(text[text.index("{") :]))


def compare(summary: dict[str, Any], full: dict[str, Any]) -> dict[str, Any]:
    """Count mismatches (must be 0) and the largest relative percentile difference."""
    mismatches = []
    if summary["input"]["traces"] != full["input"]["traces"]:
        mismatches.append("input.traces")
    exact = {f["name"]: f for f in full["functions"]}
    worst = 0.0
    for row in summary["functions"]:
        for key in ("invocations", "errors", "faults", "cold_starts"):
            if row[key] != exact[row["name"]][key]:
                mismatches.append(f"{row['name']}.{key}")
        for p, value in row["duration_ms"].items():
            truth = exact[row["name"]]["duration_ms"][p]
            if value is not None and truth:
                worst = max(worst, abs(value - truth) / truth)

    def edge_key(edge: dict[str, Any]) -> tuple[str, ...]:
        return tuple(edge[k] for k in ("source", "source_type", "target", "target_type"))

    edges = {edge_key(e): e for e in full["service_map"]["edges"]}
    for edge in summary["service_map"]["edges"]:
        if edge["calls"] != edges.get(edge_key(edge), {}).get("calls"):
            mismatches.append(f"edge {edge_key(edge)}")
    return {
        "count_mismatches": mismatches,
        "largest_percentile_difference": round(worst, 4),
        "functions": len(summary["functions"]),
        "edges": len(summary["service_map"]["edges"]),
        "traces": summary["input"]["traces"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=300_000)
    args = parser.parse_args()
    from tracelens.samples.bulk import write_bulk

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        exports, store = root / "exports", str(root / "store")
        write_bulk(exports, args.segments, fmt="batch", start=START, period=timedelta(days=DAYS))
        since = START.isoformat().replace("+00:00", "Z")
        until = (START + timedelta(days=DAYS + 1)).isoformat().replace("+00:00", "Z")
        window = ["--since", since, "--until", until]
        figures = {
            "import": run(["import", str(exports), "--store", store, "-q"], root / "import.txt"),
            "rollup": run(["store", "rollup", "--store", store], root / "rollup.txt"),
            "again": run(["store", "rollup", "--store", store], root / "again.txt"),
            "summary": run(
                ["store", "summary", "--store", store, *window, "--json"], root / "summary.json"
            ),
            "analyze": run(
                ["analyze", "--store", store, *window, "--json", "-q"], root / "analyze.json"
            ),
        }
        checked = compare(_json(root / "summary.json"), _json(root / "analyze.json"))
    print(f"{args.segments:,} segments over {DAYS} days ({args.segments / DAYS / 24:,.0f}/hour)")
    for name, f in figures.items():
        print(
            f"{name:8} {f['seconds']:8.2f} s wall {f['cpu_seconds']:8.2f} s CPU "
            f"{f['peak_rss_mb']:8.0f} MB peak RSS"
        )
    ratio = figures["summary"]["cpu_seconds"] / figures["analyze"]["cpu_seconds"]
    print(f"summary / analyze CPU: {ratio:.3f}")
    print(json.dumps(checked))
    print(json.dumps({"segments": args.segments, "figures": figures, "check": checked}))
    return 1 if checked["count_mismatches"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
