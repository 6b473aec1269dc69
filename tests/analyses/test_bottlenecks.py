"""Critical paths (backward walk with parallel children) and per-entry bottlenecks."""

from __future__ import annotations

import random
from typing import Any, Literal

import polars as pl
import pytest

from analyses._critical_path import _settled_fold
from analyses._tree import ancestor_fold
from analyses.bottlenecks import (
    BOTTLENECK_SCHEMA,
    CRITICAL_PATH_SCHEMA,
    bottlenecks,
    critical_path,
)
from tests.builders.spans import SpanBuilder, sample_documents
from tracelens.ingest.normalize import normalize_documents
from tracelens.schema import SPAN_SCHEMA, UTC_US, conform

TRACE = "1-66322f00-0000000000000000000000b1"


def seg(b: SpanBuilder, span_id: str, start_ms: float, end_ms: float, **fields: Any) -> str:
    fields.setdefault("trace_id", TRACE)
    return b.span(
        id=span_id,
        kind="segment",
        depth=0,
        start_s=start_ms / 1000,
        duration_ms=end_ms - start_ms,
        **fields,
    )


def sub(
    b: SpanBuilder, span_id: str, parent: str, start_ms: float, end_ms: float, **fields: Any
) -> str:
    fields.setdefault("trace_id", TRACE)
    fields.setdefault("name", span_id)
    return b.span(
        id=span_id,
        parent_id=parent,
        start_s=start_ms / 1000,
        duration_ms=end_ms - start_ms,
        **fields,
    )


def path_of(spans: pl.DataFrame) -> dict[str, float]:
    """Span id -> self ms on the critical path."""
    path = critical_path(spans)
    return {row["id"]: round(row["self_ms"], 6) for row in path.to_dicts()}


def test_only_the_later_ending_parallel_child_is_on_the_path() -> None:
    b = SpanBuilder()
    seg(b, "root", 0, 100, name="svc")
    sub(b, "a", "root", 10, 60)
    sub(b, "b", "root", 20, 90)
    # From 100 back: b ends last; nothing ends by b's start (20): 0-20 and 90-100 are root's.
    assert path_of(b.frame()) == {"root": 20 + 10, "b": 70}


def test_sequential_children_and_gaps_credit_the_parent() -> None:
    b = SpanBuilder()
    seg(b, "root", 0, 100, name="svc")
    sub(b, "a", "root", 5, 40)
    sub(b, "b", "root", 10, 30)
    sub(b, "c", "root", 45, 90)
    assert path_of(b.frame()) == {"root": 5 + 5 + 10, "a": 35, "c": 45}


def test_nested_depth() -> None:
    b = SpanBuilder()
    seg(b, "root", 0, 100, name="svc")
    sub(b, "l1", "root", 10, 90)
    sub(b, "l2", "l1", 20, 80)
    sub(b, "l3", "l2", 30, 70)
    sub(b, "l3-side", "l2", 25, 60)  # overlaps l3 and ends first: not on the path
    assert path_of(b.frame()) == {"root": 20, "l1": 20, "l2": 20, "l3": 40}


