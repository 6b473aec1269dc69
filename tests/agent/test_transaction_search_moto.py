"""``collect --once`` on a Transaction Search account whose spans collector runs too: the X-Ray
collector reads the summaries but leaves the traces to the spans collector, and says so; unless
``aws/spans`` cannot be read, when it fetches them and both collectors say what to do.

moto lacks GetTraceSegmentDestination: the destination is declared (``[collectors.spans]
destination``), as the configuration allows for such endpoints; reading it is covered by
tests/collectors/test_xray_transaction_search.py.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import Result

from tests.builders.agent import FAST_CONFIG, analyze_store, invoke, seed_traces, utc_now
from tests.builders.endpoint import Aws
from tests.builders.traces import seed_span_records
from tracelens.agent.config_file import parse_config
from tracelens.agent.runner import build_runners
from tracelens.agent.status import AgentStatus
from tracelens.store import open_store

pytestmark = pytest.mark.integration

SPAN_TRACES = 2
TRANSACTION_SEARCH = FAST_CONFIG.replace('destination = "XRay"', 'destination = "CloudWatchLogs"')
# The X-Ray collector told to leave the indexed traces to the spans collector.
SKIPPING = TRANSACTION_SEARCH.replace(
    "[collectors.xray]\n", "[collectors.xray]\nfetch_indexed = false\n"
)


def _collect_once(aws: Aws, store: Path, config: str, tmp_path: Path) -> Result:
    """``collect --once`` of the last 2 h with ``config`` into ``store``: it exits 0."""
    path = tmp_path / "tracelens.toml"
    path.write_text(config)
    result = invoke(
        "collect", "--once", "--store", str(store), "--since", "2h",
        "--endpoint-url", aws.url, "--config", str(path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def _collect(aws: Aws, store: Path, config: str, tmp_path: Path) -> list[str]:
    """The X-Ray collector's notes of ``_collect_once``, its status checked ok."""
    result = _collect_once(aws, store, config, tmp_path)
    lines = result.stderr.split("\nxray", 1)[1].splitlines()
    assert lines[0].split()[0] == "ok", result.stderr
    return lines[1:]


def _seed(aws: Aws) -> int:
    """Four traces in X-Ray, and two span records in aws/spans (other traces)."""
    now_s = utc_now().timestamp()
    seeded = seed_traces(aws, [now_s - 1200 - 300 * i for i in range(4)])
    seed_span_records(aws, int(now_s * 1000) - 1_500_125, SPAN_TRACES)
    return len(seeded)


def test_the_xray_collector_leaves_the_traces_to_the_spans_collector(
    aws: Aws, tmp_path: Path
) -> None:
    _seed(aws)
    store = tmp_path / "store"

    notes = _collect(aws, store, SKIPPING, tmp_path)

    assert any(
        line.strip().startswith("BatchGetTraces skipped for 4 traces: Transaction Search on")
        and line.endswith("[collectors.xray] fetch_indexed = true")
        for line in notes
    ), notes
    document = analyze_store(store)
    assert document["input"]["traces"] == SPAN_TRACES
    assert document["input"]["trace_path"]["paths"] == ["aws_spans"]


@pytest.mark.parametrize(
    ("config", "span_traces"),
    [
        (TRANSACTION_SEARCH, SPAN_TRACES),  # fetching is the default
        (SKIPPING + "enabled = false\n", 0),  # the spans collector is off
    ],
    ids=["by default", "spans disabled"],
)
def test_the_traces_are_fetched_when_asked_or_without_the_spans_collector(
    aws: Aws, tmp_path: Path, config: str, span_traces: int
) -> None:
    seeded = _seed(aws)
    store = tmp_path / "store"

    notes = _collect(aws, store, config, tmp_path)

    assert not any("BatchGetTraces skipped" in line for line in notes), notes
    document = analyze_store(store)
    assert "xray" in document["input"]["trace_path"]["paths"]
    assert document["input"]["traces"] == seeded + span_traces


def test_without_aws_spans_the_traces_are_fetched_and_the_spans_collector_says_why(
    aws: Aws, tmp_path: Path
) -> None:
    """Transaction Search declared, but no aws/spans (it is not on after all): the X-Ray
    collector must not leave the traces to a spans collector that reads nothing."""
    now_s = utc_now().timestamp()
    seeded = seed_traces(aws, [now_s - 1200 - 300 * i for i in range(4)])
    store = tmp_path / "store"

    result = _collect_once(aws, store, SKIPPING, tmp_path)

    lines = result.stderr.splitlines()
    xray = next(i for i, line in enumerate(lines) if line.startswith("xray "))
    assert lines[xray].split()[1] == "ok", result.stderr
    assert lines[xray + 1] == (
        "  warning: aws/spans unreadable in test/us-east-1 (ResourceNotFoundException): indexed "
        "traces fetched; turn Transaction Search on, or set [collectors.xray] fetch_indexed = true"
    )
    assert not any("BatchGetTraces skipped" in line for line in lines), result.stderr
    spans = next(line for line in lines if line.startswith("spans "))
    # nothing to read there, and no window passed over: not "ok" (health names it)
    assert spans.split()[1] == "failed", result.stderr
    assert spans.endswith(
        "logs:StartQuery aws/spans: ResourceNotFoundException: no such group though traces go "
        "to CloudWatch Logs (as declared): turn Transaction Search on, or declare "
        '[collectors.spans] destination = "XRay"'
    )
    document = analyze_store(store)
    assert document["input"]["traces"] == len(seeded)
    assert document["input"]["trace_path"]["paths"] == ["xray"]
    checkpoint = open_store(store).checkpoint("spans", "test", "us-east-1")
    assert checkpoint is None or checkpoint.window_end is None


def test_the_agents_health_names_aws_spans_the_target_and_the_fix(aws: Aws, tmp_path: Path) -> None:
    config = parse_config(tomllib.loads(SKIPPING), environ={}).with_overrides(
        store_url=str(tmp_path / "store"), endpoint_url=aws.url
    )
    store = open_store(config.store.url)
    (runner,) = build_runners(config, store)
    started = utc_now()
    status = AgentStatus(
        started_at=started, store_url=store.url, account="test", region="us-east-1"
    )
    every = config.collector("spans").interval
    status.expect("spans", interval_s=every.total_seconds(), account="test", region="us-east-1")

    status.record(runner.run("spans"))

    (problem,) = status.problems(now=started + 4 * every)
    assert problem.startswith("spans: no success yet"), problem
    assert "last run failed: logs:StartQuery aws/spans: ResourceNotFoundException" in problem
    assert "turn Transaction Search on" in problem
    document = status.as_json(now=started + 4 * every)
    assert document["healthy"] is False
    assert (document["account"], document["region"]) == ("test", "us-east-1")
    assert document["targets"][0] == {
        "account": "test",
        "region": "us-east-1",
        "healthy": False,
        "collectors": ["spans"],
    }
