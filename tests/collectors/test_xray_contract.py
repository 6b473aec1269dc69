"""X-Ray collector contracts with botocore's Stubber: paging, batches of five ids, unprocessed and partial traces, rejected ranges, throttling (moto answers none of these the way X-Ray does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from collectors.base import Window
from collectors.xray import TRACES, XRayCollector
from tests.builders.stubbed import HOUR, RETRY, stubbed_client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def xray(sleeps: list[float]) -> Iterator[tuple[XRayCollector, Stubber]]:
    client = stubbed_client("xray")
    with Stubber(client) as stub:
        yield XRayCollector(client=client, retry=RETRY, sleep=sleeps.append), stub
        stub.assert_no_pending_responses()


def _tid(n: int) -> str:
    return f"1-66322a40-{n:024x}"


def _summary(n: int, *, revision: int = 1, partial: bool = False) -> dict[str, Any]:
    return {"Id": _tid(n), "Revision": revision, "IsPartial": partial}


def _trace(n: int, **extra: Any) -> dict[str, Any]:
    document = json.dumps({"id": f"{n:016x}", "trace_id": _tid(n), "name": "f"})
    return {
        "Id": _tid(n),
        "Duration": 0.1,
        "Segments": [{"Id": f"{n:016x}", "Document": document}],
        **extra,
    }


def _summaries_call(
    stub: Stubber,
    window: Window,
    ids: list[dict[str, Any]],
    token: str | None = None,
    next_token: str | None = None,
) -> None:
    params: dict[str, Any] = {
        "StartTime": window.start,
        "EndTime": window.end,
        "TimeRangeType": "TraceId",
    }
    if token:
        params["NextToken"] = token
    response: dict[str, Any] = {"TraceSummaries": ids}
    if next_token:
        response["NextToken"] = next_token
    stub.add_response("get_trace_summaries", response, params)


def test_summaries_follow_next_token_over_the_same_window(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1), _summary(2)], next_token="page-2")
    _summaries_call(stub, HOUR, [_summary(3)], token="page-2")
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(n) for n in (1, 2, 3)]},
        {"TraceIds": [_tid(1), _tid(2), _tid(3)]},
    )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(1), _tid(2), _tid(3)}
    assert [page.kind for page in result.pages] == ["xray.get_trace_summaries"] * 2 + [TRACES]
    assert result.complete
    assert result.stats.api_calls == 3


def test_batches_hold_five_distinct_ids_and_follow_next_token(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    # id 3 is listed twice: it is fetched once
    _summaries_call(stub, HOUR, [_summary(n) for n in (1, 2, 3, 3, 4, 5, 6, 7)])
    first = [_tid(n) for n in (1, 2, 3, 4, 5)]
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(1), _trace(2)], "NextToken": "more"},
        {"TraceIds": first},
    )
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(n) for n in (3, 4, 5)]},
        {"TraceIds": first, "NextToken": "more"},
    )
    stub.add_response(
        "batch_get_traces", {"Traces": [_trace(6), _trace(7)]}, {"TraceIds": [_tid(6), _tid(7)]}
    )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(n) for n in range(1, 8)}
    assert result.complete


def test_unprocessed_ids_are_retried_then_reported(
    xray: tuple[XRayCollector, Stubber], sleeps: list[float]
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1), _summary(2)])
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(1)], "UnprocessedTraceIds": [_tid(2)]},
        {"TraceIds": [_tid(1), _tid(2)]},
    )
    for _ in range(3):
        stub.add_response(
            "batch_get_traces",
            {"Traces": [], "UnprocessedTraceIds": [_tid(2)]},
            {"TraceIds": [_tid(2)]},
        )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(1)}
    assert result.failed_ids == {_tid(2)}
    assert not result.complete
    (failure,) = result.failures
    assert (failure.key, failure.code, failure.retryable) == (_tid(2), "UnprocessedTraceId", True)
    assert len(sleeps) == 3


def test_an_unprocessed_id_fetched_on_retry_is_not_failed(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1), _summary(2)])
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(1)], "UnprocessedTraceIds": [_tid(2)]},
        {"TraceIds": [_tid(1), _tid(2)]},
    )
    stub.add_response(
        "batch_get_traces", {"Traces": [_trace(2, LimitExceeded=True)]}, {"TraceIds": [_tid(2)]}
    )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(1), _tid(2)}
    assert result.limit_exceeded_ids == {_tid(2)}
    assert result.failed_ids == frozenset()
    assert result.complete


def test_partial_traces_are_fetched_again_only_when_their_revision_grows(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(1, revision=1, partial=True)])
    stub.add_response("batch_get_traces", {"Traces": [_trace(1)]}, {"TraceIds": [_tid(1)]})
    first = collector.collect(HOUR)

    _summaries_call(stub, HOUR, [_summary(1, revision=1, partial=True)])
    unchanged = collector.collect(HOUR, partial={_tid(1): first.revisions[_tid(1)]})

    _summaries_call(stub, HOUR, [_summary(1, revision=2)])
    stub.add_response("batch_get_traces", {"Traces": [_trace(1)]}, {"TraceIds": [_tid(1)]})
    completed = collector.collect(HOUR, partial={_tid(1): 1})

    _summaries_call(stub, HOUR, [_summary(1, revision=2)])
    stored = collector.collect(HOUR, known={_tid(1): completed.revisions[_tid(1)]})

    one = frozenset({_tid(1)})
    assert (first.partial_ids, first.trace_ids) == (one, one)
    assert (unchanged.skipped_ids, unchanged.trace_ids) == (one, frozenset())
    assert (completed.partial_ids, completed.trace_ids) == (frozenset(), one)
    assert (stored.skipped_ids, stored.trace_ids) == (one, frozenset())


def test_a_trace_seen_in_two_spans_is_fetched_once(sleeps: list[float]) -> None:
    client = stubbed_client("xray")
    collector = XRayCollector(
        client=client, retry=RETRY, sleep=sleeps.append, max_span=timedelta(minutes=30)
    )
    first, second = HOUR.split(timedelta(minutes=30))
    with Stubber(client) as stub:
        _summaries_call(stub, first, [_summary(1), _summary(2, revision=1)])
        _summaries_call(stub, second, [_summary(2, revision=3), _summary(3)])
        stub.add_response(
            "batch_get_traces",
            {"Traces": [_trace(n) for n in (1, 2, 3)]},
            {"TraceIds": [_tid(1), _tid(2), _tid(3)]},
        )
        result = collector.collect(HOUR)

    assert result.revisions[_tid(2)] == 3
    assert result.trace_ids == {_tid(1), _tid(2), _tid(3)}


def test_a_rejected_range_is_read_in_halves(xray: tuple[XRayCollector, Stubber]) -> None:
    collector, stub = xray
    stub.add_client_error(
        "get_trace_summaries",
        "InvalidRequestException",
        "Time range too large",
        expected_params={"StartTime": HOUR.start, "EndTime": HOUR.end, "TimeRangeType": "TraceId"},
    )
    left, right = HOUR.halves()
    _summaries_call(stub, left, [])
    _summaries_call(stub, right, [])

    result = collector.collect(HOUR)

    assert result.complete
    assert any("reading it in halves" in warning for warning in result.warnings)


def test_throttling_that_outlasts_retries_fails_only_its_batch(
    xray: tuple[XRayCollector, Stubber], sleeps: list[float]
) -> None:
    collector, stub = xray
    _summaries_call(stub, HOUR, [_summary(n) for n in range(10)])
    stub.add_response(
        "batch_get_traces",
        {"Traces": [_trace(n) for n in range(5)]},
        {"TraceIds": [_tid(n) for n in range(5)]},
    )
    for _ in range(3):
        stub.add_client_error(
            "batch_get_traces",
            "ThrottledException",
            "Rate exceeded",
            429,
            response_meta={"RetryAttempts": 1},
        )

    result = collector.collect(HOUR)

    assert result.trace_ids == {_tid(n) for n in range(5)}
    assert result.failed_ids == {_tid(n) for n in range(5, 10)}
    assert not result.complete
    assert all(f.code == "ThrottledException" and f.retryable for f in result.failures)
    assert result.stats.throttles == 3
    # botocore's retry in each of the 3 responses, plus the collector's 2 calls again
    assert result.stats.retries == 3 + 2
    assert sleeps == [RETRY.backoff_s(1), RETRY.backoff_s(2)]


def test_retry_attempts_in_the_response_metadata_are_counted(
    xray: tuple[XRayCollector, Stubber],
) -> None:
    collector, stub = xray
    stub.add_response(
        "get_trace_summaries", {"TraceSummaries": [], "ResponseMetadata": {"RetryAttempts": 2}}
    )

    result = collector.collect(HOUR)

    assert result.stats.retries == 2
    assert result.stats.api_calls == 1


def test_fetch_asks_for_each_id_once(xray: tuple[XRayCollector, Stubber]) -> None:
    collector, stub = xray
    stub.add_response(
        "batch_get_traces", {"Traces": [_trace(1), _trace(2)]}, {"TraceIds": [_tid(1), _tid(2)]}
    )

    result = collector.fetch([_tid(1), _tid(2), _tid(1)])

    assert result.trace_ids == {_tid(1), _tid(2)}
    assert result.window is None