def test_child_segments_in_other_documents_and_node_attribution() -> None:
    b = SpanBuilder()
    seg(b, "api", 0, 100, name="orders-api/prod", origin="AWS::ApiGateway::Stage")
    sub(
        b,
        "invoke",
        "api",
        2,
        98,
        name="Lambda",
        namespace="aws",
        aws_operation="Invoke",
        function_name="orders",
    )
    seg(b, "svc", 4, 96, parent_id="invoke", name="orders", origin="AWS::Lambda")
    seg(b, "fn", 10, 95, parent_id="svc", name="orders", origin="AWS::Lambda::Function")
    sub(b, "init", "fn", 5, 9, name="Initialization")  # before the function segment, as X-Ray
    sub(b, "handler", "fn", 10, 94, name="Invocation")
    sub(
        b,
        "get",
        "handler",
        20,
        50,
        name="DynamoDB",
        namespace="aws",
        aws_operation="GetItem",
        aws_resource="orders-table",
    )
    seg(
        b,
        "get-inferred",
        20,
        50,
        parent_id="get",
        name="DynamoDB",
        origin="AWS::DynamoDB::Table",
        inferred=True,
        aws_resource="orders-table",
    )
    sub(
        b,
        "pay",
        "handler",
        55,
        90,
        name="pay.example.com",
        namespace="remote",
        host="pay.example.com",
        http_method="POST",
    )
    sub(b, "dns", "pay", 55, 70, name="dns")
    path = critical_path(b.frame())
    assert "get-inferred" not in set(path["id"])
    by_node = dict(
        path.group_by("node", "node_type", "node_kind")
        .agg(pl.col("self_ms").sum())
        .select(pl.concat_str("node", "node_type", "node_kind", separator="|"), "self_ms")
        .rows()
    )
    # One function, one node: the Invoke call, the Lambda service and the function's own
    # segment all name (orders, AWS::Lambda::Function); the kind tells their time apart.
    assert by_node == pytest.approx(
        {
            "orders-api/prod|AWS::ApiGateway::Stage|service": 4.0,
            "orders|AWS::Lambda::Function|downstream": 4.0,  # the Invoke call's own time
            "orders|AWS::Lambda::Function|lambda_service": 2.0,
            "orders|AWS::Lambda::Function|function_code": 2.0 + 19.0,  # 9-10, 94-95; handler
            "orders Initialization|AWS::Lambda::Function|initialization": 4.0,
            "orders-table|AWS::DynamoDB::Table|downstream": 30.0,
            "pay.example.com|remote|downstream": 35.0,  # its nested dns step included
        }
    )
    operations = dict(zip(path["id"], path["operation"], strict=True))
    assert operations["get"] == "GetItem"
    assert operations["pay"] == "POST pay.example.com"
    assert operations["dns"] == "dns"
    assert path["self_ms"].sum() == pytest.approx(100.0)


def test_children_are_clipped_to_the_parent_window() -> None:
    b = SpanBuilder()
    seg(b, "api", 0, 100, name="api")
    sub(b, "invoke", "api", 10, 60, name="Lambda", namespace="aws", function_name="f")
    # Millisecond-precision service segment slightly outside its caller; the function segment
    # outside the service segment; an asynchronous child that outlives everything.
    seg(b, "svc", 9.6, 60.4, parent_id="invoke", name="f", origin="AWS::Lambda")
    seg(b, "fn", 9.5, 61.0, parent_id="svc", name="f", origin="AWS::Lambda::Function")
    sub(b, "async", "api", 80, 300, name="later")
    path = critical_path(b.frame())
    windows = {
        row["id"]: (row["start_time"], row["end_time"], row["self_ms"]) for row in path.to_dicts()
    }
    fn_start, fn_end, fn_self = windows["fn"]
    assert (fn_end - fn_start).total_seconds() * 1000 == pytest.approx(50.0)
    assert fn_self == pytest.approx(50.0)
    assert windows["svc"][2] == pytest.approx(0.0)
    assert windows["async"][2] == pytest.approx(20.0)
    assert path["self_ms"].sum() == pytest.approx(100.0)


def test_in_progress_root_has_no_path_and_orphans_are_left_out() -> None:
    b = SpanBuilder()
    b.span(
        id="open",
        trace_id=TRACE,
        kind="segment",
        depth=0,
        name="svc",
        start_s=0.0,
        duration_ms=None,
    )
    other = "1-66322f00-0000000000000000000000b2"
    seg(b, "long", 0, 10, parent_id="not-in-trace", name="other", trace_id=other)
    seg(b, "short", 0, 5, name="first", trace_id=other)
    seg(b, "late", 20, 30, name="later", trace_id=other)
    path = critical_path(b.frame())
    # Three parentless segments in the second trace: the earliest (then longest) is the root.
    assert path["id"].to_list() == ["long"]


def entry_trace(b: SpanBuilder, n: int, *, url: str, remote_ms: float) -> str:
    trace = f"1-66322f00-{n:024x}"
    seg(
        b,
        f"api{n}",
        0,
        30 + remote_ms,
        trace_id=trace,
        name="orders-api/prod",
        origin="AWS::ApiGateway::Stage",
        http_method="GET",
        http_url=url,
    )
    sub(
        b,
        f"ddb{n}",
        f"api{n}",
        5,
        25,
        trace_id=trace,
        name="DynamoDB",
        namespace="aws",
        aws_resource="orders",
    )
    sub(
        b,
        f"pay{n}",
        f"api{n}",
        25,
        25 + remote_ms,
        trace_id=trace,
        name="pay",
        namespace="remote",
        host="pay.example.com",
    )
    return trace


