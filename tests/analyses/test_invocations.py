from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import analyses.invocations as inv
from analyses._tree import ids_repeat
from analyses.invocations import INVOCATION_SCHEMA, invocations
from tests.builders.spans import SpanBuilder, at
from tracelens.ingest.loader import load_traces


def _one(frame: pl.DataFrame) -> dict[str, object]:
    assert frame.height == 1
    return frame.row(0, named=True)


def test_no_spans_gives_empty_frame_with_schema() -> None:
    result = invocations(SpanBuilder().frame())
    assert result.is_empty()
    assert dict(result.schema) == INVOCATION_SCHEMA


def test_spans_without_lambda_give_empty_frame() -> None:
    b = SpanBuilder()
    app = b.caller("web")
    b.span(
        trace_id=app.trace_id,
        parent_id=app.segment_id,
        segment_id=app.segment_id,
        name="DynamoDB",
        namespace="aws",
        start_s=0.1,
        duration_ms=4,
    )
    result = invocations(b.frame())
    assert result.is_empty()
    assert dict(result.schema) == INVOCATION_SCHEMA


def test_warm_invocation_takes_request_id_from_service_segment() -> None:
    b = SpanBuilder()
    inv = b.lambda_invocation("orders", start_s=1.0, duration_ms=42.5, request_id="r-1")
    row = _one(invocations(b.frame()))
    assert row["trace_id"] == inv.trace_id
    assert row["segment_id"] == inv.function_id
    assert row["function_name"] == "orders"
    assert row["request_id"] == "r-1"
    assert row["start_time"] == at(1.0)
    assert row["duration_ms"] == 42.5
    assert row["cold"] is False
    assert row["cold_kind"] is None
    assert row["init_ms"] is None
    assert row["init_gap_ms"] is None
    assert (row["error"], row["fault"], row["throttle"]) == (False, False, False)


def test_on_demand_cold_start() -> None:
    b = SpanBuilder()
    b.lambda_invocation("orders", start_s=1.0, init="on_demand", init_ms=250.0, init_gap_ms=11.0)
    row = _one(invocations(b.frame()))
    assert row["cold"] is True
    assert row["cold_kind"] == "on_demand"
    assert row["init_ms"] == 250.0
    assert row["init_gap_ms"] == pytest.approx(11.0)


def test_init_overlapping_segment_start_is_on_demand_with_negative_gap() -> None:
    b = SpanBuilder()
    b.lambda_invocation("orders", start_s=1.0, init="on_demand", init_ms=300.0, init_gap_ms=-5.0)
    row = _one(invocations(b.frame()))
    assert row["cold_kind"] == "on_demand"
    assert row["init_gap_ms"] == pytest.approx(-5.0)


@pytest.mark.parametrize(
    ("gap_ms", "kind"),
    [(100.0, "on_demand"), (100.5, "provisioned"), (600_000.0, "provisioned")],
)
def test_provisioned_when_init_ended_long_before(gap_ms: float, kind: str) -> None:
    b = SpanBuilder()
    b.lambda_invocation(
        "orders", start_s=900.0, init="provisioned", init_ms=800.0, init_gap_ms=gap_ms
    )
    row = _one(invocations(b.frame()))
    assert row["cold"] is True
    assert row["cold_kind"] == kind
    assert row["init_ms"] == 800.0
    assert row["init_gap_ms"] == pytest.approx(gap_ms)


def test_provisioned_gap_is_a_parameter() -> None:
    b = SpanBuilder()
    b.lambda_invocation("orders", start_s=9.0, init="provisioned", init_ms=80.0, init_gap_ms=500.0)
    assert _one(invocations(b.frame(), provisioned_gap_ms=1000.0))["cold_kind"] == "on_demand"


def test_snapstart_restore() -> None:
    b = SpanBuilder()
    b.lambda_invocation("java-fn", start_s=2.0, init="snapstart", init_ms=180.0)
    row = _one(invocations(b.frame()))
    assert row["cold"] is True
    assert row["cold_kind"] == "snapstart"
    assert row["init_ms"] == 180.0


