"""Throughput and peak memory of `tracelens analyze` against the bare JSON parse floor.

Generates N segment documents with the sample generator (cached under benchmarks/.data/), then
runs, each in a fresh process so peak RSS is its own:

- floor:   read every file and parse every document with orjson (BatchGetTraces pages: the page
           and each Document string inside it), nothing else;
- analyze: `tracelens analyze DIR --json --out FILE` (ingest, every analysis, the contract);
- with --duckdb, the issue's reference point: DuckDB's JSON reader doing only the cold-start and
  throttle counts per function (benchmarks/duckdb_counts.py; needs `pip install duckdb`), its
  counts checked against tracelens' answer.

Prints segments/second, wall and CPU seconds and peak RSS for each, and the analyze/floor time
ratio. The peak RSS of analyze is that of the command and its ingest workers together (sampled
every 20 ms), with each process's own peak beside it.
With --check, exits 1 when the ratio regresses more than 25% over benchmarks/baseline.json's
baseline of the same scale (segments and format; a ratio travels between machines better than
seconds do); a scale without one is refused (benchmarks/baselines.py), --save-baseline makes it.

    .venv/bin/python benchmarks/bench_analyze.py --segments 1000000 --format batch
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baselines  # noqa: E402

ONE_FILE = "ndjson-one-file"
BASELINE = HERE / "baseline.json"

FLOOR_SCRIPT = r"""
import json, resource, sys, time
from pathlib import Path
import orjson
start = time.perf_counter()
documents = 0
spans = 0
def count(node):
    return 1 + sum(count(child) for child in node.get("subsegments") or ())
files = [p for p in Path(sys.argv[1]).rglob("*") if p.is_file() and not p.name.startswith(".")]
for path in sorted(files):
    data = path.read_bytes()
    if path.suffix == ".jsonl":  # aws/spans records: one span each
        for line in data.split(b"\n"):
            if line:
                orjson.loads(line)
                documents += 1
                spans += 1
    elif path.suffix == ".ndjson":
        for line in data.split(b"\n"):
            if line:
                spans += count(orjson.loads(line))
                documents += 1
    else:
        for trace in orjson.loads(data)["Traces"]:
            for segment in trace["Segments"]:
                spans += count(orjson.loads(segment["Document"]))
                documents += 1
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"documents": documents, "spans": spans, "seconds": elapsed,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024, "worker_peak_rss_mb": 0.0,
                  "tree_peak_rss_mb": usage.ru_maxrss / 1024}))
"""

ANALYZE_SCRIPT = r"""
import json, os, resource, sys, threading, time
from pathlib import Path
from click.testing import CliRunner
from tracelens.cli import main

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20
tree_peak_mb = 0.0

def rss_mb(pid):
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0  # the process just ended

def children(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += (task / "children").read_text().split()
        except OSError:
            pass
    return found

def sample_tree():
    # The resident memory of this process and its ingest workers together, every 20 ms.
    global tree_peak_mb
    me = os.getpid()
    while True:
        total = rss_mb(me) + sum(rss_mb(child) for child in children(me))
        tree_peak_mb = max(tree_peak_mb, total)
        time.sleep(0.02)

threading.Thread(target=sample_tree, daemon=True).start()
start = time.perf_counter()
result = CliRunner().invoke(main, ["analyze", sys.argv[1], "--json", "--out", sys.argv[2], "-q"])
elapsed = time.perf_counter() - start
if result.exit_code:
    sys.exit(result.output + str(result.exception))
usage = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": usage.ru_maxrss / 1024,
                  "worker_peak_rss_mb": workers.ru_maxrss / 1024,
                  "tree_peak_rss_mb": max(tree_peak_mb, usage.ru_maxrss / 1024)}))