def test_bottleneck_shares_sum_to_one_and_the_slow_traces_show_the_culprit() -> None:
    b = SpanBuilder()
    urls = [
        f"https://abc.execute-api.us-east-1.amazonaws.com/prod/orders/{n}?verbose=1"
        for n in range(19)
    ]
    for n, url in enumerate(urls):
        entry_trace(b, n, url=url, remote_ms=5.0)
    slow = entry_trace(
        b,
        99,
        url="https://abc.execute-api.us-east-1.amazonaws.com/prod/orders/"
        "3f2b1c9e-1111-2222-3333-444455556666",
        remote_ms=500.0,
    )
    result = bottlenecks(b.frame())
    assert set(result["entry"]) == {"orders-api/prod GET /orders/{id}"}
    assert result["critical_path_share"].sum() == pytest.approx(1.0)
    assert result["slow_share"].sum() == pytest.approx(1.0)
    rows = {row["node"]: row for row in result.to_dicts()}
    # 19 traces of 35 ms (5 api + 20 ddb + 5 pay + 5 api) and one of 530 ms.
    assert rows["orders"]["critical_path_share"] == pytest.approx(20 * 20 / (19 * 35 + 530))
    assert rows["pay.example.com"]["slow_share"] == pytest.approx(500 / 530)
    assert rows["pay.example.com"]["slow_traces"] == 1
    assert rows["pay.example.com"]["traces"] == 20
    assert rows["pay.example.com"]["mean_ms"] == pytest.approx((19 * 5 + 500) / 20)
    assert rows["pay.example.com"]["slow_mean_ms"] == pytest.approx(500.0)
    assert rows["pay.example.com"]["example_trace_id"] == slow
    assert result["node"][0] == "pay.example.com"


def test_entry_names() -> None:
    b = SpanBuilder()
    seg(
        b,
        "s1",
        0,
        10,
        name="worker",
        origin="AWS::Lambda",
        aws_operation="Invoke",
        trace_id="1-66322f00-0000000000000000000000c1",
    )
    seg(b, "s2", 0, 10, name="cron", trace_id="1-66322f00-0000000000000000000000c2")
    seg(
        b,
        "s3",
        0,
        10,
        name="site",
        http_url="https://example.com",
        http_method="GET",
        trace_id="1-66322f00-0000000000000000000000c3",
    )
    # The stage prefix goes ("/prod" is the stage root) but does not eat "/products".
    for n, url in enumerate(["https://api.example.com/prod", "https://h/products/7"]):
        seg(
            b,
            f"s4{n}",
            0,
            10,
            name="shop/prod",
            origin="AWS::ApiGateway::Stage",
            http_url=url,
            http_method="GET",
            trace_id=f"1-66322f00-0000000000000000000000d{n}",
        )
    assert set(bottlenecks(b.frame())["entry"]) == {
        "worker Invoke",
        "cron",
        "site GET /",
        "shop/prod GET /",
        "shop/prod GET /products/{id}",
    }


def test_empty_input_and_bad_quantile() -> None:
    empty = pl.DataFrame(schema=SPAN_SCHEMA)
    assert critical_path(empty).schema == pl.Schema(CRITICAL_PATH_SCHEMA)
    assert bottlenecks(empty).schema == pl.Schema(BOTTLENECK_SCHEMA)
    with pytest.raises(ValueError, match="slow_quantile"):
        bottlenecks(empty, slow_quantile=1.0)