def test_in_progress_function_segment() -> None:
    b = SpanBuilder()
    b.lambda_invocation("slow", start_s=3.0, duration_ms=None, init="on_demand", init_ms=100.0)
    row = _one(invocations(b.frame()))
    assert row["in_progress"] is True
    assert row["end_time"] is None
    assert row["duration_ms"] is None
    assert row["cold_kind"] == "on_demand"


def test_flags_combine_function_and_service_segments() -> None:
    b = SpanBuilder()
    b.lambda_invocation("a", start_s=0.0, fault=True)
    inv = b.lambda_invocation("b", start_s=1.0)
    for row in b.rows:
        if row["id"] == inv.service_id:
            row["error"] = True
    result = invocations(b.frame())
    assert result.select("function_name", "error", "fault").rows() == [
        ("a", False, True),
        ("b", True, False),
    ]


def test_missing_service_segment_and_name_fall_back_to_function_columns() -> None:
    b = SpanBuilder()
    inv = b.lambda_invocation("orders", start_s=0.0)
    b.rows = [r for r in b.rows if r["id"] != inv.service_id]
    for row in b.rows:
        if row["id"] == inv.function_id:
            row.update(name=None, aws_request_id="own-id")
    row = _one(invocations(b.frame()))
    assert row["function_name"] == "orders"
    assert row["request_id"] == "own-id"


def test_rows_are_ordered_by_start_and_schema_conforms() -> None:
    b = SpanBuilder()
    for start in (5.0, 1.0, 3.0):
        b.lambda_invocation("f", start_s=start)
    result = invocations(b.frame())
    assert dict(result.schema) == INVOCATION_SCHEMA
    assert result["start_time"].to_list() == [at(1.0), at(3.0), at(5.0)]


def test_frame_without_span_columns_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="spans frame is missing columns"):
        invocations(pl.DataFrame({"id": ["a"]}))


def _set(b: SpanBuilder, span_id: str, **fields: object) -> None:
    next(row for row in b.rows if row["id"] == span_id).update(fields)


def _paths(b: SpanBuilder) -> dict[str, str]:
    return dict(invocations(b.frame()).select("function_name", "invocation_path").iter_rows())


def test_sqs_event_source_invocations_are_off_the_callers_path() -> None:
    b = SpanBuilder()
    # The producer's API answers 80 ms after sending; the poller starts the consumer at 20 ms.
    api = b.caller("orders-api/prod", origin="AWS::ApiGateway::Stage", duration_ms=120.0)
    send = b.aws_call(api, "SQS", "SendMessage", resource="order-events", start_s=0.01)
    # 1. same trace: the consumer's AWS::Lambda segment hangs from the SendMessage subsegment
    b.lambda_invocation("fulfiller", start_s=0.03, trace_id=api.trace_id, parent_id=send)
    # 2. X-Ray trace linking: a trace of its own, its AWS::Lambda segment linked from a parent
    linked = b.lambda_invocation("invoicer", start_s=0.04)
    _set(b, linked.service_id, trigger="sqs")
    # 3. OpenTelemetry: the batch's CONSUMER span under the function span says faas.trigger
    otel = b.span(
        kind="segment",
        depth=0,
        trace_id=b.new_trace(),
        name="mailer",
        origin="AWS::Lambda::Function",
        start_s=0.05,
        duration_ms=30.0,
    )
    b.span(
        trace_id=b.rows[-1]["trace_id"],
        parent_id=otel,
        segment_id=otel,
        name="order-events process",
        start_s=0.051,
        duration_ms=20.0,
        trigger="sqs",
    )
    # 4. OpenTelemetry: SNS delivers events (Lambda's asynchronous invoke): async, whether the
    # function span or the span under it says so
    sns = b.lambda_invocation("notifier", start_s=0.06)
    _set(b, sns.function_id, trigger="pubsub")
    scheduled = b.lambda_invocation("cleaner", start_s=0.065)
    _set(b, scheduled.handler_id, trigger="timer")
    # 5. the same function invoked synchronously by a client stays user-facing
    b.lambda_invocation("reporter", start_s=0.07)
    assert _paths(b) == {
        "fulfiller": "event_source",
        "invoicer": "event_source",
        "mailer": "event_source",
        "notifier": "async",
        "cleaner": "async",
        "reporter": "sync",
    }


