"""One agent, two targets on the local endpoint: two regions and two accounts (the second read
through a role assumed with its external id, which moto's STS keys resources by).

Both are seeded differently and collected in one cycle: each has its own checkpoints, status
entry and metric labels, and the report covers both with account and region. A target whose
endpoint is down fails alone: the other is collected, and health names the failing target.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from tests.builders.agent import (
    STAGING,
    TARGETS_BASE,
    AssumedAws,
    World,
    analyze_store,
    invoke,
    seed_world,
    utc_now,
)
from tests.builders.endpoint import Aws
from tests.builders.traces import lambda_trace, segments_of
from tracelens.agent.config_file import load_config
from tracelens.agent.reporting import stored_targets, write_store_report
from tracelens.agent.runner import build_runners
from tracelens.agent.scheduler import Agent
from tracelens.agent.seed import put_segments
from tracelens.agent.targets_report import TargetResult, target_report_path
from tracelens.store import open_store

pytestmark = pytest.mark.integration


def _targets(second: str) -> str:
    return TARGETS_BASE + '\n[[targets]]\nlabel = "prod"\nregion = "us-east-1"\n\n' + second


def _collect(config: Path, store: Path, aws: Aws) -> Any:
    return invoke(
        "collect",
        "--once",
        "--config",
        str(config),
        "--store",
        str(store),
        "--since",
        "4h",
        "--endpoint-url",
        aws.url,
    )


def _seed_both(aws: Aws) -> tuple[World, World]:
    now = utc_now()
    prod = seed_world(aws, now=now, traces=36)
    staging = seed_world(AssumedAws(aws.url), now=now, traces=12)
    return prod, staging


def test_two_accounts_and_regions_are_collected_apart_and_reported_together(
    aws: Aws, tmp_path: Path
) -> None:
    prod, staging = _seed_both(aws)
    config = tmp_path / "tracelens.toml"
    config.write_text(_targets(STAGING))
    store_dir = tmp_path / "store"

    result = _collect(config, store_dir, aws)

    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "collecting 2 targets into" in lines[0]
    headers = [line for line in lines if line.endswith(":") and "/" in line]
    assert headers == ["prod/us-east-1:", "staging/eu-west-1:"]
    statuses = [line.split()[:2] for line in lines if line.split()[:1] == ["xray"]]
    assert statuses == [["xray", "ok"], ["xray", "ok"]]
    store = open_store(store_dir)
    for name in ("xray", "cloudwatch", "logs"):
        own = store.checkpoint(name, "prod", "us-east-1")
        other = store.checkpoint(name, "staging", "eu-west-1")
        assert own is not None and other is not None, name
    assert store.checkpoint("xray", "staging", "us-east-1") is None
    # each target's data is its own: the same function names, different traces and counts
    for world, (label, region) in (
        (prod, ("prod", "us-east-1")),
        (staging, ("staging", "eu-west-1")),
    ):
        inputs, problems = store.load_inputs(account=label, region=region)
        assert problems == []
        assert set(inputs.traces.spans["trace_id"].unique()) == world.trace_ids
    assert stored_targets(store) == [("prod", "us-east-1"), ("staging", "eu-west-1")]
    # the JSON: each target analyzed apart, functions and findings with account and region
    document = analyze_store(store_dir)
    assert document["targets"] == [
        {"account": "prod", "region": "us-east-1"},
        {"account": "staging", "region": "eu-west-1"},
    ]
    assert document["input"]["traces"] == len(prod.trace_ids) + len(staging.trace_ids)
    for world, (label, region) in (
        (prod, ("prod", "us-east-1")),
        (staging, ("staging", "eu-west-1")),
    ):
        rows = [f for f in document["functions"] if (f["account"], f["region"]) == (label, region)]
        assert Counter({row["name"]: row["invocations"] for row in rows}) == world.invocations()
    assert {(f["account"], f["region"]) for f in document["findings"]} <= {
        ("prod", "us-east-1"),
        ("staging", "eu-west-1"),
    }
    # `tracelens report --store`: a report per target and the page covering them
    out = tmp_path / "cli" / "report.html"
    out.parent.mkdir()
    drawn = invoke("report", "--store", str(store_dir), "--out", str(out), "--quiet")
    assert drawn.exit_code == 0, drawn.output
    assert drawn.stdout.strip() == str(out)
    for label, region in (("prod", "us-east-1"), ("staging", "eu-west-1")):
        own = target_report_path(out, label, region)
        assert f'href="{own.name}"' in out.read_text()
        assert f"{label} ({region})" in own.read_text()
    # with a baseline window, each target is compared with its own data over that window
    compared = tmp_path / "cli" / "compared.html"
    drawn = invoke(
        "report", "--store", str(store_dir), "--out", str(compared), "--quiet",
        "--baseline-since", "1d",
    )  # fmt: skip
    assert drawn.exit_code == 0, drawn.output
    for label, region in (("prod", "us-east-1"), ("staging", "eu-west-1")):
        page = target_report_path(compared, label, region).read_text()
        section = page[page.index('<section id="baseline">') :].split("</section>")[0]
        assert "Baseline: traces starting at or after " in section, section[:300]

    analyses: list[TargetResult] = []
    report = tmp_path / "out" / "report.html"
    written, _ = write_store_report(
        store,
        report,
        since=timedelta(hours=6),
        now=utc_now(),
        targets=stored_targets(store),
        on_targets=analyses.extend,
    )

    assert written == report
    by_target = {t.key: t for t in analyses}
    for key, world in (("prod/us-east-1", prod), ("staging/eu-west-1", staging)):
        analysis = by_target[key].summary
        assert analysis is not None
        rows = {row["function_name"]: row["invocations"] for row in analysis.functions.to_dicts()}
        assert Counter(rows) == world.invocations()
    page = report.read_text()
    overview, rest = page.split('<section id="findings">')
    findings, functions = rest.split('<section id="functions">')
    # the targets table, the findings and the functions of each target: account and region
    for label, region in (("prod", "us-east-1"), ("staging", "eu-west-1")):
        assert f'data-sort="{label}">{label}</td><td data-sort="{region}">' in overview
        assert functions.count(f'data-sort="{label}">{label}</td><td data-sort="{region}">') == 3
    assert findings.count('data-sort="staging">staging</td><td data-sort="eu-west-1">') == (
        by_target["staging/eu-west-1"].summary.findings.height  # type: ignore[union-attr]
    )
    for label, region in (("prod", "us-east-1"), ("staging", "eu-west-1")):
        own = target_report_path(report, label, region)
        assert f'href="{own.name}"' in page
        assert f"{label} ({region})" in own.read_text()


# Every list of the JSON whose rows are of one target (the service map's cycles are node keys:
# located_cycles says theirs).
ROW_LISTS = (
    "entry_points",
    "functions",
    "throttles",
    "dns",
    "bottlenecks",
    "service_map.nodes",
    "service_map.edges",
    "service_map.loops",
    "service_map.located_cycles",
    "findings",
    "async_invocations",
)


def _rows(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    held: Any = document
    for key in name.split("."):
        held = held[key]
    rows: list[dict[str, Any]] = held
    return rows


def test_every_row_of_the_json_says_its_target(aws: Aws, tmp_path: Path) -> None:
    # the same function with the same throttled table in both targets, three traces each
    newest_s = utc_now().timestamp() - 600
    for each in (aws, AssumedAws(aws.url)):
        rng = random.Random(11)
        traces = [
            lambda_trace(rng, newest_s - 120 * i, function="orders", throttled_table="orders")
            for i in range(3)
        ]
        put_segments(each.client("xray"), segments_of(*traces))
    config = tmp_path / "tracelens.toml"
    config.write_text(_targets(STAGING))
    store_dir = tmp_path / "store"
    collected = _collect(config, store_dir, aws)
    assert collected.exit_code == 0, collected.output

    document = analyze_store(store_dir)

    both = {("prod", "us-east-1"), ("staging", "eu-west-1")}
    for name in ROW_LISTS:
        rows = _rows(document, name)
        assert {(row["account"], row["region"]) for row in rows} <= both, name
    # every list these traces fill has rows of both targets, none merged across them
    for name in ("entry_points", "functions", "throttles", "bottlenecks", "service_map.nodes"):
        assert {(row["account"], row["region"]) for row in _rows(document, name)} == both, name
    (orders,) = {row["name"] for row in document["functions"]}
    assert orders == "orders"
    assert sorted(row["region"] for row in document["functions"]) == ["eu-west-1", "us-east-1"]
    throttles = [
        row
        for row in document["throttles"]
        if (row["kind"], row["source"], row["target"], row["operation"])
        == ("downstream", "orders", "orders", "PutItem")
    ]
    assert sorted((row["account"], row["region"], row["count"]) for row in throttles) == [
        ("prod", "us-east-1", 3),
        ("staging", "eu-west-1", 3),
    ]
    # long-window rows say no target: rollups hold every target together
    assert document["long_window"] is None


def _with_endpoint(text: str, aws: Aws) -> str:
    """``text`` with [aws] endpoint_url: the local endpoint for every target without its own."""
    return text.replace("[aws]\n", f'[aws]\nendpoint_url = "{aws.url}"\n', 1)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


DEAD = (
    '[[targets]]\nlabel = "dead"\nregion = "us-west-2"\nendpoint_url = "http://127.0.0.1:{port}"\n'
)


def test_a_failing_target_never_stops_the_other_and_is_named(aws: Aws, tmp_path: Path) -> None:
    seed_world(aws, now=utc_now(), hours=1.0, traces=6)
    config = tmp_path / "tracelens.toml"
    config.write_text(_with_endpoint(_targets(DEAD.format(port=_closed_port())), aws))
    store_dir = tmp_path / "store"

    result = invoke(
        "collect", "--once", "--config", str(config), "--store", str(store_dir), "--since", "2h"
    )

    # NOTE: no --endpoint-url here: it would apply to every target, the dead one too.
    assert result.exit_code == 1
    assert "1 of 2 targets failed: dead/us-west-2" in result.stderr
    assert "the other targets were collected and stored" in result.stderr
    store = open_store(store_dir)
    collected = store.checkpoint("xray", "prod", "us-east-1")
    assert collected is not None and collected.window_end is not None
    failed = store.checkpoint("xray", "dead", "us-west-2")
    assert failed is None or failed.window_end is None  # nothing read: nothing to skip


def test_the_daemon_keeps_status_and_metrics_per_target(aws: Aws, tmp_path: Path) -> None:
    seed_world(aws, now=utc_now(), hours=1.0, traces=6)
    path = tmp_path / "tracelens.toml"
    text = _with_endpoint(_targets(DEAD.format(port=_closed_port())), aws)
    text += (
        "\n[report]\nenabled = false\n\n[alerts]\nstale_intervals = 2\n\n"
        f'[agent]\nstatus_file = "{tmp_path / "status.json"}"\n\n'
        '[store]\nmaintenance_interval = "0s"\n'
    )
    for name in ("lambda", "xray", "cloudwatch", "logs", "spans"):
        text = text.replace(f"[collectors.{name}]\n", f'[collectors.{name}]\ninterval = "1s"\n', 1)
    path.write_text(text)
    config = load_config(path)
    store = open_store(tmp_path / "store")
    stop = threading.Event()
    agent = Agent(config, store, build_runners(config, store, stop=stop), stop=stop)

    agent.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            document = agent.status.as_json(now=utc_now())
            ran = [c for c in document["collectors"].values() if c["last_run"] is not None]
            stale = [p for p in document["problems"] if p.startswith("dead/us-west-2/xray: ")]
            if len(ran) == len(document["collectors"]) and stale:
                break
            time.sleep(0.2)
    finally:
        agent.shutdown()

    document = agent.status.as_json(now=utc_now())
    targets = {(t["account"], t["region"]): t for t in document["targets"]}
    assert set(targets) == {("prod", "us-east-1"), ("dead", "us-west-2")}
    assert targets[("dead", "us-west-2")]["healthy"] is False
    assert "dead/us-west-2/xray" in targets[("dead", "us-west-2")]["collectors"]
    assert document["healthy"] is False
    assert any(problem.startswith("dead/us-west-2/xray: ") for problem in document["problems"])
    # (prod's collectors with nothing due make no call, which proves nothing either way)
    assert not any(p.startswith("prod/us-east-1/xray") for p in document["problems"])
    prod_xray = document["collectors"]["prod/us-east-1/xray"]
    assert prod_xray["last_success"] is not None
    assert (prod_xray["account"], prod_xray["region"]) == ("prod", "us-east-1")
    dead_xray = document["collectors"]["dead/us-west-2/xray"]
    assert dead_xray["last_run"]["status"] == "failed"
    assert dead_xray["last_run"]["account"] == "dead"
    scraped = generate_latest(agent.metrics.registry()).decode()
    prod_calls = (
        'tracelens_collector_api_calls_total{account="prod",collector="xray",region="us-east-1"}'
    )
    dead_failures = (
        'tracelens_collector_failures_total{account="dead",collector="xray",region="us-west-2"}'
    )
    assert prod_calls in scraped and dead_failures in scraped
    value = float(scraped.split(dead_failures, 1)[1].split()[0])
    assert value >= 1
