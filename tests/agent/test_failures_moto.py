"""A failing service never stops the other collectors, and its window is read again later."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from botocore.retries.standard import ExponentialBackoff

from tests.builders import fault_proxy
from tests.builders.agent import (
    FUNCTIONS,
    analyze_store,
    functions_by_name,
    invoke,
    seed_world,
    utc_now,
)
from tests.builders.endpoint import Aws
from tests.builders.fault_proxy import FaultProxy
from tracelens.store import open_store

pytestmark = pytest.mark.integration

ACCESS_DENIED = (
    400,
    {"Content-Type": "application/x-amz-json-1.1"},
    b'{"__type":"AccessDeniedException","message":"User is not authorized to perform '
    b'logs:StartQuery"}',
)


class ServiceFaults(FaultProxy):
    """Fails every request of some services: 500s, or the service's ``THROTTLE_RESPONSES``."""

    def __init__(self, upstream_url: str, *, server_error: set[str], replaced: set[str]) -> None:
        super().__init__(upstream_url)
        self._server_error = server_error
        self._replaced = replaced

    def decide(self, service: str, path: str, body: bytes) -> str:
        if service in self._server_error:
            self.injected[(service, "server_error")] += 1
            return "server_error"
        if service in self._replaced:
            self.injected[(service, "replaced")] += 1
            return "throttle"
        self.forwarded[service] += 1
        return ""


@pytest.fixture(autouse=True)
def _short_botocore_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore waits up to a second before a retry; its retry rules are unchanged."""
    monkeypatch.setattr(
        ExponentialBackoff,
        "_DEFAULT_BACKOFF_CONFIG",
        {"throttling_base_scale": 0.01, "non_throttling_base_scale": 0.01},
    )


COLLECTORS = ("lambda", "xray", "cloudwatch", "logs")


def _lines(stderr: str) -> dict[str, str]:
    """The per-collector line of each collector."""
    return {line.split()[0]: line for line in stderr.splitlines() if line.startswith(COLLECTORS)}


def test_xray_failing_with_500s_and_logs_denied_leave_the_others_collected(
    aws: Aws, tmp_path: Path, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = seed_world(aws, now=utc_now())
    store = tmp_path / "store"
    # NOTE: the proxy answers a "throttle" with THROTTLE_RESPONSES[service]: here, AccessDenied.
    monkeypatch.setitem(fault_proxy.THROTTLE_RESPONSES, "logs", ACCESS_DENIED)
    args = ["--store", str(store), "--since", "4h", "--config", str(config_file)]

    with ServiceFaults(aws.url, server_error={"xray"}, replaced={"logs"}) as proxy:
        result = invoke("collect", "--once", "--endpoint-url", proxy.url, *args)

    assert result.exit_code == 0, result.output
    lines = _lines(result.stderr)
    # every call of theirs failed: their cycles failed (nothing was read)
    assert lines["xray"].split()[1] == "failed"
    assert "xray:GetTraceSummaries" in lines["xray"]
    assert lines["logs"].split()[1] == "failed"
    assert "AccessDeniedException" in lines["logs"]
    assert lines["lambda"].split()[1] == "ok"
    assert lines["cloudwatch"].split()[1] == "ok"
    assert proxy.injected_count("server_error") > 0
    assert proxy.forwarded["lambda"] > 0 and proxy.forwarded["monitoring"] > 0
    opened = open_store(store)
    for failing in ("xray", "logs"):  # their windows are read again next time
        checkpoint = opened.checkpoint(failing, "test", "us-east-1")
        assert checkpoint is None or checkpoint.window_end is None
    cloudwatch = opened.checkpoint("cloudwatch", "test", "us-east-1")
    assert cloudwatch is not None and cloudwatch.window_end is not None
    partial = analyze_store(store)
    assert partial["input"]["traces"] == 0
    assert "metrics" in partial["input"]["sources"]

    healed = invoke("collect", "--once", "--endpoint-url", aws.url, *args)

    assert healed.exit_code == 0, healed.output
    assert {line.split()[1] for line in _lines(healed.stderr).values()} == {"ok"}
    document = analyze_store(store)
    assert document["input"]["traces"] == len(world.traces)
    rows = functions_by_name(document)
    assert {name: rows[name]["invocations"] for name in FUNCTIONS} == world.invocations()


def test_the_exit_code_is_non_zero_when_every_collector_failed(
    aws: Aws, tmp_path: Path, config_file: Path
) -> None:
    seed_world(aws, now=utc_now())
    # NOTE: the spans collector's destination is declared X-Ray (moto lacks the call): it would
    # read and write nothing, so nothing could fail for it.
    config_file.write_text(
        config_file.read_text().replace('destination = "XRay"', "enabled = false")
    )
    store = tmp_path / "store"
    store.mkdir()
    (store / "raw").write_text("a file where the store needs a directory")
    (store / "runs").write_text("likewise")

    result = invoke(
        "collect",
        "--once",
        "--store",
        str(store),
        "--since",
        "2h",
        "--endpoint-url",
        aws.url,
        "--config",
        str(config_file),
    )

    assert result.exit_code == 1, result.stderr
    lines = _lines(result.stderr)
    assert sorted(lines) == sorted(COLLECTORS)
    assert {line.split()[1] for line in lines.values()} == {"failed"}
    assert "every collector failed" in result.stderr
    assert "cannot write" in lines["xray"]


def test_the_exit_code_is_non_zero_when_no_collector_completed(
    tmp_path: Path, config_file: Path
) -> None:
    # Nothing listens on the port: every call fails, so every cycle failed (an endpoint out
    # of reach is never "ok" nor "partial").
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = invoke(
        "collect",
        "--once",
        "--store",
        str(tmp_path / "store"),
        "--since",
        "1h",
        "--endpoint-url",
        f"http://127.0.0.1:{closed_port}",
        "--config",
        str(config_file),
    )

    assert result.exit_code == 1, result.stderr
    statuses = {line.split()[1] for line in _lines(result.stderr).values()}
    assert statuses == {"failed"}
    assert "every collector failed" in result.stderr


class CutSummaries(FaultProxy):
    """Cuts every GetTraceSummaries answer short (full Content-Length, half the body)."""

    def decide(self, service: str, path: str, body: bytes) -> str:
        if service == "xray" and path.startswith("/TraceSummaries"):
            self.injected[(service, "truncate")] += 1
            return "truncate"
        self.forwarded[service] += 1
        return ""


def test_summaries_cut_short_never_advance_the_checkpoint(
    aws: Aws, tmp_path: Path, config_file: Path
) -> None:
    world = seed_world(aws, now=utc_now(), hours=1.0, traces=3)
    store = tmp_path / "store"
    args = ["--store", str(store), "--since", "2h", "--config", str(config_file)]

    with CutSummaries(aws.url) as proxy:
        cut = invoke("collect", "--once", "--endpoint-url", proxy.url, *args)

    assert proxy.injected_count("truncate") > 0
    line = _lines(cut.stderr)["xray"]
    assert line.split()[1] != "ok"
    assert "IncompleteResponse" in line
    checkpoint = open_store(store).checkpoint("xray", "test", "us-east-1")
    assert checkpoint is None or checkpoint.window_end is None

    healed = invoke("collect", "--once", "--endpoint-url", aws.url, *args)

    assert _lines(healed.stderr)["xray"].split()[1] == "ok"
    assert analyze_store(store)["input"]["traces"] == len(world.traces) == 3