def test_a_trace_starting_at_a_queue_is_an_event_source_invocation() -> None:
    b = SpanBuilder()
    queue = b.caller("jobs", origin="AWS::SQS::Queue", duration_ms=5.0)
    b.lambda_invocation("worker", start_s=0.01, parent_id=queue.segment_id, trace_id=queue.trace_id)
    assert _paths(b) == {"worker": "event_source"}


SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"


@pytest.mark.parametrize(
    "paths",
    [
        [SAMPLES / "xray"],
        sorted((SAMPLES / "real_world").glob("*.json*")),
    ],
    ids=["xray", "real_world"],
)
def test_parent_links_give_the_rows_the_joins_on_ids_give(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = load_traces(paths).spans
    assert not ids_repeat(spans)
    assert inv._linked_functions(spans) is not None
    linked = invocations(spans)
    monkeypatch.setattr(inv, "_linked_functions", lambda _spans: None)
    assert_frame_equal(invocations(spans), linked)
    assert linked.height > 0


def _async_event_spans(*, attempt_under: str) -> pl.DataFrame:
    b = SpanBuilder()
    b.async_event("thumbs", start_s=1.0, failed=[True, False])
    b.lambda_invocation("orders", start_s=5.0, duration_ms=20.0, request_id="r-1")
    if attempt_under == "dwell":
        # The attempts hang under the Dwell Time subsegment: only their segment_id names
        # their AWS::Lambda segment.
        dwell = next(row["id"] for row in b.rows if row["name"] == "Dwell Time")
        for row in b.rows:
            if str(row["name"]).startswith("Attempt #"):
                row["parent_id"] = dwell
    return b.frame()


@pytest.mark.parametrize("attempt_under", ["segment", "dwell"])
def test_attempt_parents_are_mapped_to_their_segment(attempt_under: str) -> None:
    spans = _async_event_spans(attempt_under=attempt_under)
    linked = inv._linked_functions(spans)
    assert (linked is None) == (attempt_under == "dwell")
    rows = invocations(spans).sort("start_time")
    assert rows.select("function_name", "request_id", "invocation_path", "fault").rows() == [
        ("thumbs", "event-2", "async", True),
        ("thumbs", "event-2", "async", False),
        ("orders", "r-1", "sync", False),
    ]


def test_repeated_ids_join_on_ids() -> None:
    b = SpanBuilder()
    b.lambda_invocation("orders", start_s=1.0, duration_ms=20.0, request_id="r-1")
    spans = b.frame()
    service = spans.filter(pl.col("origin") == "AWS::Lambda")
    spans = pl.concat([spans, service.with_columns(aws_request_id=pl.lit("r-2"))])
    assert ids_repeat(spans)
    # Joined on ids, the function segment meets both copies of its AWS::Lambda segment.
    assert invocations(spans)["request_id"].to_list() == ["r-1", "r-2"]


def test_segments_without_a_trace_id_are_not_joined() -> None:
    b = SpanBuilder()
    b.lambda_invocation("orders", start_s=1.0, duration_ms=20.0, request_id="r-1")
    spans = b.frame().with_columns(trace_id=pl.lit(None, dtype=pl.String))
    # A join on (trace_id, id) matches no null: the AWS::Lambda segment is not found.
    row = _one(invocations(spans))
    assert (row["function_name"], row["request_id"]) == ("orders", None)