def synthetic_spans(n_traces: int) -> pl.DataFrame:
    """``n_traces`` copies of a 17-row Lambda trace (API -> function -> DynamoDB x2 + HTTP)."""
    template: list[tuple[str, str | None, str, str, str | None, str | None, int, int, Any]] = [
        # id, parent, kind, name, origin, namespace, start ms, end ms, extra
        (
            "root",
            None,
            "segment",
            "orders-api/prod",
            "AWS::ApiGateway::Stage",
            None,
            0,
            100,
            {"http_method": "POST", "http_url": "https://h/prod/orders"},
        ),
        ("inv", "root", "subsegment", "Lambda", None, "aws", 2, 98, {"function_name": "orders"}),
        ("lam", "inv", "segment", "orders", "AWS::Lambda", None, 3, 97, {}),
        ("fun", "lam", "segment", "orders", "AWS::Lambda::Function", None, 5, 96, {}),
        ("ivc", "fun", "subsegment", "Invocation", None, None, 5, 95, {}),
        ("get", "ivc", "subsegment", "DynamoDB", None, "aws", 10, 30, {"aws_resource": "t"}),
        (
            "gi",
            "get",
            "segment",
            "DynamoDB",
            "AWS::DynamoDB::Table",
            None,
            10,
            30,
            {"inferred": True, "aws_resource": "t"},
        ),
        ("put", "ivc", "subsegment", "DynamoDB", None, "aws", 12, 40, {"aws_resource": "t"}),
        (
            "pi",
            "put",
            "segment",
            "DynamoDB",
            "AWS::DynamoDB::Table",
            None,
            12,
            40,
            {"inferred": True, "aws_resource": "t"},
        ),
        ("http", "ivc", "subsegment", "pay", None, "remote", 45, 90, {"host": "pay"}),
        ("conn", "http", "subsegment", "connect", None, None, 45, 60, {}),
        ("dns", "conn", "subsegment", "dns", None, None, 45, 50, {}),
        ("dial", "conn", "subsegment", "dial", None, None, 50, 53, {}),
        ("tls", "conn", "subsegment", "tls", None, None, 53, 60, {}),
        ("req", "http", "subsegment", "request", None, None, 60, 62, {}),
        ("resp", "http", "subsegment", "response", None, None, 62, 90, {}),
        ("ovh", "fun", "subsegment", "Overhead", None, None, 95, 96, {}),
    ]
    index = pl.int_range(n_traces, eager=True)
    suffix = index.cast(pl.String).str.zfill(14)
    # Per-trace time scale in [0.5, 2.5): a long tail of slow traces.
    scale = 0.5 + 2.0 * ((index.hash(7) % 10_000) / 10_000) ** 4
    base_us = 1_714_564_800_000_000 + index * 1_000
    frames = []
    for span_id, parent, kind, name, origin, namespace, start_ms, end_ms, extra in template:
        columns: dict[str, Any] = {
            "trace_id": "1-66322f00-" + index.cast(pl.String).str.zfill(24),
            "id": span_id + suffix,
            "parent_id": None if parent is None else parent + suffix,
            "kind": kind,
            "name": name,
            "origin": origin,
            "namespace": namespace,
            "start_time": (base_us + (scale * start_ms * 1000).cast(pl.Int64)).cast(UTC_US),
            "end_time": (base_us + (scale * end_ms * 1000).cast(pl.Int64)).cast(UTC_US),
            "duration_ms": scale * (end_ms - start_ms),
            **extra,
        }
        frame = pl.DataFrame({k: v for k, v in columns.items() if isinstance(v, pl.Series)})
        frame = frame.with_columns(
            pl.lit(v).alias(k) for k, v in columns.items() if not isinstance(v, pl.Series)
        )
        frames.append(conform(frame, SPAN_SCHEMA))
    return pl.concat(frames).rechunk()


@pytest.mark.slow
def test_scale_50k_traces() -> None:
    spans = synthetic_spans(50_000)
    result = bottlenecks(spans)  # its speed: benchmarks/bench_components.py (bottlenecks)
    assert result["critical_path_share"].sum() == pytest.approx(1.0)
    assert set(result["node"]) == {"orders-api/prod", "orders", "t", "pay"}


def test_path_of_normalized_documents() -> None:
    spans = normalize_documents(sample_documents())
    path = critical_path(spans)
    by_node = dict(
        path.group_by("node", "node_type", "node_kind")
        .agg(pl.col("self_ms").sum())
        .select(pl.concat_str("node", "node_type", "node_kind", separator="|"), "self_ms")
        .rows()
    )
    fn = "random-name|AWS::Lambda::Function"
    assert by_node == pytest.approx(
        {
            "Scorekeep|AWS::ElasticBeanstalk::Environment|service": 80.0 + 80.0,
            f"{fn}|downstream": 60.0,  # the Invoke call's own time
            f"{fn}|lambda_service": 410.0,
            f"{fn}|function_code": 740.0,
            "random-name Initialization|AWS::Lambda::Function|initialization": 740.0,
            "SNS|AWS::SNS|downstream": 1000.0,
            "scorekeep-user|AWS::DynamoDB::Table|downstream": 90.0,
        },
        abs=0.01,
    )
    entry = bottlenecks(spans)["entry"].unique().to_list()
    assert entry == ["Scorekeep POST /api/user"]


def _subsegment_document(
    span_id: str, parent_id: str, start_ms: int, end_ms: int, **fields: Any
) -> dict[str, Any]:
    """One subsegment sent as its own document (``type`` and ``parent_id`` at the top)."""
    t0 = 1714564800.0
    return {
        "trace_id": TRACE,
        "id": span_id,
        "parent_id": parent_id,
        "type": "subsegment",
        "start_time": t0 + start_ms / 1000,
        "end_time": t0 + end_ms / 1000,
        **fields,
    }


