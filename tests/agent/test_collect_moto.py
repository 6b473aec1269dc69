"""``tracelens collect --once`` end to end against moto, then ``analyze --store --json``."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.builders.agent import (
    FUNCTIONS,
    analyze_store,
    functions_by_name,
    invoke,
    seed_traces,
    seed_world,
    utc_now,
)
from tests.builders.endpoint import Aws
from tracelens.store import XRayState, open_store

pytestmark = pytest.mark.integration


def _collect(aws: Aws, store: Path, config_file: Path, *extra: str) -> str:
    result = invoke(
        "collect",
        "--once",
        "--store",
        str(store),
        "--since",
        "4h",
        "--endpoint-url",
        aws.url,
        "--config",
        str(config_file),
        *extra,
    )
    assert result.exit_code == 0, result.output
    return result.stderr


def test_collect_once_then_analyze_store_gives_the_seeded_counts(
    aws: Aws, tmp_path: Path, config_file: Path
) -> None:
    world = seed_world(aws, now=utc_now())
    store = tmp_path / "store"

    stderr = _collect(aws, store, config_file)

    lines = {line.split()[0]: line.split()[1] for line in stderr.splitlines() if line[:1] != " "}
    assert {name: lines.get(name) for name in ("lambda", "xray", "cloudwatch", "logs")} == {
        "lambda": "ok",
        "xray": "ok",
        "cloudwatch": "ok",
        "logs": "ok",
    }
    # the spans collector says which mode the account is in (declared for moto, see FAST_CONFIG)
    spans = stderr.split("\nspans", 1)[1].splitlines()
    assert spans[0].split()[0] == "ok"
    assert "as declared in the configuration" in spans[1]
    document = analyze_store(store)
    assert document["schema_version"] == 1
    assert document["input"]["traces"] == len(world.traces) == 36
    assert document["input"]["segments"] == 2 * len(world.traces)
    assert document["input"]["duplicates"] is None  # from a store: unknown
    rows = functions_by_name(document)
    assert {name: rows[name]["invocations"] for name in FUNCTIONS} == world.invocations()
    assert {name: rows[name]["cold_starts"] for name in FUNCTIONS} == world.cold_starts()
    assert set(document["input"]["sources"]) == {"traces", "logs", "metrics", "configuration"}


def test_running_collect_again_stores_nothing_twice_and_resumes_from_the_checkpoint(
    aws: Aws, tmp_path: Path, config_file: Path
) -> None:
    config_file.write_text(config_file.read_text().replace('lag = "1m"', 'lag = "1s"', 1))
    world = seed_world(aws, now=utc_now())
    store = tmp_path / "store"
    _collect(aws, store, config_file)
    first = open_store(store).checkpoint("xray", "test", "us-east-1")
    assert first is not None and first.window_end is not None

    again = _collect(aws, store, config_file)
    xray_line = next(line for line in again.splitlines() if line.startswith("xray"))
    assert " 0 items" in xray_line  # every trace seen again was known: none fetched
    # traces that start after the checkpoint arrive in the next run, and only they
    start_s = max(time.time(), first.window_end.timestamp()) + 0.2
    newer = seed_traces(aws, [start_s + 0.15 * i for i in range(7)], seed=99)
    # NOTE: the last new trace ends 1.02 s after start_s; windows end 1 s (the lag) before
    # now, rounded down to a second.
    time.sleep(max(start_s + 3.5 - time.time(), 0))
    third = _collect(aws, store, config_file)

    xray_line = next(line for line in third.splitlines() if line.startswith("xray"))
    # one summaries page, then the 7 new traces only: BatchGetTraces for 5 + 2
    assert "     3 api calls" in xray_line
    document = analyze_store(store)
    assert document["input"]["traces"] == len(world.traces) + len(newer)
    assert document["input"]["duplicates"] is None  # from a store: unknown
    rows = functions_by_name(document)
    expected = world.invocations() + Counter(function for _, function, _ in newer)
    assert {name: rows[name]["invocations"] for name in FUNCTIONS} == expected
    last = open_store(store).checkpoint("xray", "test", "us-east-1")
    assert last is not None and last.window_end is not None
    assert last.window_end > first.window_end
    state = XRayState.from_checkpoint(last)
    assert set(state.complete) == world.trace_ids | {trace.trace_id for trace, _, _ in newer}


def test_collecting_the_same_windows_again_keeps_every_trace_once(
    aws: Aws, tmp_path: Path, config_file: Path
) -> None:
    world = seed_world(aws, now=utc_now())
    store = tmp_path / "store"
    _collect(aws, store, config_file)
    # NOTE: a lost checkpoint makes every window be read and stored again.
    for checkpoint in (store / "checkpoints").rglob("*.json"):
        checkpoint.unlink()

    _collect(aws, store, config_file)

    document = analyze_store(store)
    assert document["input"]["traces"] == len(world.traces)
    rows = functions_by_name(document)
    assert {name: rows[name]["invocations"] for name in FUNCTIONS} == world.invocations()


def test_a_corrupt_store_file_is_reported_and_the_rest_still_read(
    aws: Aws, tmp_path: Path, config_file: Path
) -> None:
    world = seed_world(aws, now=utc_now())
    store = tmp_path / "store"
    _collect(aws, store, config_file)
    parts = sorted((store / "spans").rglob("*.parquet"))
    assert len(parts) >= 2
    damaged = parts[0]
    damaged.write_bytes(damaged.read_bytes()[:100])  # a half-written file

    result = invoke("analyze", "--store", str(store), "--json")
    report = invoke("report", "--store", str(store), "--out", str(tmp_path / "r.html"), "-q")

    assert result.exit_code == 0, result.output
    assert f"warning: skipped unreadable store file {damaged}" in result.stderr
    document = json.loads(result.stdout)
    rejections = document["input"]["rejections"]
    assert [row["source"] for row in rejections] == [str(damaged)]
    assert 0 < document["input"]["traces"] < len(world.traces)
    assert report.exit_code == 0, report.output
    assert str(damaged) in (tmp_path / "r.html").read_text()


def test_analyze_needs_paths_or_a_store_with_data(tmp_path: Path) -> None:
    neither = invoke("analyze")
    empty = invoke("analyze", "--store", str(tmp_path / "nothing"), "--json")

    assert neither.exit_code == 2
    assert "--store" in neither.stderr
    assert empty.exit_code == 1
    assert "run `tracelens collect --once --store" in empty.stderr
