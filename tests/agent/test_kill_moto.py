"""``tracelens collect`` killed with SIGKILL mid-collection, then run again: nothing lost or doubled.

The child process reads through a fault proxy that slows every request, so that it is still
collecting when the first X-Ray window has been persisted; it is killed there (the checkpoint
may or may not have moved yet) and started again.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.builders.agent import (
    FUNCTIONS,
    TRACELENS,
    analyze_store,
    functions_by_name,
    run_tracelens,
    seed_world,
    subprocess_env,
    utc_now,
)
from tests.builders.endpoint import Aws
from tests.builders.fault_proxy import FaultPlan, FaultProxy
from tracelens.store import open_store

pytestmark = pytest.mark.integration

SLOW = FaultPlan(slow_rate=1.0, slow_delay_s=0.1)


def _wait_for_first_xray_persist(process: subprocess.Popen[str], store: Path) -> None:
    deadline_s = time.monotonic() + 60
    while not any((store / "raw" / "xray").rglob("*.json.gz")):
        assert process.poll() is None, "collect ended before the first X-Ray window was stored"
        assert time.monotonic() < deadline_s, "no X-Ray window stored within a minute"
        time.sleep(0.01)


def test_sigkill_mid_collection_then_restart_loses_and_duplicates_nothing(
    aws: Aws, tmp_path: Path, config_file: Path, aws_home: Path
) -> None:
    world = seed_world(aws, now=utc_now(), hours=3.5, traces=60)
    store = tmp_path / "store"
    env = subprocess_env(aws_home)
    args = ["--store", str(store), "--since", "4h", "--config", str(config_file)]

    with FaultProxy(aws.url, SLOW) as proxy:
        process = subprocess.Popen(
            [*TRACELENS, "collect", "--once", "--endpoint-url", proxy.url, *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            _wait_for_first_xray_persist(process, store)
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    killed_at = open_store(store).checkpoint("xray", "test", "us-east-1")
    restarted = run_tracelens("collect", "--once", "--endpoint-url", aws.url, *args, env=env)
    assert restarted.returncode == 0, restarted.stderr

    document = analyze_store(store)
    assert document["input"]["traces"] == len(world.traces) == 60
    assert document["input"]["segments"] == 2 * len(world.traces)
    assert document["input"]["rejected"] == 0
    rows = functions_by_name(document)
    assert {name: rows[name]["invocations"] for name in FUNCTIONS} == world.invocations()
    assert {name: rows[name]["cold_starts"] for name in FUNCTIONS} == world.cold_starts()
    final = open_store(store).checkpoint("xray", "test", "us-east-1")
    assert final is not None and final.window_end is not None
    if killed_at is not None and killed_at.window_end is not None:
        assert killed_at.window_end < final.window_end  # killed with windows still to read
    assert set(final.state["complete"]) == world.trace_ids
