"""Rows are partitioned by date; a time range reads only the partitions it touches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.builders.results import (
    ACCOUNT,
    REGION,
    SPANS_PER_TRACE,
    insights_page,
    insights_row,
    invocation_lines,
    lambda_result,
    lambda_trace,
    logs_result,
    metric_series,
    metrics_result,
    trace_id,
    traces_at,
    xray_result,
)
from tracelens.store import Store, layout
from tracelens.store.backend import LocalBackend
from tracelens.store.parts import DAY_LISTINGS, dated_parts, listed_days
from tracelens.store.tables import SPANS

MIDNIGHT = datetime(2026, 11, 21, tzinfo=UTC)
BEFORE, AFTER = MIDNIGHT - timedelta(seconds=30), MIDNIGHT + timedelta(seconds=30)


def test_spans_are_partitioned_by_the_start_date_of_their_trace(store: Store) -> None:
    crossing = trace_id(MIDNIGHT - timedelta(seconds=0.1), 1)
    documents = lambda_trace(crossing, MIDNIGHT - timedelta(seconds=0.1))  # ends after midnight
    traces = [(crossing, documents), *traces_at([AFTER], first=2)]

    receipt = store.persist(xray_result(traces), account=ACCOUNT, region=REGION)

    spans = [key for key in receipt.part_keys if key.startswith("spans/")]
    assert sorted(key.split("/")[1] for key in spans) == [
        "date=2026-11-20",
        "date=2026-11-21",
    ]
    day_one = store.load_inputs(since=MIDNIGHT - timedelta(hours=1), until=MIDNIGHT)[0]
    assert day_one.traces.spans.get_column("trace_id").unique().to_list() == [crossing]
    assert day_one.traces.spans.height == SPANS_PER_TRACE


def test_datapoints_and_log_lines_are_partitioned_by_their_own_date(store: Store) -> None:
    metrics = store.persist(
        metrics_result([metric_series("orders Invocations Sum", {BEFORE: 1.0, AFTER: 2.0})]),
        account=ACCOUNT,
        region=REGION,
    )
    rows = [insights_row(BEFORE, line) for line in invocation_lines("r-1", 5.0, init_ms=None)]
    rows += [insights_row(AFTER, line) for line in invocation_lines("r-2", 6.0, init_ms=None)]
    logs = store.persist(logs_result([insights_page(rows)]), account=ACCOUNT, region=REGION)

    assert [key.split("/")[1] for key in metrics.part_keys] == [
        "date=2026-11-20",
        "date=2026-11-21",
    ]
    assert sorted(key.rsplit("/", 1)[0] for key in logs.part_keys) == [
        "log_events/date=2026-11-20",
        "log_events/date=2026-11-21",
        "log_reports/date=2026-11-20",
        "log_reports/date=2026-11-21",
    ]


def test_a_range_reads_only_its_partitions(store: Store) -> None:
    store.persist(xray_result(traces_at([BEFORE])), account=ACCOUNT, region=REGION)
    receipt = store.persist(
        xray_result(traces_at([AFTER], first=5)), account=ACCOUNT, region=REGION
    )
    (next_day,) = [key for key in receipt.part_keys if key.startswith("spans/")]
    store.backend.write_bytes(next_day, b"damaged")  # would be reported if it were read

    inputs, problems = store.load_inputs(until=MIDNIGHT)
    assert problems == []
    assert inputs.traces.traces == 1

    _, problems = store.load_inputs(since=MIDNIGHT)
    assert [p.location for p in problems] == [store.backend.location(next_day)]


def test_configuration_stored_before_the_range_still_applies(store: Store) -> None:
    store.persist(lambda_result({"orders": 512}), account=ACCOUNT, region=REGION)
    (key,) = store.backend.list_keys("functions")
    assert key.startswith("functions/date=2026-11-20/")  # the day it was stored

    inputs, _ = store.load_inputs(since=MIDNIGHT + timedelta(days=3))

    assert inputs.functions is not None
    assert inputs.functions.functions.get_column("function_name").to_list() == ["orders"]


def test_until_at_midnight_does_not_read_the_next_day(store: Store) -> None:
    receipt = store.persist(xray_result(traces_at([AFTER])), account=ACCOUNT, region=REGION)
    store.backend.write_bytes(receipt.part_keys[0], b"damaged")

    _, problems = store.load_inputs(since=MIDNIGHT - timedelta(days=1), until=MIDNIGHT)

    assert problems == []


def test_a_short_closed_range_lists_its_days_alone_a_longer_or_open_one_the_whole_table(
    tmp_path: Path,
) -> None:
    backend = LocalBackend(tmp_path)
    day = datetime(2026, 11, 20, tzinfo=UTC).date()
    keys = [layout.part_key("spans", day + timedelta(days=n), f"{n:024x}", 3) for n in range(6)]
    for key in keys:
        backend.write_bytes(key, b"x")
    listed: list[str] = []
    list_keys = backend.list_keys

    def listing(prefix: str) -> list[str]:
        listed.append(prefix)
        return list_keys(prefix)

    backend.list_keys = listing  # type: ignore[method-assign]
    last = day + timedelta(days=DAY_LISTINGS - 1)

    assert dated_parts(listed_days(backend, SPANS, day, last), day, last) == keys[:DAY_LISTINGS]
    assert listed == [
        f"spans/date={(day + timedelta(days=n)).isoformat()}" for n in range(DAY_LISTINGS)
    ]
    for first, end in ((day, last + timedelta(days=1)), (None, last), (day, None)):
        listed.clear()
        assert sorted(listed_days(backend, SPANS, first, end)) == keys
        assert listed == ["spans"]
