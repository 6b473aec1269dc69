"""DNS lookups and connection set-up inside Lambda invocations."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from analyses.dns import CONNECTION_SETUP_SCHEMA, DNS_SCHEMA, connection_setup, dns_lookups
from tests.builders.spans import SpanBuilder, frame_of
from tracelens.ingest.normalize import normalize_documents
from tracelens.schema import FUNCTION_SCHEMA, SPAN_SCHEMA


def sub(
    b: SpanBuilder,
    trace: str,
    parent: str,
    name: str,
    start_ms: float,
    duration_ms: float,
    **fields: Any,
) -> str:
    return b.span(
        trace_id=trace,
        parent_id=parent,
        name=name,
        start_s=start_ms / 1000,
        duration_ms=duration_ms,
        **fields,
    )


def invocation(b: SpanBuilder, function: str, start_s: float, *, cold: bool) -> tuple[str, str]:
    """A 100 ms invocation; returns (trace id, handler subsegment id)."""
    inv = b.lambda_invocation(
        function, start_s=start_s, duration_ms=100.0, init="on_demand" if cold else None
    )
    return inv.trace_id, inv.handler_id


def go_remote_call(
    b: SpanBuilder, trace: str, handler: str, host: str, start_ms: float, *, dns_ms: float | None
) -> str:
    """X-Ray Go SDK shape: remote call > connect > (dns, dial, tls), then request/response."""
    call = sub(
        b, trace, handler, host, start_ms, 50.0, namespace="remote", host=host, http_method="GET"
    )
    connect = sub(b, trace, call, "connect", start_ms, 20.0)
    if dns_ms is not None:
        sub(b, trace, connect, "dns", start_ms, dns_ms)
        sub(b, trace, connect, "dial", start_ms + dns_ms, 2.0)
        sub(b, trace, connect, "tls", start_ms + dns_ms + 2.0, 5.0)
    sub(b, trace, call, "request", start_ms + 20.0, 1.0)
    return call


def test_go_sdk_lookups_cold_and_warm_split() -> None:
    b = SpanBuilder()
    traces = []
    for n, dns_ms in enumerate([40.0, 60.0]):
        trace, handler = invocation(b, "orders", 10.0 * n, cold=True)
        traces.append(trace)
        go_remote_call(b, trace, handler, "pay.example.com", 10_000.0 * n + 1, dns_ms=dns_ms)
    for n, dns_ms in enumerate([2.0, 3.0, 4.0]):
        trace, handler = invocation(b, "orders", 100.0 + 10.0 * n, cold=False)
        go_remote_call(b, trace, handler, "pay.example.com", 0.0, dns_ms=dns_ms)
    result = dns_lookups(b.frame())
    assert result.height == 1
    row = result.row(0, named=True)
    assert (row["function_name"], row["host"]) == ("orders", "pay.example.com")
    assert (row["lookups"], row["invocations"], row["failures"]) == (5, 5, 0)
    assert (row["cold_lookups"], row["warm_lookups"]) == (2, 3)
    assert row["p50_ms"] == pytest.approx(4.0)
    assert row["p95_ms"] == pytest.approx(40.0 + 0.8 * 20.0)
    assert row["max_ms"] == pytest.approx(60.0)
    assert row["example_trace_id"] == traces[1]  # the slowest lookup's trace
    assert row["cold_p50_ms"] == pytest.approx(50.0)
    assert row["warm_p50_ms"] == pytest.approx(3.0)
    assert row["invocation_share"] == pytest.approx(109.0 / 500.0)
    assert row["vpc_attached"] is None


def test_opentelemetry_lookups_take_their_own_host_first() -> None:
    b = SpanBuilder()
    trace, handler = invocation(b, "billing", 0.0, cold=False)
    # OpenTelemetry Go: http.dns nested in http.getconn in the client span; its own host wins.
    client = sub(
        b, trace, handler, "HTTP GET", 0.0, 30.0, namespace="remote", host="api.partner.com"
    )
    getconn = sub(b, trace, client, "http.getconn", 0.0, 10.0)
    sub(b, trace, getconn, "http.dns", 0.0, 7.0, host="api-internal.partner.com")
    sub(b, trace, getconn, "http.dns", 0.0, 9.0)  # no host of its own: the client span's
    # OpenTelemetry Node: dns.lookup beside the HTTP span, named by its dns.question.name.
    sub(b, trace, handler, "dns.lookup", 40.0, 12.0, host="queue.internal", error=True)
    sub(b, trace, handler, "dns.lookup", 60.0, 1.0)  # no host anywhere
    result = dns_lookups(b.frame()).select("host", "lookups", "max_ms", "failures")
    assert set(result.rows()) == {
        ("api-internal.partner.com", 1, 7.0, 0),
        ("api.partner.com", 1, 9.0, 0),
        ("queue.internal", 1, 12.0, 1),
        (None, 1, 1.0, 0),
    }


def test_lookups_in_sdk_calls_without_a_url_are_named_by_the_target() -> None:
    b = SpanBuilder()
    trace, handler = invocation(b, "orders", 0.0, cold=False)
    call = sub(b, trace, handler, "dynamodb", 0.0, 20.0, namespace="aws", aws_resource="orders")
    connect = sub(b, trace, call, "connect", 0.0, 10.0)
    sub(b, trace, connect, "dns", 0.0, 8.0)
    assert dns_lookups(b.frame())["host"].to_list() == ["orders"]


def test_vpc_flag_from_the_function_table_and_lookups_of_other_services() -> None:
    b = SpanBuilder()
    for function in ("in-vpc", "public"):
        trace, handler = invocation(b, function, 0.0, cold=False)
        go_remote_call(b, trace, handler, "db.internal", 0.0, dns_ms=5.0)
    ec2 = b.caller("web", origin="AWS::EC2::Instance")
    sub(b, ec2.trace_id, ec2.segment_id, "dns.lookup", 0.0, 3.0, host="db.internal")
    functions = frame_of(
        [
            {"function_name": "in-vpc", "vpc_attached": True},
            {"function_name": "other", "vpc_attached": False},
        ],
        FUNCTION_SCHEMA,
    )
    result = dns_lookups(b.frame(), functions=functions)
    assert dict(zip(result["service"], result["vpc_attached"], strict=True)) == {
        "in-vpc": True,
        "public": None,
        "web": None,
    }
    # An EC2 instance's lookups have a row named after the instance's segment: no function,
    # and no cold or warm (those are function terms).
    web = result.filter(pl.col("service") == "web").row(0, named=True)
    assert (web["function_name"], web["host"], web["lookups"], web["invocations"]) == (
        None,
        "db.internal",
        1,
        1,
    )
    assert (web["cold_lookups"], web["warm_lookups"], web["cold_p50_ms"]) == (0, 0, None)


def test_connection_setup_per_call_on_warm_invocations() -> None:
    b = SpanBuilder()
    opened = []
    for n in range(3):
        trace, handler = invocation(b, "no-keepalive", 10.0 * n, cold=False)
        opened.append(trace)
        go_remote_call(b, trace, handler, "pay.example.com", 0.0, dns_ms=3.0)
    trace, handler = invocation(b, "keepalive", 0.0, cold=False)
    go_remote_call(b, trace, handler, "pay.example.com", 0.0, dns_ms=3.0)
    for n in range(3):  # reused connections: the Go SDK still records `connect`
        go_remote_call(b, trace, handler, "pay.example.com", 60.0 * (n + 1), dns_ms=None)
    trace, handler = invocation(b, "keepalive", 50.0, cold=True)  # cold: left out
    go_remote_call(b, trace, handler, "pay.example.com", 0.0, dns_ms=3.0)
    result = connection_setup(b.frame())
    rows = {row["function_name"]: row for row in result.to_dicts()}
    assert rows["no-keepalive"] == {
        "function_name": "no-keepalive",
        "host": "pay.example.com",
        "calls": 3,
        "connects": 3,
        "dials": 3,
        "tls_handshakes": 3,
        "new_connections": 3,
        "new_connections_per_call": 1.0,
        "example_trace_id": min(opened),
    }
    assert rows["keepalive"]["calls"] == 4
    assert rows["keepalive"]["connects"] == 4
    assert rows["keepalive"]["new_connections_per_call"] == pytest.approx(0.25)
    assert result["function_name"].to_list() == ["no-keepalive", "keepalive"]


def test_opentelemetry_node_tls_connect_counts_as_a_new_connection() -> None:
    b = SpanBuilder()
    trace, handler = invocation(b, "notifier", 0.0, cold=False)
    for n in range(2):
        client = sub(
            b, trace, handler, "POST", 30.0 * n, 20.0, namespace="remote", host="hooks.example.com"
        )
        sub(b, trace, client, "tcp.connect", 30.0 * n, 2.0)
        sub(b, trace, client, "tls.connect", 30.0 * n + 2, 5.0)
    row = connection_setup(b.frame()).row(0, named=True)
    assert (row["calls"], row["dials"], row["tls_handshakes"], row["new_connections"]) == (
        2,
        2,
        2,
        2,
    )


def test_empty_input_gives_the_schemas() -> None:
    empty = pl.DataFrame(schema=SPAN_SCHEMA)
    assert dns_lookups(empty).schema == pl.Schema(DNS_SCHEMA)
    assert connection_setup(empty).schema == pl.Schema(CONNECTION_SETUP_SCHEMA)
    with pytest.raises(ValueError, match="functions frame is missing columns"):
        dns_lookups(empty, functions=pl.DataFrame({"function_name": ["f"]}))


def test_lookups_in_normalized_documents() -> None:
    trace = "1-66322f00-00000000000000000000dd01"
    t0 = 1714564800.0

    def step(span_id: str, name: str, start: float, end: float, **more: Any) -> dict[str, Any]:
        return {"id": span_id, "name": name, "start_time": t0 + start, "end_time": t0 + end, **more}

    remote_call = step(
        "c000000000000001",
        "api.example.com",
        0.010,
        0.090,
        namespace="remote",
        http={"request": {"method": "GET", "url": "https://api.example.com/v1/items?id=3"}},
        subsegments=[
            step(
                "c000000000000002",
                "connect",
                0.010,
                0.050,
                subsegments=[
                    step("c000000000000003", "dns", 0.010, 0.035),
                    step("c000000000000004", "dial", 0.035, 0.040),
                    step("c000000000000005", "tls", 0.040, 0.050),
                ],
            ),
            step("c000000000000006", "request", 0.050, 0.051),
        ],
    )
    node_lookup = step(
        "c000000000000007",
        "dns.lookup",
        0.095,
        0.097,
        metadata={"default": {"dns.question.name": "queue.internal"}},
    )
    documents = [
        {
            "trace_id": trace,
            "id": "a000000000000001",
            "name": "fetcher",
            "origin": "AWS::Lambda",
            "start_time": t0,
            "end_time": t0 + 0.101,
        },
        {
            "trace_id": trace,
            "id": "a000000000000002",
            "parent_id": "a000000000000001",
            "name": "fetcher",
            "origin": "AWS::Lambda::Function",
            "start_time": t0 + 0.001,
            "end_time": t0 + 0.1,
            "subsegments": [
                step(
                    "b000000000000001",
                    "Invocation",
                    0.001,
                    0.099,
                    subsegments=[remote_call, node_lookup],
                ),
            ],
        },
    ]
    result = dns_lookups(normalize_documents(documents))
    assert set(result.select("function_name", "host", "lookups", "warm_lookups").rows()) == {
        ("fetcher", "api.example.com", 1, 1),
        ("fetcher", "queue.internal", 1, 1),
    }
    go = result.filter(pl.col("host") == "api.example.com").row(0, named=True)
    assert go["p50_ms"] == pytest.approx(25.0, abs=0.01)
    assert go["invocation_share"] == pytest.approx(25.0 / 99.0, abs=0.001)
    setup = connection_setup(normalize_documents(documents)).row(0, named=True)
    assert (setup["host"], setup["calls"], setup["new_connections"]) == ("api.example.com", 1, 1)
