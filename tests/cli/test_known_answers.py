"""`tracelens analyze --json` on sample_traces/ against the generator's ground truth.

The generator decides every cold start, throttle, DNS lookup and slow call, and writes what it
decided to sample_traces/expected.json; these tests run the real CLI on the real files and check
the JSON contract carries the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracelens.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return dict(json.loads((SAMPLES / "expected.json").read_text()))


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    result = CliRunner().invoke(main, ["analyze", str(SAMPLES), "--json", "--strict", "-q"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def by_name(rows: list[dict[str, Any]], key: str = "name") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def test_input_counts(contract: dict[str, Any], truth: dict[str, Any]) -> None:
    documents = truth["documents"]
    assert contract["input"]["documents"] == documents["written"]
    assert contract["input"]["segments"] == documents["unique"]
    assert (
        contract["input"]["duplicates"]
        == documents["duplicates"] + documents["in_progress_superseded"]
    )
    assert contract["input"]["traces"] == truth["traces"]
    assert contract["input"]["rejected"] == 0
    assert contract["input"]["sources"] == ["traces", "logs", "metrics", "configuration"]


def test_functions_invocations_cold_starts_and_throttles(
    contract: dict[str, Any], truth: dict[str, Any]
) -> None:
    functions = by_name(contract["functions"])
    assert set(functions) == set(truth["functions"])
    for name, expected in truth["functions"].items():
        got = functions[name]
        kinds = expected["cold_starts"]
        assert got["invocations"] == expected["invocations"], name
        assert got["cold_starts"] == sum(kinds.values()), name
        assert got["cold_start_kinds"] == kinds, name
        assert got["throttled"] == expected["throttled"], name
        assert got["faults"] == expected["faults"], name
        assert got["timeouts"] == expected["timeouts"], name
        if got["invocations"]:
            assert got["cold_start_rate"] == pytest.approx(
                sum(kinds.values()) / expected["invocations"]
            )


def test_init_percentiles_are_user_facing_only(
    contract: dict[str, Any], truth: dict[str, Any]
) -> None:
    functions = by_name(contract["functions"])
    for name, expected in truth["functions"].items():
        user_facing = expected["init_durations_ms"] + expected["restore_durations_ms"]
        init = functions[name]["init_ms"]
        if not user_facing:
            assert init["p50"] is None, name
            continue
        for q, key in ((50, "p50"), (95, "p95"), (99, "p99"), (100, "max")):
            assert init[key] == pytest.approx(percentile(user_facing, q), abs=0.01), (name, key)
    provisioned = [n for n, f in truth["functions"].items() if f["provisioned_init_durations_ms"]]
    assert provisioned, "the sample must hold a pre-initialized environment"
    for name in provisioned:
        long_init = max(truth["functions"][name]["provisioned_init_durations_ms"])
        assert functions[name]["init_ms"]["max"] < long_init or long_init < 0


def test_invocation_throttles_and_their_causes(
    contract: dict[str, Any], truth: dict[str, Any]
) -> None:
    got = {
        (t["source"], t["target"]): t for t in contract["throttles"] if t["kind"] == "invocation"
    }
    causes = {0: "reserved_concurrency_zero"}
    for expected in truth["invocation_throttles"]:
        row = got[(expected["caller"], expected["target"])]
        assert row["count"] == expected["count"]
        assert row["operation"] == "Invoke"
        reserved = expected["reserved_concurrency"]
        assert row["cause"] == causes.get(reserved, "reserved_concurrency_reached")


def test_downstream_throttles(contract: dict[str, Any], truth: dict[str, Any]) -> None:
    got = {
        (t["source"], t["service"], t["target"], t["operation"]): t
        for t in contract["throttles"]
        if t["kind"] == "downstream"
    }
    assert len(got) == len(truth["downstream_throttles"])
    for expected in truth["downstream_throttles"]:
        key = (
            expected["function"],
            expected["service"],
            expected["resource"],
            expected["operation"],
        )
        assert got[key]["count"] == expected["count"]
        assert got[key]["cause"] == "downstream_api_limit"


def test_dns_lookups_per_function_and_host(contract: dict[str, Any], truth: dict[str, Any]) -> None:
    got = {(d["function"], d["host"]): d for d in contract["dns"]}
    for expected in truth["dns_lookups"]:
        latencies = expected["cold_ms"] + expected["warm_ms"] + expected["failed_ms"]
        row = got[(expected["function"], expected["host"])]
        assert row["lookups"] == len(latencies)
        assert row["latency_ms"]["p50"] == pytest.approx(percentile(latencies, 50), abs=0.01)
        assert row["latency_ms"]["p95"] == pytest.approx(percentile(latencies, 95), abs=0.01)
        assert row["latency_ms"]["max"] == pytest.approx(max(latencies), abs=0.01)
        # The generator lists failed lookups apart from cold and warm ones; each happened on
        # one or the other.
        cold = row["cold"]["lookups"]
        assert (
            len(expected["cold_ms"])
            <= cold
            <= len(expected["cold_ms"]) + len(expected["failed_ms"])
        )
        assert row["cold"]["lookups"] + row["warm"]["lookups"] == len(latencies)
        assert row["vpc_attached"] is expected["vpc"]


def test_the_slow_endpoints_dominant_node(contract: dict[str, Any], truth: dict[str, Any]) -> None:
    slow = truth["slow_endpoint"]
    method, path = slow["endpoint"].split(" ", 1)
    rows = [
        b
        for b in contract["bottlenecks"]
        if b["entry"].startswith(slow["stage"])
        and method in b["entry"]
        and b["entry"].endswith(path)
    ]
    assert rows, f"no bottleneck rows for {slow['stage']} {slow['endpoint']}"
    top = max(rows, key=lambda b: b["slow_share"])
    assert (top["node"], top["node_type"]) == (slow["node"]["name"], slow["node"]["type"])
    assert top["slow_share"] == pytest.approx(slow["share"], abs=0.02)


def test_service_map_nodes_and_edge_call_counts(
    contract: dict[str, Any], truth: dict[str, Any]
) -> None:
    nodes = {(n["name"], n["type"]) for n in contract["service_map"]["nodes"]}
    assert nodes == {(n["name"], n["type"]) for n in truth["service_map"]["nodes"]}
    edges = {
        ((e["source"], e["source_type"]), (e["target"], e["target_type"])): e
        for e in contract["service_map"]["edges"]
    }
    for expected in truth["service_map"]["edges"]:
        key = (
            (expected["source"]["name"], expected["source"]["type"]),
            (expected["target"]["name"], expected["target"]["type"]),
        )
        assert key in edges, key
        for field in ("calls", "errors", "faults", "throttles"):
            assert edges[key][field] == expected[field], (key, field)
    assert len(edges) == len(truth["service_map"]["edges"])


def test_findings_name_the_known_problems(contract: dict[str, Any]) -> None:
    kinds = {(f["kind"], f["severity"]) for f in contract["findings"]}
    assert ("invocation_throttle", "critical") in kinds
    subjects = " ".join(f["subject"] for f in contract["findings"])
    for expected in ("legacy-export", "fraud-check", "api.payments.example.com"):
        assert expected in subjects
    severities = [f["severity"] for f in contract["findings"]]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=rank.__getitem__)


def test_entry_points_are_what_users_saw(contract: dict[str, Any], truth: dict[str, Any]) -> None:
    rows = by_name(contract["entry_points"], key="entry")
    assert len(rows) == len(truth["endpoints"])
    for route, expected in truth["endpoints"].items():
        row = rows[f"{expected['stage']} {route}"]
        assert row["type"] == "API route"
        counts = {k: row[k] for k in ("requests", "errors", "faults", "throttled")}
        assert counts == {k: expected[k] for k in counts}, route
    # the route failing every request comes first
    assert contract["entry_points"][0]["entry"] == "reports-api/prod GET /reports/legacy"


def test_dns_and_connection_findings_link_an_example_trace(contract: dict[str, Any]) -> None:
    network = [f for f in contract["findings"] if f["kind"] in ("dns", "connection_reuse")]
    assert {f["kind"] for f in network} == {"dns", "connection_reuse"}
    assert all(f["trace_id"] and f["trace_id"].startswith("1-") for f in network)
