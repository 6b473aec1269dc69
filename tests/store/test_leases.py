"""One collector at a time per account and region: a second run is refused, naming the holder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.base import CallStats, Window
from collectors.logs_insights import LogsResult, LogsSource
from tests.builders.results import BUCKET, Ticker
from tracelens.agent.config import AgentConfig, AwsSettings, CollectSettings
from tracelens.agent.runner import CollectionRunner
from tracelens.store import LeaseHeldError, Store, layout, open_store

REPO = Path(__file__).resolve().parents[2]
TTL = timedelta(minutes=10)
HOLD = textwrap.dedent(
    """
    import sys
    from tracelens.store import open_store
    store = open_store(sys.argv[1])
    with store.lease("logs", "acct", "eu-west-1", ttl=__import__("datetime").timedelta(hours=1)):
        print("held", flush=True)
        sys.stdin.read()
    """
)


@pytest.fixture
def other_process(tmp_path: Path) -> Iterator[Any]:
    """Another process holding the `logs` lease of acct/eu-west-1 until the test ends."""
    held = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "store")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        text=True,
    )
    assert held.stdout is not None and held.stdout.readline().strip() == "held"
    yield held
    assert held.stdin is not None
    held.stdin.close()
    held.wait(timeout=30)


def test_a_lease_held_by_another_process_is_refused_with_its_holder(
    tmp_path: Path, other_process: Any
) -> None:
    store = open_store(tmp_path / "store")

    with pytest.raises(LeaseHeldError) as caught, store.lease("logs", "acct", "eu-west-1", ttl=TTL):
        pass

    message = str(caught.value)
    assert f":{other_process.pid} (since " in message
    assert "logs collection of acct/eu-west-1 is running in" in message
    with store.lease("xray", "acct", "eu-west-1", ttl=TTL):  # another collector: free
        pass


def test_the_lease_is_free_again_when_its_holder_ends(tmp_path: Path, other_process: Any) -> None:
    other_process.stdin.close()
    other_process.wait(timeout=30)
    store = open_store(tmp_path / "store")

    with store.lease("logs", "acct", "eu-west-1", ttl=TTL) as holder:
        assert holder.name.endswith(f":{__import__('os').getpid()}")


def test_one_process_takes_its_own_lease_again(store: Store) -> None:
    with (
        store.lease("lambda", "acct", "eu-west-1", ttl=TTL) as outer,
        store.lease("lambda", "acct", "eu-west-1", ttl=TTL) as inner,
    ):
        assert inner is outer


@dataclass
class _Logs:
    windows: list[Window] = field(default_factory=list)

    def collect(self, window: Window, *, functions: Sequence[str]) -> LogsResult:
        self.windows.append(window)
        return LogsResult(
            source="logs",
            window=window,
            pages=(),
            failures=(),
            warnings=(),
            stats=CallStats(api_calls=1),
            complete=True,
        )


def test_a_second_agent_skips_the_run_and_says_who_holds_it(
    tmp_path: Path, other_process: Any
) -> None:
    config = AgentConfig(
        aws=AwsSettings(account="acct", region="eu-west-1"),
        collect=CollectSettings(since=timedelta(hours=3), functions=("orders",)),
    )
    logs = _Logs()
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    collectors = {"logs": LogsSource(logs)}  # type: ignore[arg-type]
    runner = CollectionRunner(
        config, open_store(tmp_path / "store"), clock=lambda: now, collectors=collectors
    )

    outcome = runner.run("logs")

    assert outcome.failed
    assert "LeaseHeldError: logs collection of acct/eu-west-1 is running in" in str(outcome.error)
    assert logs.windows == []  # nothing read, nothing stored twice
    assert open_store(tmp_path / "store").checkpoint("logs", "acct", "eu-west-1") is None


@pytest.mark.integration
def test_an_s3_lease_is_a_conditional_write_taken_over_only_after_it_expires(s3: Any) -> None:
    clock = Ticker()
    first = open_store(f"s3://{BUCKET}/team", s3_client=s3, clock=clock)
    key = layout.lease_key("xray", "acct", "eu-west-1")

    with first.lease("xray", "acct", "eu-west-1", ttl=TTL) as holder:
        stored = s3.get_object(Bucket=BUCKET, Key=f"team/{key}")["Body"].read()
        assert holder.token.encode() in stored
        # Another process: its own registry of held leases is empty.
        from tracelens.store import leases

        saved = dict(leases._HELD)
        leases._HELD.clear()
        try:
            with (
                pytest.raises(LeaseHeldError, match="lease until"),
                first.lease("xray", "acct", "eu-west-1", ttl=TTL),
            ):
                pass
            clock.now += 2 * TTL  # the holder died without releasing it: taken over
            with first.lease("xray", "acct", "eu-west-1", ttl=TTL) as taker:
                assert taker.token != holder.token
        finally:
            leases._HELD.clear()
            leases._HELD.update(saved)
    # The taker released its lease; the first holder, ending later, found it no longer its own.
    assert first.backend.list_keys(layout.LEASES) == []
