"""A month of traces: `report --store` over 30 days from hourly rollups against every span.

Generates N segment documents spread over 30 days (the sample application replayed, about
N / 720 segments an hour), imports them into a fresh store (under --tmp, default /tmp), then
runs each step in a fresh process so its peak RSS is its own:

- import:   `tracelens import --no-rollup` of the BatchGetTraces pages (the store's writer);
- rollup:   `tracelens store rollup` (reads each day's spans once, writes its rollup): what
            `import` adds at its end, and the agent after each cycle for the days it wrote;
- again:    `tracelens store rollup` with nothing changed (every day current: no span read);
- summary:  `tracelens store summary --json` over the month (merges rollups only);
- analyze:  `tracelens analyze --store --json --from-rollups never` over the month (every
            span: the reference for the counts);
- long:     `tracelens analyze --store --json` over the month (rollups for long_window, the
            spans of the last --span-window days for the rest);
- report_spans:    `tracelens report --store --from-rollups never` over the month;
- report_rollups:  `tracelens report --store` over the month (rollups + the last span window).

The month is an explicit window (the generated days, not "30d" back from today). Prints wall
and CPU seconds and peak RSS of each, report_rollups / report_spans by CPU, and checks what
the rollups answered: long_window's counts equal every-span analyze's, percentiles within 1%
of the order statistics around analyze's (interpolated) value, reported as the largest
relative difference seen. With --check, exits 1 on a count mismatch, or when report_rollups /
report_spans by CPU seconds regresses more than 25% over benchmarks/baseline_rollups.json's
baseline of the same segment count (CPU figures: the machine is shared, wall times move with its
load); a count without one is refused, naming the command that makes it (benchmarks/baselines.py).

    .venv/bin/python benchmarks/bench_rollups.py --segments 1000000 --check
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
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baselines  # noqa: E402

BASELINE = HERE / "baseline_rollups.json"

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
    """Count mismatches (must be 0) and the largest relative percentile difference.

    ``summary`` is `store summary --json`'s shape; `analyze`'s long_window is passed through
    :func:`as_summary`.
    """
    mismatches = []
    if summary["input"]["traces"] != full["input"]["traces"]:
        mismatches.append("input.traces")
    if summary["input"]["segments"] != full["input"]["segments"]:
        mismatches.append("input.segments")
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


def as_summary(analyzed: dict[str, Any]) -> dict[str, Any]:
    """`analyze --json`'s long_window in `store summary --json`'s shape (for :func:`compare`)."""
    merged = analyzed["long_window"]
    return {
        "input": {"traces": merged["traces"], "segments": merged["segments"]},
        "functions": merged["functions"],
        "service_map": {"edges": merged["edges"]},
    }


def _ratios(figures: dict[str, Any]) -> dict[str, float]:
    cpu = {name: float(step["cpu_seconds"]) for name, step in figures.items()}
    return {
        "report_rollups_over_spans_cpu": cpu["report_rollups"] / cpu["report_spans"],
        "long_over_analyze_cpu": cpu["long"] / cpu["analyze"],
        "summary_over_analyze_cpu": cpu["summary"] / cpu["analyze"],
        "rollup_over_import_cpu": cpu["rollup"] / cpu["import"],
    }


def _baseline_key(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The run's baseline key and the command line that saves one; sets ``args.span_window``
    (default: report's). A run reading another span window has a baseline of its own."""
    from tracelens.durations import format_duration, parse_duration
    from tracelens.windowplan import SPAN_WINDOW

    span_window = parse_duration(args.span_window) if args.span_window else SPAN_WINDOW
    args.span_window = format_duration(span_window)
    scale = baselines.scale(args.segments)
    create = ["benchmarks/bench_rollups.py", "--segments", str(args.segments), "--save-baseline"]
    if span_window != SPAN_WINDOW:
        scale = f"{scale}-span-window-{args.span_window}"
        create[-1:-1] = ["--span-window", args.span_window]
    return scale, create


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=300_000)
    parser.add_argument(
        "--span-window", help="as report's --span-window (default: report's, 7 days)"
    )
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"), help="where the data goes")
    parser.add_argument("--check", action="store_true", help="fail on a regression")
    parser.add_argument("--save-baseline", action="store_true")
    args = parser.parse_args()
    scale, create = _baseline_key(args)
    baseline = baselines.for_check(BASELINE, scale, create) if args.check else None
    from tracelens.samples.bulk import write_bulk

    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-rollups-") as tmp:
        root = Path(tmp)
        exports, store = root / "exports", str(root / "store")
        write_bulk(exports, args.segments, fmt="batch", start=START, period=timedelta(days=DAYS))
        since = START.isoformat().replace("+00:00", "Z")
        until = (START + timedelta(days=DAYS + 1)).isoformat().replace("+00:00", "Z")
        window = ["--since", since, "--until", until]
        spans = ["--from-rollups", "never"]
        long = [*window, "--span-window", args.span_window]
        html = str(root / "report.html")
        steps = {
            "import": ["import", str(exports), "--store", store, "-q", "--no-rollup"],
            "rollup": ["store", "rollup", "--store", store],
            "again": ["store", "rollup", "--store", store],
            "summary": ["store", "summary", "--store", store, *window, "--json"],
            "analyze": ["analyze", "--store", store, *window, *spans, "--json", "-q"],
            "long": ["analyze", "--store", store, *long, "--json", "-q"],
            "report_spans": ["report", "--store", store, *window, *spans, "-q", "--out", html],
            "report_rollups": ["report", "--store", store, *long, "-q", "--out", html],
        }
        figures = {name: run(arguments, root / f"{name}.out") for name, arguments in steps.items()}
        checked = compare(_json(root / "summary.out"), _json(root / "analyze.out"))
        long_checked = compare(as_summary(_json(root / "long.out")), _json(root / "analyze.out"))
        used = _json(root / "long.out")["input"]["rollups"]
    print(f"{args.segments:,} segments over {DAYS} days ({args.segments / DAYS / 24:,.0f}/hour)")
    for name, f in figures.items():
        print(
            f"{name:15} {f['seconds']:8.2f} s wall {f['cpu_seconds']:8.2f} s CPU "
            f"{f['peak_rss_mb']:8.0f} MB peak RSS"
        )
    ratios = _ratios(figures)
    print(f"summary / analyze CPU: {ratios['summary_over_analyze_cpu']:.3f}")
    print(
        f"report from rollups / from spans CPU: {ratios['report_rollups_over_spans_cpu']:.3f} "
        f"(spans of the last {args.span_window}; rollups {used['rollups']}, "
        f"{len(used['days'])} day(s) merged, {len(used['from_spans_days'])} rolled up from spans)"
    )
    print(f"rollup / import CPU: {ratios['rollup_over_import_cpu']:.3f}")
    print(json.dumps({"summary": checked, "long_window": long_checked}))
    report = {
        "segments": args.segments,
        "span_window": args.span_window,
        "figures": figures,
        "ratios": ratios,
        "check": {"summary": checked, "long_window": long_checked},
    }
    print(json.dumps(report))
    if args.save_baseline:
        baselines.save(BASELINE, scale, report)
    problems = [f"count mismatch {m}" for m in checked["count_mismatches"]]
    problems += [f"long_window count mismatch {m}" for m in long_checked["count_mismatches"]]
    if baseline is not None:
        before = baseline["ratios"]
        ratio = "report_rollups_over_spans_cpu"
        if ratios[ratio] > before[ratio] * 1.25:
            problems.append(f"{ratio} {ratios[ratio]:.3f} vs baseline {before[ratio]:.3f}")
    for problem in problems:
        print(f"REGRESSION: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
