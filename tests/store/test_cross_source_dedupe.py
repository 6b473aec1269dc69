"""Under Transaction Search a segment can reach the store twice: as an X-Ray document from
BatchGetTraces (an indexed trace) and as ``aws/spans`` span records read by the spans
collector, in two runs. The store keeps one copy of each segment, whichever forms arrive and in
whatever order.

The span records here are what OpenTelemetry's Lambda instrumentation exports for the same
traces (``tracelens.samples.otel.span_records``): the function segment and its subsegments,
without the ``AWS::Lambda`` service segment, so the function span names no parent."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from collectors.base import CallStats, RawPage
from collectors.spans import DESTINATION, SPAN_RECORDS, Destination, SpansResult
from tests.builders.results import (
    ACCOUNT,
    REGION,
    SEGMENTS_PER_TRACE,
    SPANS_PER_TRACE,
    T0,
    WINDOW,
    traces_at,
)
from tests.builders.results import xray_result as xray_run
from tracelens.samples.otel import span_records
from tracelens.store import Store

TRACES = traces_at([T0, T0.replace(second=30)])


def _spans_run(records: list[dict[str, Any]]) -> SpansResult:
    """A spans run under Transaction Search holding ``records`` (one GetQueryResults page)."""
    rows = [
        [
            {"field": "@timestamp", "value": "2026-11-20 09:00:00.000"},
            {"field": "@message", "value": json.dumps(record)},
        ]
        for record in records
    ]
    pages = (
        RawPage(
            DESTINATION,
            "xray:GetTraceSegmentDestination",
            {},
            {"Destination": "CloudWatchLogs", "Status": "ACTIVE"},
        ),
        RawPage(
            SPAN_RECORDS,
            "logs:GetQueryResults",
            {"queryId": "q"},
            {"results": rows, "status": "Complete", "statistics": {}},
        ),
    )
    return SpansResult(
        source="spans",
        window=WINDOW,
        pages=pages,
        failures=(),
        warnings=(),
        stats=CallStats(api_calls=len(pages)),
        complete=True,
        destination=Destination("cloudwatch-logs", "ACTIVE", 1.0),
    )


def _records() -> list[dict[str, Any]]:
    return [record for _, documents in TRACES for record in span_records(documents)]


def _spans(store: Store) -> tuple[pl.DataFrame, int]:
    inputs, problems = store.load_inputs()
    assert problems == []
    return inputs.traces.spans, inputs.traces.duplicates


def test_a_segment_read_as_xray_document_and_as_span_records_is_kept_once(store: Store) -> None:
    store.persist(xray_run(TRACES), account=ACCOUNT, region=REGION)
    xray_only, _ = _spans(store)
    assert xray_only.height == SPANS_PER_TRACE * len(TRACES)

    store.persist(_spans_run(_records()), account=ACCOUNT, region=REGION)
    both, duplicates = _spans(store)

    assert both.height == xray_only.height
    assert (
        both.select("trace_id", "id")
        .sort(pl.all())
        .equals(xray_only.select("trace_id", "id").sort(pl.all()))
    )
    # The function segment of each trace was stored in both forms: one copy dropped.
    assert duplicates == (SEGMENTS_PER_TRACE - 1) * len(TRACES)
    _assert_one_tree_per_trace(both)


def test_either_order_and_a_repeated_run_keep_one_copy(store: Store) -> None:
    store.persist(_spans_run(_records()), account=ACCOUNT, region=REGION)
    spans_only, _ = _spans(store)
    assert spans_only.height == (SPANS_PER_TRACE - 1) * len(TRACES)  # no AWS::Lambda segment
    store.persist(xray_run(TRACES), account=ACCOUNT, region=REGION)
    store.persist(_spans_run(_records()), account=ACCOUNT, region=REGION)

    kept, _ = _spans(store)

    assert kept.height == SPANS_PER_TRACE * len(TRACES)
    assert kept.group_by("trace_id", "id").len().get_column("len").max() == 1
    # The span copy stored last names no parent; the X-Ray copy's link to its AWS::Lambda
    # segment is kept (a segment's parent never changes): one tree per trace, not two roots.
    _assert_one_tree_per_trace(kept)


def _assert_one_tree_per_trace(spans: pl.DataFrame) -> None:
    roots = spans.filter((pl.col("depth") == 0) & pl.col("parent_id").is_null())
    assert roots.get_column("origin").to_list() == ["AWS::Lambda"] * len(TRACES)
    functions = spans.filter(pl.col("origin") == "AWS::Lambda::Function")
    assert functions.get_column("parent_id").str.ends_with("aaaaaaaa").all()
