"""Shared intermediates: computed once inside a block, never kept outside, same results."""

from __future__ import annotations

import gc
import sys
import threading
import time
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analyses._tree import first_rows, gather_views, ids_repeat, links_are_joins, parent_rows
from analyses.bottlenecks import bottlenecks, critical_path, critical_path_and_bottlenecks
from analyses.cold_starts import cold_starts
from analyses.dns import connection_setup, dns_and_connection_setup, dns_lookups
from analyses.downstream_throttles import downstream_calls
from analyses.functions import function_table
from analyses.invocations import invocations
from analyses.memo import in_this_block, memoized, shared_intermediates
from analyses.service_map import (
    service_map_edges,
    service_map_nodes,
    service_map_nodes_and_edges,
)
from analyses.throttles import downstream_throttles, invocation_throttles, throttle_timeline
from tests.builders.spans import SpanBuilder
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.inputs import Inputs, load_inputs

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"

CALLS: list[tuple[int, float]] = []


@memoized
def _rows_times(frame: pl.DataFrame, *, factor: float = 2.0) -> pl.DataFrame:
    CALLS.append((id(frame), factor))
    return frame.select(pl.col("x") * factor)


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    CALLS.clear()


def test_memoized_function_runs_once_per_frame_inside_the_block() -> None:
    frame = pl.DataFrame({"x": [1, 2]})
    with shared_intermediates():
        first = _rows_times(frame)
        assert _rows_times(frame) is first
        assert _rows_times(frame, factor=2.0) is first  # a default passed explicitly
        assert _rows_times(frame, factor=3.0)["x"].to_list() == [3, 6]
        other = pl.DataFrame({"x": [1, 2]})  # equal data, another frame
        assert _rows_times(other) is not first
    assert len(CALLS) == 3


def test_outside_a_block_every_call_computes() -> None:
    frame = pl.DataFrame({"x": [1]})
    assert _rows_times(frame) is not _rows_times(frame)
    assert len(CALLS) == 2


def test_results_are_released_when_the_block_ends() -> None:
    frame = pl.DataFrame({"x": [1]})
    with shared_intermediates():
        result = weakref.ref(_rows_times(frame))
        gc.collect()
        assert result() is not None  # kept for later calls in the block
    gc.collect()
    assert result() is None


def test_blocks_nest_and_the_outer_one_resumes() -> None:
    frame = pl.DataFrame({"x": [1]})
    with shared_intermediates():
        outer = _rows_times(frame)
        with shared_intermediates():
            assert _rows_times(frame) is not outer
        assert _rows_times(frame) is outer
    assert len(CALLS) == 2


STARTED = threading.Event()
RELEASE = threading.Event()


@memoized
def _slow_rows(frame: pl.DataFrame, *, fail: bool = False) -> pl.DataFrame:
    CALLS.append((id(frame), 0.0))
    STARTED.set()
    assert RELEASE.wait(timeout=30)
    if fail and len(CALLS) == 1:
        raise RuntimeError("the first computation fails")
    return frame.select(pl.col("x") + 1)


def _waits_in_the_memo(thread: threading.Thread) -> bool:
    """Whether ``thread`` is waiting in the memo for a result another thread computes."""
    frame = sys._current_frames().get(thread.ident or 0)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return "reusing" in names and "wait" in names and "_slow_rows" not in names


def _asked_while_computed(**arguments: Any) -> tuple[Future[pl.DataFrame], pl.DataFrame]:
    """``_slow_rows(**arguments)`` computed in one thread and asked for in another while it
    is computed; the computation ends only once the second waits for it."""
    STARTED.clear()
    RELEASE.clear()
    asked: list[pl.DataFrame] = []
    with ThreadPoolExecutor(max_workers=1) as other:
        first = other.submit(in_this_block(lambda: _slow_rows(**arguments)))
        assert STARTED.wait(timeout=30)  # the other thread is computing it
        waiter = threading.Thread(
            target=in_this_block(lambda: asked.append(_slow_rows(**arguments)))
        )
        waiter.start()
        deadline = time.monotonic() + 30
        while not _waits_in_the_memo(waiter):
            assert time.monotonic() < deadline, "the second thread never waited"
            time.sleep(0.005)
        RELEASE.set()
        waiter.join(timeout=30)
        first.exception(timeout=30)
    return first, asked[0]


def test_a_result_another_thread_computes_is_waited_for_not_computed_twice() -> None:
    frame = pl.DataFrame({"x": [1, 2]})
    with shared_intermediates():
        first, asked = _asked_while_computed(frame=frame)
        assert first.result() is asked
        assert _slow_rows(frame) is asked
    assert len(CALLS) == 1
    assert asked["x"].to_list() == [2, 3]


