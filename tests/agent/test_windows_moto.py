"""Window edges against moto, with the runner's clock fixed: nothing missed, nothing twice."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from collectors.base import RetrySettings, floor_time
from collectors.session import AwsTarget, ClientFactory
from collectors.xray import TRACES
from tests.builders.agent import seed_traces, utc_now
from tests.builders.endpoint import REGION, Aws
from tracelens.agent.config import AgentConfig, AwsSettings, CollectorSettings, CollectSettings
from tracelens.agent.runner import CollectionRunner
from tracelens.agent.seed import create_functions, put_metric
from tracelens.store import open_store
from tracelens.store.raw import decode

pytestmark = pytest.mark.integration

RETRY = RetrySettings(max_attempts=2, call_attempts=1, connect_timeout_s=2, read_timeout_s=5)
LAG = timedelta(seconds=30)
MINUTE = timedelta(minutes=1)


def _runner(
    aws: Aws, store: Path, *, at: datetime, metrics_lag: timedelta = LAG
) -> CollectionRunner:
    config = AgentConfig(
        aws=AwsSettings(account="test", region=REGION, endpoint_url=aws.url),
        collect=CollectSettings(since=timedelta(hours=2), functions=("orders",)),
        retry=RETRY,
        collectors=(
            CollectorSettings("lambda"),
            CollectorSettings("xray", lag=LAG),
            CollectorSettings("cloudwatch", lag=metrics_lag),
            CollectorSettings("logs", lag=LAG),
        ),
    )
    factory = ClientFactory(AwsTarget("test", REGION, endpoint_url=aws.url), retry=RETRY)
    return CollectionRunner(config, open_store(store), factory=factory, clock=lambda: at)


def _fetched_trace_ids(store: Path) -> Counter[str]:
    """How often each trace came back in a BatchGetTraces page stored under ``store``."""
    counts: Counter[str] = Counter()
    for path in (store / "raw" / "xray").rglob("*.json.gz"):
        run = decode(path.read_bytes(), str(path))
        for page in run.pages:
            if page.kind == TRACES:
                counts.update(trace["Id"] for trace in page.response["Traces"])
    return counts


def test_traces_at_window_edges_are_fetched_exactly_once(aws: Aws, tmp_path: Path) -> None:
    now = floor_time(utc_now(), timedelta(seconds=1))
    # windows are 1h - lag long from now - 2h: the first edge is 2h - (1h - lag) before now
    edge_s = (now - timedelta(hours=2) + timedelta(hours=1) - LAG).timestamp()
    # NOTE: each trace lasts 0.12 s.
    starts = [
        edge_s - 0.05,  # starts before the edge, ends after it
        edge_s - 2.0,  # inside the first window, and in the second one's look-back
        edge_s - 20.0,  # likewise
        edge_s + 5.0,
        now.timestamp() - 3600,
        now.timestamp() - 60,
    ]
    seeded = seed_traces(aws, starts)
    store = tmp_path / "store"

    outcome = _runner(aws, store, at=now).run("xray")
    again = _runner(aws, store, at=now + 5 * MINUTE).run("xray")

    assert outcome.status == "ok" and outcome.windows == 3
    assert again.status == "ok"
    fetched = _fetched_trace_ids(store)
    assert set(fetched) == {trace.trace_id for trace, _, _ in seeded}
    assert set(fetched.values()) == {1}


def test_late_datapoints_inside_the_lag_arrive_on_the_next_run_once(
    aws: Aws, tmp_path: Path
) -> None:
    create_functions(aws.client("iam"), aws.client("lambda"), ["orders"])
    now = floor_time(utc_now(), MINUTE)
    points = [(now - timedelta(minutes=m), float(m)) for m in range(1, 31)]
    put_metric(aws.client("cloudwatch"), "Invocations", points, function="orders")
    store = tmp_path / "store"
    lag = 10 * MINUTE

    _runner(aws, store, at=now, metrics_lag=lag).run("cloudwatch")
    early = _invocations(store)
    _runner(aws, store, at=now + lag, metrics_lag=lag).run("cloudwatch")
    late = _invocations(store)

    assert early.height == 20  # minutes 11..30 before now: reads end (exclusive) at now - lag
    assert late.height == 30
    assert late.get_column("timestamp").n_unique() == 30
    assert sorted(late.get_column("value").to_list()) == [float(m) for m in range(1, 31)]
    checkpoint = open_store(store).checkpoint("cloudwatch", "test", REGION)
    assert checkpoint is not None and checkpoint.window_end == now


def _invocations(store: Path) -> pl.DataFrame:
    inputs, problems = open_store(store).load_inputs()
    assert problems == []
    assert inputs.metrics is not None
    return inputs.metrics.filter(
        (pl.col("function_name") == "orders") & (pl.col("metric") == "Invocations")
    )


def test_a_checkpoint_in_the_future_is_reported_and_reset_to_the_look_back(
    aws: Aws, tmp_path: Path
) -> None:
    now = floor_time(utc_now(), timedelta(seconds=1))
    seeded = seed_traces(aws, [now.timestamp() - 1800])
    store = tmp_path / "store"
    # a clock a day ahead (then set right) leaves a checkpoint a day in the future
    ahead = _runner(aws, store, at=now + timedelta(days=1)).run("xray")
    assert ahead.status == "ok"

    outcome = _runner(aws, store, at=now).run("xray")

    assert outcome.status == "ok", outcome
    assert any("in the future" in warning for warning in outcome.warnings), outcome.warnings
    assert outcome.windows > 0
    checkpoint = open_store(store).checkpoint("xray", "test", REGION)
    assert checkpoint is not None and checkpoint.window_end is not None
    assert checkpoint.window_end <= now - LAG
    assert set(_fetched_trace_ids(store)) == {trace.trace_id for trace, _, _ in seeded}
