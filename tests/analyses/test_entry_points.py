"""What users see per entry point, per minute, and example traces per service-map node."""

from __future__ import annotations

import polars as pl
import pytest

from analyses.entry_points import ENTRY_POINT_SCHEMA, entry_points, entry_traces
from analyses.invocations import invocations
from analyses.node_examples import node_examples
from analyses.throttles import throttled_attempts
from analyses.timeline import FUNCTION_TIMELINE_SCHEMA, entry_timeline, function_timeline
from tests.builders.spans import T0, SpanBuilder, frame_of
from tracelens.schema import METRIC_SCHEMA, empty_frame

STAGE = "AWS::ApiGateway::Stage"


def _api(b: SpanBuilder, path: str, *, start_s: float, ms: float, status: int = 200,
         method: str = "GET", cold: bool = False, async_after: bool = False) -> str:  # fmt: skip
    """An API Gateway request invoking ``orders`` (cold when asked); a 5xx is a fault, a 429 a
    throttle (and error), another 4xx an error. ``async_after`` adds a cold consumer that
    starts after the response."""
    api = b.caller("shop/prod", origin=STAGE, start_s=start_s, duration_ms=ms)
    row = b.rows[-1]
    row.update(
        http_method=method,
        http_url=f"https://abc.execute-api.eu-west-1.amazonaws.com/prod{path}",
        http_status=status,
        fault=status >= 500,
        error=400 <= status < 500,
        throttle=status == 429,
    )
    call = b.invoke_call(api, "orders", start_s=start_s + 0.001, duration_ms=ms - 2)
    b.lambda_invocation(
        "orders", start_s=start_s + 0.002, duration_ms=ms - 5, trace_id=api.trace_id,
        parent_id=call, init="on_demand" if cold else None,
    )  # fmt: skip
    if async_after:
        b.lambda_invocation(
            "mailer", start_s=start_s + ms / 1000.0 + 0.5, trace_id=api.trace_id,
            parent_id=call, init="on_demand",
        )  # fmt: skip
    return api.trace_id


@pytest.fixture
def spans() -> pl.DataFrame:
    b = SpanBuilder()
    for k in range(20):  # a healthy route; one cold start a user waited for
        _api(b, f"/orders/o-{100000 + k}", start_s=k * 10.0, ms=100.0 + k, cold=k == 3,
             async_after=k == 5)  # fmt: skip
    for k in range(4):  # a failing route: 2 faults, 1 throttle, 1 fine
        _api(b, "/reports/daily", start_s=k * 30.0 + 1, ms=50.0, method="POST",
             status=(500, 503, 429, 200)[k])  # fmt: skip
    # an event consumer: a Lambda root without an HTTP request
    b.lambda_invocation("worker", start_s=5.0, duration_ms=40.0)
    b.span(kind="segment", depth=0, trace_id=b.new_trace(), name="x", origin=STAGE,
           start_s=7.0, duration_ms=None, in_progress=True)  # fmt: skip
    return b.frame()


def test_entry_points_are_named_typed_counted_and_sorted_by_user_impact(
    spans: pl.DataFrame,
) -> None:
    table = entry_points(entry_traces(spans))
    assert table.schema == pl.Schema(ENTRY_POINT_SCHEMA)
    rows = {r["entry"]: r for r in table.to_dicts()}
    assert table["entry"].to_list()[:2] == [
        "shop/prod POST /reports/daily",
        "shop/prod GET /orders/{id}",
    ]
    failing = rows["shop/prod POST /reports/daily"]
    assert (failing["requests"], failing["faults"], failing["throttled"], failing["errors"]) == (
        4, 2, 1, 1,
    )  # fmt: skip
    assert failing["failed"] == 3 and failing["fault_rate"] == pytest.approx(0.5)
    assert failing["failed_trace_id"] is not None
    healthy = rows["shop/prod GET /orders/{id}"]
    assert healthy["entry_type"] == "API route" and healthy["requests"] == 20
    # only the cold start the caller waited for counts; the consumer after the response does not
    assert healthy["cold_start_requests"] == 1
    assert healthy["cold_start_share"] == pytest.approx(0.05)
    durations = [100.0 + k for k in range(20)]
    assert healthy["p50_ms"] == pytest.approx(pl.Series(durations).quantile(0.5, "linear"))
    assert healthy["p99_ms"] == pytest.approx(pl.Series(durations).quantile(0.99, "linear"))
    assert healthy["failed_trace_id"] is None and healthy["slowest_trace_id"] is not None
    assert rows["worker"]["entry_type"] == "event consumer"
    unfinished = rows["x"]
    assert unfinished["in_progress"] == 1 and unfinished["p50_ms"] is None


def test_no_spans_no_entry_points() -> None:
    from tracelens.schema import SPAN_SCHEMA

    assert entry_points(entry_traces(empty_frame(SPAN_SCHEMA))).is_empty()


