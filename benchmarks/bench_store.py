"""Throughput and peak memory of the store: persisting pages, `analyze --store`, `report --store`.

Generates N segment documents as BatchGetTraces pages (the generator of bench_analyze.py, cached
under benchmarks/.data/), then runs, each in a fresh process so peak RSS is its own:

- floor:    the bare JSON parse of the same pages (bench_analyze.py's floor);
- persist:  `Store.persist` of the pages in collector runs of --pages-per-run pages (raw gzip
            and Parquet); only the persist calls are timed (the pages of a run are parsed
            before, as a collector hands them over); with --roll-up, the rollups of the days
            each run wrote are computed again after it (what the agent does after a cycle),
            timed apart and printed as the cost added;
- analyze:  `tracelens analyze --store DIR --json` with no window;
- window:   the same with `--since` (whole traces starting in the window: every one here);
- report:   `tracelens report --store DIR`.

Prints segments/second, wall and CPU seconds and peak RSS for each, and the issue's ratios:
analyze --store / floor (target <= 1), report / analyze (<= 1.3), persist segments/s
(>= 20,000). CPU seconds are printed beside wall seconds: on a shared machine the wall figures
move with the load (the CPU figures far less); the 1-minute load average before and after the
run is printed and saved with the figures.
With --check, exits 1 when a ratio of CPU seconds regresses more than 25% over
benchmarks/baseline_store.json's baseline of the same segment count, or persisting takes 25%
more CPU per segment (CPU figures: the machine these run on is shared, and wall times there move
by 2-3x with the load); a count without one is refused (benchmarks/baselines.py).

    .venv/bin/python benchmarks/bench_store.py --segments 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baselines  # noqa: E402
from bench_analyze import FLOOR_SCRIPT, best_of, ensure_data, run_child  # noqa: E402

BASELINE = HERE / "baseline_store.json"
SINCE = "2000-01-01T00:00:00Z"

PERSIST_SCRIPT = r"""
import json, resource, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
import orjson
from collectors.base import CallStats, CollectorResult, RawPage, Window
from collectors.xray import TRACES
from tracelens.rollup import refresh
from tracelens.store import open_store
from tracelens.store.rollups import days_of_span_parts

source, target, per_run = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
roll_up = sys.argv[4:] == ["rollup"]
rollup_seconds = rollup_cpu = 0.0
files = sorted(p for p in source.rglob("*.json") if not p.name.startswith("."))
store = open_store(target)
start = datetime(2026, 11, 20, tzinfo=UTC)
seconds = cpu = 0.0
segments = 0
for first in range(0, len(files), per_run):
    pages = []
    for path in files[first : first + per_run]:
        response = orjson.loads(path.read_bytes())
        segments += sum(len(trace["Segments"]) for trace in response["Traces"])
        request = {"TraceIds": [trace["Id"] for trace in response["Traces"]]}
        pages.append(RawPage(TRACES, "xray:BatchGetTraces", request, response))
    window = Window(start + timedelta(minutes=first), start + timedelta(minutes=first + 1))
    result = CollectorResult(source="xray", window=window, pages=tuple(pages), failures=(),
                             warnings=(), stats=CallStats(), complete=True)
    began, began_cpu = time.perf_counter(), time.process_time()
    receipt = store.persist(result, account="123456789012", region="us-east-1")
    seconds += time.perf_counter() - began
    cpu += time.process_time() - began_cpu
    if roll_up:  # what the agent does after a cycle: the days written, rolled up again
        began, began_cpu = time.perf_counter(), time.process_time()
        refresh(store.backend, days_of_span_parts(receipt.part_keys))
        rollup_seconds += time.perf_counter() - began
        rollup_cpu += time.process_time() - began_cpu
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"documents": segments, "seconds": seconds, "cpu_seconds": cpu,
                  "rollup_seconds": rollup_seconds, "rollup_cpu_seconds": rollup_cpu,
                  "peak_rss_mb": usage.ru_maxrss / 1024}))
"""

CLI_SCRIPT = r"""
import json, resource, sys, time
arguments = json.loads(sys.argv[1])
sys.argv = ["tracelens", *arguments]  # NOTE: the allocator settings follow the command line
from click.testing import CliRunner
from tracelens.cli import main

start, start_cpu = time.perf_counter(), time.process_time()
result = CliRunner().invoke(main, arguments)
elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
if result.exit_code:
    sys.exit(result.output + repr(result.exception))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def _line(name: str, documents: int, step: dict[str, Any]) -> str:
    return (
        f"{name:<19} {documents / step['seconds']:>12,.0f} segments/s"
        f"   {step['seconds']:>7.2f} s wall   {step['cpu_seconds']:>7.2f} s CPU"
        f"   peak RSS {step['peak_rss_mb']:>7,.0f} MB"
    )