"""


def ensure_data(segments: int, fmt: str, data_dir: Path) -> Path:
    target = data_dir / f"{fmt}-{segments}"
    marker = target / ".complete"
    if marker.exists():
        return target
    if fmt == ONE_FILE:
        # The NDJSON data set as one file, as a daemon capture would be.
        files = sorted(ensure_data(segments, "ndjson", data_dir).glob("*.ndjson"))
        target.mkdir(parents=True, exist_ok=True)
        with (target / "segments.ndjson").open("wb") as out:
            for path in files:
                with path.open("rb") as part:
                    shutil.copyfileobj(part, out)
        marker.write_text("")
        return target
    from tracelens.samples import write_bulk

    print(f"generating {segments:,} segments ({fmt}) under {target} ...", file=sys.stderr)
    started = time.perf_counter()
    write_bulk(target, segments, fmt=fmt)  # type: ignore[arg-type]
    marker.write_text("")
    print(f"  generated in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return target


def run_child(command: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, *command], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"benchmark step failed:\n{done.stderr}{done.stdout}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def best_of(runs: int, command: list[str]) -> dict[str, Any]:
    results = [run_child(command) for _ in range(runs)]
    return min(results, key=lambda r: r["seconds"])


def compare_counts(duckdb: dict[str, Any], contract_path: Path) -> list[str]:
    """Where DuckDB's per-function counts differ from tracelens' functions[]."""
    ours = {
        row["name"]: {key: row[key] for key in ("invocations", "cold_starts", "throttled")}
        for row in json.loads(contract_path.read_text())["functions"]
    }
    theirs = duckdb["functions"]
    return [
        f"{name}: tracelens {ours.get(name)} vs duckdb {theirs.get(name)}"
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=1_000_000)
    parser.add_argument(
        "--format",
        choices=("batch", "ndjson", ONE_FILE, "aws-spans"),
        default="batch",
        help=f"BatchGetTraces pages, NDJSON in 10 files, NDJSON in one file ({ONE_FILE}), "
        "or aws/spans records (--segments then counts spans)",
    )
    parser.add_argument("--runs", type=int, default=1, help="best of N runs of each step")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=HERE / ".data",
        help="where generated data sets are cached (default: benchmarks/.data)",
    )
    parser.add_argument("--check", action="store_true", help="fail on a ratio regression")
    parser.add_argument("--save-baseline", action="store_true")
    parser.add_argument(
        "--duckdb",
        action="store_true",
        help="also time DuckDB doing only the cold-start and throttle counts (needs duckdb)",
    )
    args = parser.parse_args()
    scale = baselines.scale(args.segments, args.format)
    create = ["benchmarks/bench_analyze.py", "--segments", str(args.segments)]
    create += ["--format", args.format, "--save-baseline"]
    baseline = baselines.for_check(BASELINE, scale, create) if args.check else None

    data_dir = ensure_data(args.segments, args.format, args.data_dir)
    floor = best_of(args.runs, ["-c", FLOOR_SCRIPT, str(data_dir)])
    with tempfile.TemporaryDirectory() as scratch:
        contract = Path(scratch) / "analysis.json"
        analyze = best_of(args.runs, ["-c", ANALYZE_SCRIPT, str(data_dir), str(contract)])
        duckdb = (
            best_of(
                args.runs,
                [str(HERE / "duckdb_counts.py"), str(data_dir), args.format.split("-")[0]],
            )
            if args.duckdb
            else None
        )
        disagreements = compare_counts(duckdb, contract) if duckdb else []
    documents = floor["documents"]
    spans = floor["spans"]
    ratio = analyze["seconds"] / floor["seconds"]
    report = {
        "segments": int(documents),
        "spans": int(spans),
        "format": args.format,
        "floor": {
            **floor,
            "segments_per_s": documents / floor["seconds"],
            "spans_per_s": spans / floor["seconds"],
        },
        "analyze": {
            **analyze,
            "segments_per_s": documents / analyze["seconds"],
            "spans_per_s": spans / analyze["seconds"],
        },
        "ratio": ratio,
    }
    if duckdb:
        report["duckdb_counts_only"] = {
            **{k: v for k, v in duckdb.items() if k != "functions"},
            "segments_per_s": documents / duckdb["seconds"],
        }
    print(f"segments            {documents:>12,.0f} ({args.format})")
    print(f"spans               {spans:>12,.0f} (segments and subsegments, or span records)")
    for name in ("floor", "analyze", "duckdb_counts_only")[: 3 if duckdb else 2]:
        step = report[name]
        print(
            f"{name:<19} {step['segments_per_s']:>12,.0f} segments/s"
            f"   {step['seconds']:>7.2f} s wall   {step['cpu_seconds']:>7.2f} s CPU"
            f"   peak RSS {step['tree_peak_rss_mb']:>7,.0f} MB"
            + (
                f" (all processes; this one {step['peak_rss_mb']:,.0f} MB,"
                f" ingest worker {step['worker_peak_rss_mb']:,.0f} MB)"
                if step["worker_peak_rss_mb"]
                else ""
            )
            + (f"   {step['spans_per_s']:,.0f} spans/s" if "spans_per_s" in step else "")
        )
    print(f"analyze / floor     {ratio:>12.2f}x")
    if duckdb:
        print(f"duckdb counts agree {'yes' if not disagreements else 'NO':>12}")
        for line in disagreements:
            print(f"  {line}")
    if args.save_baseline:
        baselines.save(BASELINE, scale, report)
    if baseline is not None and ratio > baseline["ratio"] * 1.25:
        print(f"REGRESSION: ratio {ratio:.2f}x vs baseline {baseline['ratio']:.2f}x")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