def test_entry_timeline_counts_per_minute(spans: pl.DataFrame) -> None:
    timeline = entry_timeline(entry_traces(spans))
    daily = timeline.filter(pl.col("entry") == "shop/prod POST /reports/daily")
    assert daily["requests"].sum() == 4 and daily["faults"].sum() == 2
    first = daily.row(0, named=True)
    assert first["minute"] == T0 and first["requests"] == 2 and first["error_rate"] == 1.0


def test_function_timeline_puts_cloudwatch_sums_beside_traced_counts(spans: pl.DataFrame) -> None:
    rows = invocations(spans)
    metrics = frame_of(
        [
            {"function_name": "orders", "metric": "Invocations", "stat": "Sum", "timestamp": T0,
             "value": 80.0},
            {"function_name": "orders", "metric": "Throttles", "stat": "Sum", "timestamp": T0,
             "value": 3.0},
        ],
        METRIC_SCHEMA,
    )  # fmt: skip
    with_metrics = function_timeline(rows, throttled_attempts(spans), metrics=metrics)
    assert with_metrics.schema == pl.Schema(FUNCTION_TIMELINE_SCHEMA)
    orders = with_metrics.filter(pl.col("function_name") == "orders").row(0, named=True)
    assert orders["minute"] == T0 and orders["invocations"] == 8  # 6 GETs, 2 POSTs
    assert (orders["cw_invocations"], orders["cw_throttles"]) == (80.0, 3.0)
    assert orders["cw_errors"] is None  # no Errors metric for it: unknown
    # a function the metrics do not cover is unknown there, not zero
    worker = with_metrics.filter(pl.col("function_name") == "worker").row(0, named=True)
    assert worker["cw_invocations"] is None
    without = function_timeline(rows, throttled_attempts(spans))
    assert without["cw_invocations"].null_count() == without.height


def test_node_examples_name_the_slowest_and_failing_traces(spans: pl.DataFrame) -> None:
    examples = node_examples(spans, per_node=2)
    stage = examples.filter((pl.col("name") == "shop/prod") & (pl.col("type") == STAGE))
    slowest = stage.filter(pl.col("why") == "slowest")
    assert slowest["duration_ms"].to_list() == [119.0, 118.0]
    failed = stage.filter(pl.col("why") == "failed")
    assert failed.height == 2 and set(failed["status"]) <= {"fault", "throttle", "error"}
    with pytest.raises(ValueError, match="per_node"):
        node_examples(spans, per_node=0)


def test_node_examples_are_exact_when_one_trace_holds_the_slowest_requests() -> None:
    # Only the slowest requests of each node are ranked: here one trace holds more of them
    # than are kept, and the failed ones have no duration; the examples are still the same
    # as ranking every request.
    b = SpanBuilder()
    hog = b.new_trace()
    for k in range(200):
        b.caller("api", trace_id=hog, start_s=k, duration_ms=900.0 + k)
    for k in range(50):
        b.caller("api", start_s=k, duration_ms=100.0 + k)
    failing = [b.new_trace() for _ in range(3)]
    for trace in failing:
        b.span(kind="segment", depth=0, trace_id=trace, name="api", origin="AWS::EC2::Instance",
               start_s=1.0, duration_ms=None, in_progress=True, fault=True)  # fmt: skip
    examples = node_examples(b.frame(), per_node=2)
    api = examples.filter(pl.col("type") == "AWS::EC2::Instance")
    slowest = api.filter(pl.col("why") == "slowest")
    assert slowest["duration_ms"].to_list() == [1099.0, 149.0]
    assert slowest["trace_id"][0] == hog
    failed = api.filter(pl.col("why") == "failed")
    assert failed["trace_id"].to_list() == sorted(failing)[:2]
    assert failed["duration_ms"].null_count() == 2


def test_long_windows_are_drawn_in_wider_buckets() -> None:
    from tracelens.analysis import MAX_TIME_BUCKETS, timeline_bucket_s

    def spans_over(minutes: int) -> pl.DataFrame:
        b = SpanBuilder()
        b.caller("a", start_s=0.0)
        b.caller("a", start_s=minutes * 60.0 - 1)
        return b.frame()

    assert timeline_bucket_s(spans_over(60)) == 60
    assert timeline_bucket_s(spans_over(MAX_TIME_BUCKETS)) == 60
    assert timeline_bucket_s(spans_over(25 * 60)) == 180  # 1,500 minutes: at most 720 buckets


def test_a_lambda_root_without_its_own_execution_has_no_path_from_another_function() -> None:
    # NOTE: the root's request was refused (429): the only execution in the trace is another
    # function's, run from an asynchronous event; it says nothing of who waited for the root.
    b = SpanBuilder()
    root = b.throttled_request("front", start_s=0.0)
    trace = next(row["trace_id"] for row in b.rows if row["id"] == root)
    before = len(b.rows)
    b.async_event("worker", start_s=0.5, failed=[False])
    for row in b.rows[before:]:
        row["trace_id"] = trace
    per_trace = entry_traces(b.frame()).filter(pl.col("trace_id") == trace)
    assert per_trace.select("entry", "invocation_path").rows() == [("front", None)]
