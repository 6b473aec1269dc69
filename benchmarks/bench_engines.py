"""Distributed engines side by side: start-up, idle memory and the per-partition rollup.

For each engine (``local``, ``processes``, ``dask`` and, when installed, ``ray``) in a fresh
process: starts a 2-worker local cluster, measures its start-up (wall), the memory of the whole
process tree once idle (USS: memory unique to each process, summed, so shared libraries count
once per process that maps them privately), then rolls up every day of a store partition by
partition (``tracelens.rollup_partitions.read_spans``, workers reading the Parquet parts
themselves) from a local directory and from S3 (moto's server on 127.0.0.1), checking that
every engine returns the same summary. Also measures what shipping frames costs (the pickled
size of a day's spans against its rollup).

    .venv/bin/python benchmarks/bench_engines.py --store /tmp/store [--engines dask,ray]

Ray runs through ``ray.remote`` here only (tracelens has no Ray engine: see docs/distributed.md).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ENGINE_SCRIPT = r"""
import json, os, sys, time
import orjson, psutil

name, store, out = sys.argv[1], sys.argv[2], sys.argv[3]


def tree_uss():
    me = psutil.Process()
    total = 0
    for process in [me, *me.children(recursive=True)]:
        try:
            total += process.memory_full_info().uss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 2**20


def cpu_of_tree():
    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def main():
    from tracelens import rollup
    from tracelens.engines import guarded, open_engine
    from tracelens.rollup_partitions import read_spans
    from tracelens.store import open_store

    base = tree_uss()
    started = time.perf_counter()
    if name == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        engine = RayEngine(ray)
    else:
        engine = open_engine(name, workers=2)
    startup = time.perf_counter() - started
    time.sleep(2)
    idle = tree_uss() - base
    result = {"engine": name, "startup_s": startup, "idle_mb": idle, "stores": {}}
    for location in store.split(","):
        backend = open_store(location).backend
        cpu = cpu_of_tree()
        started = time.perf_counter()
        read, failed = read_spans(engine, backend, since=None, until=None)
        wall = time.perf_counter() - started
        summary = rollup.summary(read)
        result["stores"]["s3" if location.startswith("s3://") else "dir"] = {
            "wall_s": wall,
            "cpu_s": cpu_of_tree() - cpu,
            "failed": len(failed),
            "peak_tree_mb": tree_uss() - base,
            "summary": orjson.dumps(summary).decode(),
        }
    engine.close()
    if name == "ray":
        ray.shutdown()
    with open(out, "w") as handle:
        json.dump(result, handle)


class RayEngine:
    name = "ray"
    where = "ray"

    def __init__(self, ray):
        from tracelens.engines import guarded

        self._ray = ray
        self._task = ray.remote(guarded)

    def map(self, function, partitions, progress=None):
        from tracelens.engines import collect

        refs = [self._task.remote(function, p) for p in partitions]
        outcomes = dict(enumerate(self._ray.get(refs)))
        return collect(partitions, outcomes)

    def close(self):
        pass


if __name__ == "__main__":
    main()
"""


def run_engine(name: str, stores: str, work: Path) -> dict[str, Any]:
    out = work / f"{name}.json"
    script = work / "engine_step.py"
    script.write_text(ENGINE_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), name, stores, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(out.read_text()))


def shipping(store: str) -> dict[str, float]:
    """Pickled sizes (and times) of one day's spans and of its rollup."""
    from analyses import rollups
    from tracelens.rollup_partitions import SpanPartition, Task, rollup_partition
    from tracelens.store import open_store, reading
    from tracelens.store import rollups as files

    backend = open_store(store).backend
    day = min(files.span_days(backend, None, None))
    from datetime import UTC, datetime, timedelta

    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    spans, _ = reading.load_traces(
        backend, reading.Scope(since=start, until=start + timedelta(days=1))
    )
    rolled = rollup_partition(Task(store, SpanPartition(day))).frame
    started = time.perf_counter()
    spans_bytes = len(pickle.dumps(spans.spans))
    spans_s = time.perf_counter() - started
    return {
        "day_spans_rows": spans.spans.height,
        "day_spans_pickled_mb": spans_bytes / 2**20,
        "day_spans_pickle_s": spans_s,
        "day_rollup_rows": rolled.height,
        "day_rollup_pickled_kb": len(pickle.dumps(rolled)) / 1024,
        "rollup_rows_per_key": float(rolled.height) / max(1, rollups.merge([rolled]).height),
    }


def upload(store: Path) -> tuple[Any, str]:
    """A moto S3 server on 127.0.0.1 holding a copy of ``store``; its url and the store's."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").disabled = True

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    client = boto3.client("s3")
    client.create_bucket(Bucket="lake")
    for path in store.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            key = f"prod/{path.relative_to(store).as_posix()}"
            client.put_object(Bucket="lake", Key=key, Body=path.read_bytes())
    return server, "s3://lake/prod"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, type=Path, help="a store with span parts")
    parser.add_argument("--engines", default="local,processes,dask,ray")
    parser.add_argument("--no-s3", action="store_true", help="the local directory only")
    args = parser.parse_args()
    import tempfile

    stores = str(args.store.resolve())
    server = None
    if not args.no_s3:
        server, url = upload(args.store)
        stores += "," + url
    results = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.engines.split(","):
            results.append(run_engine(name, stores, Path(work)))
    if server is not None:
        server.stop()
    reference = {k: v["summary"] for k, v in results[0]["stores"].items()}
    print(f"{'engine':10} {'start s':>8} {'idle MB':>8}  store  {'wall s':>7} {'CPU s':>7} same")
    for result in results:
        for where, figures in result["stores"].items():
            same = figures["summary"] == reference[where] and not figures["failed"]
            print(
                f"{result['engine']:10} {result['startup_s']:8.2f} {result['idle_mb']:8.0f}  "
                f"{where:5}  {figures['wall_s']:7.2f} {figures['cpu_s']:7.2f} {same}"
            )
    print(json.dumps(shipping(str(args.store.resolve())), indent=2))


if __name__ == "__main__":
    main()
