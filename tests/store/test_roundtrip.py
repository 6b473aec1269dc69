"""Persist collector results, load them back as analysis inputs."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timedelta

import polars as pl
import pytest

from tests.builders.results import (
    ACCOUNT,
    REGION,
    SPANS_PER_TRACE,
    T0,
    WINDOW,
    filter_events_page,
    insights_page,
    insights_row,
    invocation_lines,
    lambda_result,
    logs_result,
    metric_series,
    metrics_result,
    traces_at,
    xray_result,
)
from tracelens.ingest.normalize import normalize_documents
from tracelens.schema import (
    FUNCTION_SCHEMA,
    LOG_EVENT_SCHEMA,
    METRIC_SCHEMA,
    REPORT_SCHEMA,
    SPAN_SCHEMA,
)
from tracelens.store import Store


def _minutes(*offsets: int) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in offsets]


def test_xray_pages_load_as_the_span_frame_the_ingest_builds(store: Store) -> None:
    traces = traces_at(_minutes(1, 2, 3, 4, 5, 6, 7))
    receipt = store.persist(xray_result(traces), account=ACCOUNT, region=REGION)
    assert receipt.raw_key is not None

    inputs, problems = store.load_inputs()

    assert problems == []
    assert receipt.rows == {"spans": 7 * SPANS_PER_TRACE, "trace_reads": 1}
    digest = receipt.raw_key.split("/")[-1][:24]
    spans_keys = [key for key in receipt.part_keys if key.startswith("spans/")]
    assert spans_keys  # one part per trace-id bucket the traces fall in
    for key in spans_keys:
        assert re.fullmatch(rf"spans/date=2026-11-20/bucket=\d\d/part-{digest}\.parquet", key)
    spans = inputs.traces.spans
    assert spans.schema == pl.Schema(SPAN_SCHEMA)
    expected = normalize_documents([d for _, docs in traces for d in docs])
    assert spans.sort("trace_id", "id").equals(expected.sort("trace_id", "id"))
    assert inputs.traces.traces == 7
    assert inputs.traces.segments == 14
    assert inputs.traces.duplicates == 0
    assert inputs.region == REGION
    assert inputs.logs is None and inputs.metrics is None and inputs.functions is None


def test_sample_traces_round_trip_through_batch_get_traces_pages(store: Store) -> None:
    samples = pytest.importorskip("tracelens.samples.generate")
    sample = samples.generate(samples.SampleConfig(traces=60))
    traces = [(tid, list(docs)) for tid, docs in sample.traces]
    store.persist(xray_result(traces), account=ACCOUNT, region=REGION)

    inputs, problems = store.load_inputs()

    assert problems == []
    expected = normalize_documents([d for _, docs in traces for d in docs])
    assert inputs.traces.traces == 60
    assert inputs.traces.spans.sort("trace_id", "id").equals(expected.sort("trace_id", "id"))


def test_raw_pages_are_kept_as_received_in_gzip_json(store: Store) -> None:
    traces = traces_at(_minutes(1))
    result = xray_result(traces)
    receipt = store.persist(result, account=ACCOUNT, region=REGION)
    assert receipt.raw_key is not None

    envelope = json.loads(gzip.decompress(store.backend.read_bytes(receipt.raw_key)))

    assert receipt.raw_key.startswith("raw/xray/date=2026-11-20/")
    assert envelope["account"] == ACCOUNT and envelope["region"] == REGION
    assert envelope["window"] == WINDOW.as_dict()
    stored = envelope["pages"][1]
    assert stored["kind"] == "xray.batch_get_traces"
    assert stored["response"] == result.pages[1].response  # documents are JSON strings
    summaries = envelope["pages"][0]
    assert summaries["request"]["StartTime"] == "2026-11-20T09:00:00+00:00"


def test_metric_datapoints_load_with_their_labels(store: Store) -> None:
    t1, t2 = _minutes(1, 2)
    series = [
        metric_series("orders Invocations Sum", {t1: 4.0, t2: 6.0}, 0),
        metric_series("(account) ConcurrentExecutions Maximum", {t1: 3.0}, 1),
    ]
    store.persist(metrics_result(series), account=ACCOUNT, region=REGION)

    inputs, problems = store.load_inputs()

    assert problems == []
    assert inputs.metrics is not None
    assert inputs.metrics.schema == pl.Schema(METRIC_SCHEMA)
    rows = inputs.metrics.sort("timestamp", "metric").rows()
    assert rows == [
        (None, "ConcurrentExecutions", "Maximum", t1, 3.0),
        ("orders", "Invocations", "Sum", t1, 4.0),
        ("orders", "Invocations", "Sum", t2, 6.0),
    ]


def test_logs_from_insights_and_filter_log_events_name_their_function(store: Store) -> None:
    t1, t2 = _minutes(1, 2)
    rows = [insights_row(t1, line) for line in invocation_lines("r-1", 12.5, init_ms=180.0)]
    events = [(t2, line) for line in invocation_lines("r-2", 40.0, init_ms=None)]
    events.append((t2, "2026-11-20T09:02:00Z r-2 getaddrinfo EAI_AGAIN api.example.com"))
    result = logs_result([insights_page(rows), filter_events_page("payments", events)])
    store.persist(result, account=ACCOUNT, region=REGION)

    inputs, problems = store.load_inputs()

    assert problems == []
    assert inputs.logs is not None
    reports = inputs.logs.reports.sort("request_id")
    assert reports.schema == pl.Schema(REPORT_SCHEMA)
    assert reports.select(
        "function_name", "request_id", "duration_ms", "init_duration_ms"
    ).rows() == [
        ("orders", "r-1", 12.5, 180.0),
        ("payments", "r-2", 40.0, None),
    ]
    events_frame = inputs.logs.events
    assert events_frame.schema == pl.Schema(LOG_EVENT_SCHEMA)
    kinds = events_frame.group_by("function_name", "kind").len().sort("function_name", "kind")
    assert kinds.rows() == [
        ("orders", "end", 1),
        ("orders", "start", 1),
        ("payments", "dns_failure", 1),
        ("payments", "end", 1),
        ("payments", "start", 1),
    ]


def test_function_configuration_and_account_limits_load(store: Store) -> None:
    result = lambda_result({"orders": 512, "payments": 1024}, reserved={"payments": 20})
    store.persist(result, account=ACCOUNT, region=REGION)

    inputs, problems = store.load_inputs()

    assert problems == []
    assert inputs.functions is not None
    functions = inputs.functions.functions
    assert functions.schema == pl.Schema(FUNCTION_SCHEMA)
    assert functions.select("function_name", "memory_size_mb", "reserved_concurrency").rows() == [
        ("orders", 512, None),
        ("payments", 1024, 20),
    ]
    assert inputs.functions.account_concurrency_limit == 1000
    assert inputs.functions.unreserved_concurrency_limit == 900


def test_a_run_without_pages_writes_nothing(store: Store) -> None:
    receipt = store.persist(xray_result([]), account=ACCOUNT, region=REGION)
    assert receipt.part_keys == ()
    assert receipt.rows == {}
    empty = metrics_result([])
    receipt = store.persist(empty, account=ACCOUNT, region=REGION)
    assert receipt.raw_key is not None and receipt.part_keys == ()


def test_account_and_region_filters(store: Store) -> None:
    store.persist(xray_result(traces_at(_minutes(1))), account=ACCOUNT, region=REGION)
    other = traces_at(_minutes(2), first=50)
    store.persist(xray_result(other), account="210987654321", region="eu-west-1")

    everything, _ = store.load_inputs()
    ireland, _ = store.load_inputs(region="eu-west-1")
    mine, _ = store.load_inputs(account=ACCOUNT)

    assert everything.traces.traces == 2 and everything.region is None
    assert ireland.traces.spans.get_column("trace_id").unique().to_list() == [other[0][0]]
    assert ireland.region == "eu-west-1"
    assert mine.traces.traces == 1 and mine.region == REGION


def test_time_range_keeps_whole_traces_starting_inside_it(store: Store) -> None:
    traces = traces_at(_minutes(1, 3, 5))
    store.persist(xray_result(traces), account=ACCOUNT, region=REGION)
    t1, t2 = _minutes(1, 2)
    store.persist(
        metrics_result([metric_series("orders Errors Sum", {t1: 1.0, t2: 2.0})]),
        account=ACCOUNT,
        region=REGION,
    )

    inputs, _ = store.load_inputs(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5))

    assert inputs.traces.spans.get_column("trace_id").unique().to_list() == [traces[1][0]]
    assert inputs.traces.spans.height == SPANS_PER_TRACE
    assert inputs.metrics is not None
    assert inputs.metrics.get_column("value").to_list() == [2.0]


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        store.load_inputs(since=T0.replace(tzinfo=None))
