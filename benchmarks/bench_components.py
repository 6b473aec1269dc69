"""Throughput and peak memory of single components, each in its own process.

The unit tests check what these components answer; the speed they must keep is held here, so a
loaded machine cannot fail a unit test. Each component runs in a fresh process (its peak RSS is
its own) and reports items/second:

- text-logs:    parsing exported Lambda log text (START/END/REPORT and application lines);
- bottlenecks:  the critical-path analysis over the spans of generated traces;
- long-chains:  the critical path of one trace of sequential subsegments, each its own document,
                and of one trace of subsegments each nested in the one before (was quadratic-ish:
                10,000 spans took 11 s);
- report:       rendering the HTML report of the bundled sample_traces/ analysis.

With --check, exits 1 when a component is slower than its floor below (set ~4x under what this
2-core machine measures, so only a real regression trips it, not noise).

    .venv/bin/python benchmarks/bench_components.py --check
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Items per second each component must at least reach with --check.
FLOORS = {"text-logs": 100_000.0, "bottlenecks": 5_000.0, "long-chains": 25_000.0, "report": 0.2}


def text_logs(size: int, work: Path) -> tuple[int, Callable[[], object]]:
    from tracelens.ingest.rejections import RejectionLog
    from tracelens.samples.bulk import bulk_log_text
    from tracelens.sideinputs import load_logs

    path = work / "big.log"
    path.write_text(bulk_log_text(size // 5), encoding="utf-8")

    def run() -> object:
        logs = load_logs([path], rejections=RejectionLog())
        assert logs.reports.height == size // 5
        return logs

    return size, run


def bottlenecks(size: int, work: Path) -> tuple[int, Callable[[], object]]:
    from analyses.bottlenecks import bottlenecks as analyse
    from tracelens.ingest.loader import load_traces
    from tracelens.samples import write_bulk

    write_bulk(work, size, fmt="ndjson")
    spans = load_traces([work]).spans
    traces = int(spans.get_column("trace_id").n_unique())
    return traces, lambda: analyse(spans)


def _chain_documents(size: int, *, nested: bool) -> list[dict[str, object]]:
    trace_id = "1-66322f00-" + ("b" if nested else "a") * 24
    t0 = 1714564800.0
    documents: list[dict[str, object]] = [
        {
            "trace_id": trace_id,
            "id": "f" * 16,
            "name": "orders",
            "origin": "AWS::Lambda::Function",
            "start_time": t0,
            "end_time": t0 + (2 * size + 2) / 1000,
        }
    ]
    parent = "f" * 16
    for i in range(size):
        span_id = f"{i + 1:016x}"
        start_ms, end_ms = (i + 1, 2 * size + 1 - i) if nested else (2 * i, 2 * i + 1)
        documents.append(
            {
                "trace_id": trace_id,
                "id": span_id,
                "parent_id": parent,
                "type": "subsegment",
                "name": f"step {i}",
                "start_time": t0 + start_ms / 1000,
                "end_time": t0 + end_ms / 1000,
            }
        )
        if nested:
            parent = span_id
    return documents


def long_chains(size: int, work: Path) -> tuple[int, Callable[[], object]]:
    del work
    import polars as pl

    from analyses.bottlenecks import critical_path
    from tracelens.ingest.normalize import normalize_documents

    spans = pl.concat(
        [normalize_documents(_chain_documents(size // 2, nested=n)) for n in (False, True)]
    )

    def run() -> object:
        path = critical_path(spans)
        assert path.height == spans.height
        return path

    return spans.height, run


def report(size: int, work: Path) -> tuple[int, Callable[[], object]]:
    del size, work
    from tracelens.analysis import run_analysis
    from tracelens.inputs import load_inputs
    from tracelens.report.page import render_report

    result = run_analysis(
        load_inputs([str(ROOT / "sample_traces")], logs=(), metrics=(), functions=())
    )
    return 1, lambda: render_report(result)


COMPONENTS: dict[str, tuple[Callable[[int, Path], tuple[int, Callable[[], object]]], int, str]] = {
    "text-logs": (text_logs, 200_000, "lines"),
    "bottlenecks": (bottlenecks, 100_000, "traces"),
    "long-chains": (long_chains, 200_000, "spans"),
    "report": (report, 1, "pages"),
}


def measure(name: str, scale: float) -> dict[str, object]:
    """Run one component in this process; its set-up is not timed."""
    prepare, full_size, unit = COMPONENTS[name]
    size = max(5, int(full_size * scale))
    with tempfile.TemporaryDirectory(prefix="tl-bench-") as tmp:
        items, run = prepare(size, Path(tmp))
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
    return {
        "component": name,
        "items": items,
        "unit": unit,
        "seconds": seconds,
        "per_s": items / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--component", choices=sorted(COMPONENTS), action="append")
    parser.add_argument("--check", action="store_true", help="fail below a component's floor")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="input sizes times this (a quick run: 0.02)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.scale)))
        return 0
    failed = []
    for name in args.component or sorted(COMPONENTS):
        done = subprocess.run(
            [sys.executable, __file__, "--child", name, "--scale", str(args.scale)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            sys.exit(f"{name} failed:\n{done.stderr}{done.stdout}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        unit = figures["unit"]
        print(
            f"{name:12} {figures['items']:>9,} {unit:7} {figures['seconds']:7.2f} s"
            f"  {figures['per_s']:>12,.1f} {unit}/s  peak {figures['peak_rss_mb']:,.0f} MB"
        )
        if figures["per_s"] < FLOORS[name]:
            failed.append(f"{name}: {figures['per_s']:,.1f}/s is below {FLOORS[name]:,.1f}/s")
    if args.check and failed:
        print("REGRESSION: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