def test_a_failed_computation_is_raised_in_its_thread_and_tried_again_by_a_waiter() -> None:
    frame = pl.DataFrame({"x": [1]})
    with shared_intermediates():
        first, asked = _asked_while_computed(frame=frame, fail=True)
        with pytest.raises(RuntimeError, match="first computation fails"):
            first.result()
        assert _slow_rows(frame, fail=True) is asked  # the waiter's retry is kept
    assert len(CALLS) == 2
    assert asked["x"].to_list() == [2]


def test_a_thread_outside_the_block_keeps_nothing() -> None:
    frame = pl.DataFrame({"x": [1]})
    with shared_intermediates(), ThreadPoolExecutor(max_workers=1) as other:
        kept = _rows_times(frame)
        assert other.submit(in_this_block(lambda: _rows_times(frame))).result() is kept
        assert other.submit(lambda: _rows_times(frame)).result() is not kept
    assert len(CALLS) == 2


@pytest.fixture(scope="module")
def sample() -> tuple[Inputs, AnalysisResult]:
    inputs = load_inputs([SAMPLES])
    return inputs, run_analysis(inputs)


def _alone(inputs: Inputs) -> dict[str, pl.DataFrame]:
    """Every analysis called on its own, outside any shared block."""
    spans = inputs.traces.spans
    reports = inputs.logs.reports if inputs.logs is not None else None
    config = inputs.functions.functions if inputs.functions is not None else None
    limit = inputs.functions.account_concurrency_limit if inputs.functions else None
    return {
        "invocations": invocations(spans),
        "cold_starts": cold_starts(spans, reports=reports),
        "functions": function_table(spans, reports=reports, functions=config),
        "invocation_throttles": invocation_throttles(
            spans, metrics=inputs.metrics, functions=config, account_concurrency_limit=limit
        ),
        "downstream_throttles": downstream_throttles(spans),
        "throttle_timeline": throttle_timeline(spans, metrics=inputs.metrics),
        "dns": dns_lookups(spans, functions=config),
        "connection_setup": connection_setup(spans),
        "critical_path": critical_path(spans),
        "bottlenecks": bottlenecks(spans),
        "service_nodes": service_map_nodes(spans),
        "service_edges": service_map_edges(spans),
    }


def test_the_runner_gives_what_each_analysis_gives_alone(
    sample: tuple[Inputs, AnalysisResult],
) -> None:
    inputs, result = sample
    examples = result.bottlenecks.get_column("example_trace_id").drop_nulls()
    for field, alone in _alone(inputs).items():
        assert alone.height > 0, field
        expected = alone
        if field == "critical_path":  # the runner keeps the example traces' paths only
            expected = alone.filter(pl.col("trace_id").is_in(examples.implode()))
            assert 0 < examples.n_unique() == expected.get_column("trace_id").n_unique()
        assert_frame_equal(getattr(result, field), expected, check_exact=False, rel_tol=1e-12)


def test_the_two_lanes_give_what_one_lane_gives(sample: tuple[Inputs, AnalysisResult]) -> None:
    # NOTE: a race between the lanes on a shared intermediate, or an analysis reading another's
    # result before it is complete, would show as a difference from the one-lane run.
    inputs, result = sample  # one lane
    for again in (run_analysis(inputs, lanes=2), run_analysis(inputs, lanes=2)):
        for field in (f.name for f in fields(AnalysisResult)):
            value = getattr(again, field)
            if isinstance(value, pl.DataFrame):
                assert_frame_equal(value, getattr(result, field), check_exact=False)
        assert again.cycles == result.cycles


def test_combined_analyses_equal_the_separate_ones(sample: tuple[Inputs, AnalysisResult]) -> None:
    spans = sample[0].traces.spans
    path, slow = critical_path_and_bottlenecks(spans, slow_quantile=0.5)
    assert_frame_equal(path, critical_path(spans))
    examples = slow.get_column("example_trace_id")
    only, same = critical_path_and_bottlenecks(spans, slow_quantile=0.5, example_paths_only=True)
    assert_frame_equal(same, slow)
    assert_frame_equal(only, path.filter(pl.col("trace_id").is_in(examples.implode())))
    assert_frame_equal(slow, bottlenecks(spans, slow_quantile=0.5))
    nodes, edges = service_map_nodes_and_edges(spans)
    assert_frame_equal(nodes, service_map_nodes(spans))
    assert_frame_equal(edges, service_map_edges(spans))
    dns, connections = dns_and_connection_setup(spans)
    assert_frame_equal(dns, dns_lookups(spans))
    assert_frame_equal(connections, connection_setup(spans))


def test_spans_in_many_chunks_give_the_same_results(
    sample: tuple[Inputs, AnalysisResult],
) -> None:
    # NOTE: ingest concatenates many batches; several analyses take other paths on such frames.
    inputs, result = sample
    spans = inputs.traces.spans
    chunked = pl.concat([spans.slice(i, 101) for i in range(0, spans.height, 101)], rechunk=False)
    assert chunked.n_chunks() > 10
    again = run_analysis(replace(inputs, traces=replace(inputs.traces, spans=chunked)))
    for field in ("critical_path", "bottlenecks", "downstream_throttles", "dns", "service_edges"):
        assert_frame_equal(getattr(again, field), getattr(result, field), check_exact=False)