def _cpu_figures(report: dict[str, Any]) -> dict[str, float]:
    """The ratios and rate by CPU seconds: on a shared machine they move far less than wall
    seconds (other work stretches the wall time of every step differently)."""
    cpu = {name: float(report[name]["cpu_seconds"]) for name in ("floor", "analyze", "report")}
    return {
        "analyze_over_floor_cpu": cpu["analyze"] / cpu["floor"],
        "report_over_analyze_cpu": cpu["report"] / cpu["analyze"],
        "persist_segments_per_cpu_s": report["persist"]["documents"]
        / report["persist"]["cpu_seconds"],
    }


def _regressions(report: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    now, before = _cpu_figures(report), _cpu_figures(baseline)
    found = []
    for ratio in ("analyze_over_floor_cpu", "report_over_analyze_cpu"):
        if now[ratio] > before[ratio] * 1.25:
            found.append(f"{ratio} {now[ratio]:.2f} vs baseline {before[ratio]:.2f}")
    rate = "persist_segments_per_cpu_s"
    if now[rate] < before[rate] * 0.75:
        found.append(f"persist {now[rate]:,.0f} segments per CPU second vs {before[rate]:,.0f}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=1_000_000)
    parser.add_argument("--pages-per-run", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=1, help="best of N runs of each read step")
    parser.add_argument("--data-dir", type=Path, default=HERE / ".data")
    parser.add_argument("--check", action="store_true", help="fail on a regression")
    parser.add_argument("--save-baseline", action="store_true")
    parser.add_argument("--roll-up", action="store_true", help="roll up after each run")
    args = parser.parse_args()
    scale = baselines.scale(args.segments)
    create = ["benchmarks/bench_store.py", "--segments", str(args.segments), "--save-baseline"]
    baseline = baselines.for_check(BASELINE, scale, create) if args.check else None

    data_dir = ensure_data(args.segments, "batch", args.data_dir)
    load_before = os.getloadavg()[0]
    floor = best_of(args.runs, ["-c", FLOOR_SCRIPT, str(data_dir)])
    with tempfile.TemporaryDirectory() as scratch:
        store, out = Path(scratch) / "store", Path(scratch) / "out"
        persist = run_child(
            ["-c", PERSIST_SCRIPT, str(data_dir), str(store), str(args.pages_per_run)]
            + (["rollup"] if args.roll_up else [])
        )
        base = ["--store", str(store), "-q", "--out", str(out)]
        steps = {
            "analyze": ["analyze", "--json", *base],
            "window": ["analyze", "--json", "--since", SINCE, *base],
            "report": ["report", *base],
        }
        timed = {
            name: best_of(args.runs, ["-c", CLI_SCRIPT, json.dumps(arguments)])
            for name, arguments in steps.items()
        }
    documents = int(floor["documents"])
    report: dict[str, Any] = {
        "segments": documents,
        "pages_per_run": args.pages_per_run,
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "floor": floor,
        "persist": {**persist, "segments_per_s": persist["documents"] / persist["seconds"]},
        **timed,
        "analyze_over_floor": timed["analyze"]["seconds"] / floor["seconds"],
        "window_over_floor": timed["window"]["seconds"] / floor["seconds"],
        "report_over_analyze": timed["report"]["seconds"] / timed["analyze"]["seconds"],
    }
    print(f"segments            {documents:>12,} (BatchGetTraces pages)")
    load = report["load_average"]
    print(
        f"load average        {load['before']:>12.2f} before, {load['after']:.2f} after"
        f" ({os.cpu_count()} CPUs)"
    )
    print(_line("floor", documents, floor))
    print(_line("persist", persist["documents"], persist))
    if args.roll_up:
        added = persist["rollup_cpu_seconds"]
        print(
            f"rollup after each run {added:>7.2f} s CPU ({persist['rollup_seconds']:.2f} s wall): "
            f"persist + rollup {persist['documents'] / (persist['cpu_seconds'] + added):,.0f} "
            "segments per CPU second"
        )
    for name in ("analyze", "window", "report"):
        print(_line(f"{name} --store", documents, timed[name]))
    print(f"analyze / floor     {report['analyze_over_floor']:>12.2f}x   (target <= 1)")
    print(f"window / floor      {report['window_over_floor']:>12.2f}x")
    print(f"report / analyze    {report['report_over_analyze']:>12.2f}x   (target <= 1.3)")
    cpu = _cpu_figures(report)
    print(
        f"by CPU seconds       analyze / floor {cpu['analyze_over_floor_cpu']:.2f}x,"
        f" report / analyze {cpu['report_over_analyze_cpu']:.2f}x,"
        f" persist {cpu['persist_segments_per_cpu_s']:,.0f} segments per CPU second"
    )
    if args.save_baseline:
        baselines.save(BASELINE, scale, report)
    if baseline is not None:
        problems = _regressions(report, baseline)
        for problem in problems:
            print(f"REGRESSION: {problem}")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