def _function_segment(end_ms: int) -> dict[str, Any]:
    return {
        "trace_id": TRACE,
        "id": "f" * 16,
        "name": "orders",
        "origin": "AWS::Lambda::Function",
        "start_time": 1714564800.0,
        "end_time": 1714564800.0 + end_ms / 1000,
    }


LONG_CHAIN = 20_000  # its speed: benchmarks/bench_components.py (long-chains)


def test_long_chain_of_sequential_subsegment_documents() -> None:
    # One call after another, each its own document: 1 ms of call, then 1 ms of own code.
    documents = [_function_segment(2 * LONG_CHAIN)] + [
        _subsegment_document(
            f"{i + 1:016x}",
            "f" * 16,
            2 * i,
            2 * i + 1,
            name="DynamoDB",
            namespace="aws",
            aws={"operation": "GetItem", "table_name": "orders"},
        )
        for i in range(LONG_CHAIN)
    ]
    spans = normalize_documents(documents)
    path = critical_path(spans)
    assert path.height == LONG_CHAIN + 1
    by_node = dict(path.group_by("node_kind").agg(pl.col("self_ms").sum()).rows())
    assert by_node == pytest.approx(
        {"function_code": float(LONG_CHAIN), "downstream": float(LONG_CHAIN)}, abs=0.5
    )
    # The function and the table are both named "orders": one row per node kind.
    shares = bottlenecks(spans).select("node", "node_type", "critical_path_share").rows()
    assert sorted(shares) == [
        ("orders", "AWS::DynamoDB::Table", pytest.approx(0.5, abs=1e-3)),
        ("orders", "AWS::Lambda::Function", pytest.approx(0.5, abs=1e-3)),
    ]


def test_long_chain_of_nested_subsegment_documents() -> None:
    # Each subsegment the parent of the next, each its own document: 1 ms of own time on
    # either side of its child, the innermost 2 ms.
    documents = [_function_segment(2 * LONG_CHAIN + 2)]
    parent = "f" * 16
    for i in range(LONG_CHAIN):
        span_id = f"{i + 1:016x}"
        documents.append(
            _subsegment_document(span_id, parent, i + 1, 2 * LONG_CHAIN + 1 - i, name=f"step {i}")
        )
        parent = span_id
    path = critical_path(normalize_documents(documents))
    assert path.height == LONG_CHAIN + 1  # every level of the nesting is on the path
    self_ms = path["self_ms"].round(3)
    assert self_ms.to_list() == [2.0] * (LONG_CHAIN + 1)
    ids = path["id"].to_list()
    assert ids == ["f" * 16] + [f"{i + 1:016x}" for i in range(LONG_CHAIN)]


def test_shares_do_not_depend_on_the_order_of_the_spans() -> None:
    spans = synthetic_spans(300)
    shuffled = spans.sample(fraction=1.0, shuffle=True, seed=7)
    # NOTE: exact equality: the shares are summed in integer microseconds, not in floats.
    assert bottlenecks(shuffled).equals(bottlenecks(spans))


@pytest.mark.parametrize("kind", ["min", "max", "nearest"])
def test_the_settling_fold_is_the_ancestor_fold(kind: Literal["min", "max", "nearest"]) -> None:
    rng = random.Random(11)
    size = 400
    # Chains up to 40 deep (more rounds than settle), a few cycles and self-parents.
    parents = [None if n % 40 == 0 else n - 1 for n in range(size)]
    for n in rng.sample(range(size), 30):
        parents[n] = rng.randrange(size)
    parent_row = pl.Series(parents, dtype=pl.UInt32)
    values = pl.Series(
        [rng.randrange(100) if rng.random() < 0.3 else None for _ in range(size)],
        dtype=pl.Int64,
    )
    settled = _settled_fold(values, parent_row, kind=kind)
    assert settled.equals(ancestor_fold(values, parent_row, kind=kind))
    # Values that settle at once (every child within its parent's) take the first round.
    ordered = pl.Series(range(size), dtype=pl.Int64) * (1 if kind == "max" else -1)
    chain = pl.Series([None if n % 40 == 0 else n - 1 for n in range(size)], dtype=pl.UInt32)
    assert _settled_fold(ordered, chain, kind=kind).equals(ancestor_fold(ordered, chain, kind=kind))