def test_downstream_call_with_a_repeated_id_reads_the_first_copy() -> None:
    b = SpanBuilder()
    inv = b.lambda_invocation("orders", start_s=0.0, duration_ms=500.0)
    call = b.aws_call(inv, "DynamoDB", "PutItem", resource="orders", start_s=0.1, throttled=True)
    b.aws_call(inv, "SQS", "SendMessage", resource="https://sqs/q", start_s=0.2)
    copy = dict(next(row for row in b.rows if row["id"] == call))
    copy.update(aws_resource="orders-v2", throttle=False, http_status=200, error=False)
    b.rows.insert(0, copy)  # an earlier row with the call's (trace_id, id)
    spans = b.frame()
    assert ids_repeat(spans)
    calls = downstream_calls(spans).sort("start_time")
    assert calls.select("source", "service", "resource", "throttled").rows() == [
        ("orders", "DynamoDB", "orders-v2", False),
        ("orders", "DynamoDB", "orders-v2", False),
        ("orders", "SQS", "https://sqs/q", False),
    ]
    assert downstream_throttles(spans).is_empty()


def test_first_rows_and_repeated_ids() -> None:
    spans = pl.DataFrame(
        {"trace_id": ["t1", "t1", "t2", "t1", "t2"], "id": ["a", "b", "a", "a", "c"]}
    )
    assert ids_repeat(spans)
    assert not ids_repeat(spans.slice(0, 3))
    rows = pl.Series([3, 1, 2, 4], dtype=pl.UInt32)
    assert first_rows(spans, rows).to_list() == [0, 1, 2, 4]


def test_parent_rows_link_parents_of_the_same_trace_and_the_first_of_repeated_ids() -> None:
    spans = pl.DataFrame(
        {
            "trace_id": ["t1", "t1", "t2", "t1", "t2", "t1", "t2", None],
            "id": ["a", "b", "a", "a", "c", "d", None, "e"],
            "parent_id": [None, "a", None, "b", "a", "x", "c", "a"],
        }
    )
    linked = parent_rows(spans)
    # "a" of t1 is on rows 0 and 3: its children link to row 0; a parent in another trace,
    # an unknown parent and a missing trace id link to nothing.
    assert linked.to_list() == [None, 0, None, 1, 2, None, 4, None]
    unique = parent_rows(spans.slice(1))
    assert unique.to_list() == [2, None, 0, 1, None, 3, None]


def test_links_are_the_joins_on_ids_without_repeated_ids_or_null_trace_ids() -> None:
    spans = pl.DataFrame({"trace_id": ["t1", "t1", "t2"], "id": ["a", "b", "a"]})
    assert links_are_joins(spans)
    assert not links_are_joins(pl.concat([spans, spans.head(1)]))
    assert not links_are_joins(spans.with_columns(trace_id=pl.Series(["t1", None, "t2"])))


def test_gather_views_equals_gather_on_many_chunks() -> None:
    values = pl.concat(
        [pl.Series(["a-long-string-value-1", None]), pl.Series(["short", "another-long-one-2"])],
        rechunk=False,
    )
    rows = pl.Series([3, 0, 1, 3, 2], dtype=pl.UInt32)
    assert values.n_chunks() == 2
    assert gather_views(values, rows).to_list() == values.gather(rows).to_list()
    assert values.n_chunks() == 2  # the caller's series is left as it was


def test_bottleneck_example_among_equally_slow_traces_is_the_first() -> None:
    b = SpanBuilder()
    traces = []
    for start_s in (0.0, 10.0, 20.0):
        web = b.caller("web", start_s=start_s)
        b.aws_call(
            web, "DynamoDB", "Query", resource="orders", start_s=start_s + 0.1, duration_ms=500
        )
        traces.append(web.trace_id)
    slow = bottlenecks(b.frame())
    assert slow.select("node", "traces", "slow_traces").sort("node").rows() == [
        ("orders", 3, 3),
        ("web", 3, 3),
    ]
    assert set(slow["example_trace_id"]) == {traces[0]}


def test_a_root_without_a_name_is_an_entry_of_its_own() -> None:
    b = SpanBuilder()
    for start_s in (0.0, 10.0):
        web = b.caller("web", start_s=start_s)
        b.aws_call(
            web, "DynamoDB", "Query", resource="orders", start_s=start_s + 0.1, duration_ms=500
        )
    b.rows[-2]["name"] = None  # the second trace's root segment
    slow = bottlenecks(b.frame())
    assert slow.select("entry", "node", "traces").rows() == [
        (None, None, 1),
        (None, "orders", 1),
        ("web", "orders", 1),
        ("web", "web", 1),
    ]
