"""Storing the same window again adds no rows; a later read of the same item wins."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import polars as pl

from tests.builders.results import (
    ACCOUNT,
    REGION,
    SPANS_PER_TRACE,
    T0,
    batch_page,
    insights_page,
    insights_row,
    invocation_lines,
    lambda_result,
    lambda_trace,
    logs_result,
    metric_series,
    metrics_result,
    summaries_page,
    trace_id,
    traces_at,
    xray_result,
)
from tracelens.store import Store

T1, T2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)


def _files(store: Store) -> list[str]:
    return sorted(store.backend.list_keys("spans") + store.backend.list_keys("raw"))


def test_the_same_result_stored_twice_rewrites_the_same_files(store: Store) -> None:
    result = xray_result(traces_at([T1, T2]))
    first = store.persist(result, account=ACCOUNT, region=REGION)
    files = _files(store)

    second = store.persist(result, account=ACCOUNT, region=REGION)

    assert (second.raw_key, second.part_keys) == (first.raw_key, first.part_keys)
    assert _files(store) == files
    inputs, _ = store.load_inputs()
    assert inputs.traces.spans.height == 2 * SPANS_PER_TRACE
    assert inputs.traces.duplicates == 0


def test_a_window_fetched_again_with_other_pages_adds_no_rows(store: Store) -> None:
    traces = traces_at([T1, T2])
    store.persist(xray_result(traces), account=ACCOUNT, region=REGION)
    again = xray_result(traces, revision=2)  # other summaries: other raw content
    receipt = store.persist(again, account=ACCOUNT, region=REGION)

    inputs, problems = store.load_inputs()

    assert problems == []
    spans_parts = [key for key in receipt.part_keys if key.startswith("spans/")]
    assert len(store.backend.list_keys("spans")) == 2 * len(spans_parts)
    assert receipt.rows == {"spans": 2 * SPANS_PER_TRACE, "trace_reads": 1}
    assert inputs.traces.spans.height == 2 * SPANS_PER_TRACE
    assert inputs.traces.segments == 4
    assert inputs.traces.duplicates == 4
    assert inputs.traces.spans.unique(["trace_id", "id"]).height == 2 * SPANS_PER_TRACE


def test_a_completed_segment_wins_over_an_in_progress_copy_stored_later(store: Store) -> None:
    tid = trace_id(T1, 1)
    complete = lambda_trace(tid, T1)
    in_progress = lambda_trace(tid, T1, in_progress=True)
    store.persist(xray_result([(tid, complete)]), account=ACCOUNT, region=REGION)
    store.persist(xray_result([(tid, in_progress)], revision=2), account=ACCOUNT, region=REGION)

    spans = store.load_inputs()[0].traces.spans

    root = spans.filter(pl.col("depth") == 0, pl.col("origin") == "AWS::Lambda")
    assert root.get_column("in_progress").to_list() == [False]
    assert spans.height == SPANS_PER_TRACE


def test_the_completed_copy_stored_later_replaces_the_in_progress_one(store: Store) -> None:
    tid = trace_id(T1, 1)
    store.persist(
        xray_result([(tid, lambda_trace(tid, T1, in_progress=True))], partial=[tid]),
        account=ACCOUNT,
        region=REGION,
    )
    store.persist(
        xray_result([(tid, lambda_trace(tid, T1))], revision=3), account=ACCOUNT, region=REGION
    )

    inputs = store.load_inputs()[0]

    assert inputs.traces.spans.height == SPANS_PER_TRACE
    assert inputs.traces.in_progress == 0
    assert inputs.traces.duplicates == 1


def test_one_trace_split_over_two_pages_of_one_run_is_not_a_duplicate(store: Store) -> None:
    tid = trace_id(T1, 1)
    service, handler = lambda_trace(tid, T1)
    pages = (
        summaries_page([(tid, [])]),
        batch_page([(tid, [service])]),
        batch_page([(tid, [handler])]),
    )
    result = replace(xray_result([]), pages=pages)
    store.persist(result, account=ACCOUNT, region=REGION)
    assert store.load_inputs()[0].traces.spans.height == SPANS_PER_TRACE


def test_metric_datapoints_read_again_keep_the_latest_value(store: Store) -> None:
    first = [metric_series("orders Invocations Sum", {T1: 4.0, T2: 1.0})]
    # the trailing minute was still filling up when first read
    second = [metric_series("orders Invocations Sum", {T2: 7.0, T2 + timedelta(minutes=1): 2.0})]
    store.persist(metrics_result(first), account=ACCOUNT, region=REGION)
    store.persist(metrics_result(second), account=ACCOUNT, region=REGION)

    metrics = store.load_inputs()[0].metrics

    assert metrics is not None
    assert metrics.sort("timestamp").get_column("value").to_list() == [4.0, 7.0, 2.0]


def test_log_lines_read_in_overlapping_windows_are_kept_once(store: Store) -> None:
    lines = invocation_lines("r-1", 12.5, init_ms=None)
    rows = [insights_row(T1, line) for line in lines]
    store.persist(logs_result([insights_page(rows)]), account=ACCOUNT, region=REGION)
    later = rows + [insights_row(T2, line) for line in invocation_lines("r-2", 9.0, init_ms=None)]
    store.persist(logs_result([insights_page(later)]), account=ACCOUNT, region=REGION)

    logs = store.load_inputs()[0].logs

    assert logs is not None
    assert logs.reports.get_column("request_id").sort().to_list() == ["r-1", "r-2"]
    assert logs.events.group_by("kind").len().sort("kind").rows() == [("end", 2), ("start", 2)]


def test_the_latest_function_configuration_wins(store: Store) -> None:
    store.persist(lambda_result({"orders": 512}), account=ACCOUNT, region=REGION)
    store.persist(lambda_result({"orders": 2048}, limit=3000), account=ACCOUNT, region=REGION)

    functions = store.load_inputs()[0].functions

    assert functions is not None
    assert functions.functions.select("function_name", "memory_size_mb").rows() == [
        ("orders", 2048)
    ]
    assert functions.account_concurrency_limit == 3000
