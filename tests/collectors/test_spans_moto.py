"""The spans collector: Transaction Search detected, ``aws/spans`` read for the window (or,
missing or denied under Transaction Search, the window failed with what to do).

moto lacks X-Ray's GetTraceSegmentDestination and GetIndexingRules: those two calls run
through botocore's Stubber with AWS's answers (an exact-call contract), while the span
records are read from moto's Logs Insights over a seeded ``aws/spans`` log group. moto's
Insights ignores ``filter`` (see test_logs_moto.py): the seeded records all lie in the window.
AccessDeniedException comes from a proxy in front of moto, over HTTP.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from collectors.base import Window
from collectors.spans import (
    DESTINATION,
    INDEXING_RULES,
    SPAN_RECORDS,
    SPANS_LOG_GROUP,
    SpansCollector,
    SpansResult,
)
from tests.builders.endpoint import TEST_RETRY, Aws, no_sleep
from tests.builders.fault_proxy import DenyingProxy
from tests.builders.stubbed import answer_destination
from tests.builders.traces import seed_span_records, utc
from tracelens.store import open_store
from tracelens.store.raw import decode

pytestmark = pytest.mark.integration


def _collector(aws: Aws, xray: Any, **kwargs: Any) -> SpansCollector:
    return SpansCollector(
        xray=xray,
        logs=aws.factory().logs(),
        retry=TEST_RETRY,
        sleep=no_sleep,
        poll_interval_s=0.0,
        **kwargs,
    )


def _messages(result: SpansResult) -> list[str]:
    return [
        cell["value"]
        for page in result.pages_of(SPAN_RECORDS)
        for row in page.response["results"]
        for cell in row
        if cell["field"] == "@message"
    ]


def test_under_transaction_search_every_span_of_the_window_is_stored_raw(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    xray, stub = stubbed_xray
    now_s = int(time.time())
    seeded = seed_span_records(aws, (now_s - 1800) * 1000 + 125, 12, first_span_id=0)
    answer_destination(stub, "CloudWatchLogs")

    result = _collector(aws, xray).collect(Window(utc(now_s - 3600), utc(now_s)))

    assert result.complete, result.failures
    assert result.destination.mode == "cloudwatch-logs"
    assert (result.destination.status, result.destination.indexed_percent) == ("ACTIVE", 1.0)
    assert sorted(_messages(result)) == sorted(seeded)
    assert [page.kind for page in result.pages][:2] == [DESTINATION, INDEXING_RULES]
    page = next(result.pages_of(SPAN_RECORDS))
    assert page.request["logGroupNames"] == [SPANS_LOG_GROUP]
    (note,) = result.notes
    assert "Transaction Search on, ACTIVE" in note and "indexes 1% of them" in note


def test_a_declared_destination_reads_aws_spans_without_asking_x_ray(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    # The Stubber holds no answer: any X-Ray call would fail the test.
    xray, _ = stubbed_xray
    now_s = int(time.time())
    seeded = seed_span_records(aws, (now_s - 1800) * 1000 + 125, 3, first_span_id=0)

    result = _collector(aws, xray, destination="CloudWatchLogs").collect(
        Window(utc(now_s - 3600), utc(now_s))
    )

    assert result.complete, result.failures
    assert result.destination.declared and result.destination.mode == "cloudwatch-logs"
    assert sorted(_messages(result)) == sorted(seeded)
    assert not list(result.pages_of(DESTINATION))  # nothing stored as if AWS had said it
    (note,) = result.notes
    assert "declared in the configuration" in note
    assert "GetTraceSegmentDestination not called" in note


def test_a_window_over_the_row_cap_is_read_in_halves_without_losing_a_span(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    xray, stub = stubbed_xray
    now_s = int(time.time())
    seeded = seed_span_records(aws, (now_s - 1800) * 1000 + 125, 12, first_span_id=0)
    answer_destination(stub, "CloudWatchLogs")
    window = Window(utc(now_s - 1800), utc(now_s - 1800 + 20))

    result = _collector(aws, xray, row_cap=5).collect(window)

    assert result.complete and not result.truncated
    assert sorted(_messages(result)) == sorted(seeded)
    assert len(list(result.pages_of(SPAN_RECORDS))) >= 3


def test_when_spans_go_to_xray_nothing_else_is_read(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    xray, stub = stubbed_xray
    now_s = int(time.time())
    seed_span_records(aws, (now_s - 1800) * 1000 + 125, 3, first_span_id=0)
    answer_destination(stub, "XRay")

    result = _collector(aws, xray).collect(Window(utc(now_s - 3600), utc(now_s)))

    assert result.complete and result.destination.mode == "xray"
    assert [page.kind for page in result.pages] == [DESTINATION]
    assert "Transaction Search off" in result.notes[0]


def test_an_endpoint_without_the_destination_api_reads_nothing_and_says_so(aws: Aws) -> None:
    # Stubber: an endpoint that does not offer the call answers 404 UnknownOperationException
    # (moto lacks the call too, but its refusal changed between releases: 404, then 500).
    now_s = int(time.time())
    seed_span_records(aws, (now_s - 1800) * 1000 + 125, 3, first_span_id=0)
    xray = aws.factory().xray()
    with Stubber(xray) as stub:
        stub.add_client_error(
            "get_trace_segment_destination",
            service_error_code="UnknownOperationException",
            http_status_code=404,
        )
        result = _collector(aws, xray).collect(Window(utc(now_s - 3600), utc(now_s)))

    assert result.complete and result.destination.mode == "unknown"
    assert not result.pages
    assert "not offered by the endpoint" in result.notes[0]
    assert "allow xray:GetTraceSegmentDestination" in result.notes[0]


def test_a_destination_answer_cut_short_fails_the_window(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    xray, stub = stubbed_xray
    for _ in range(TEST_RETRY.call_attempts):
        stub.add_response("get_trace_segment_destination", {"Status": "ACTIVE"}, {})
    now_s = int(time.time())

    result = _collector(aws, xray).collect(Window(utc(now_s - 3600), utc(now_s)))

    assert not result.complete
    assert [f.code for f in result.failures] == ["IncompleteResponse"]
    assert result.destination.mode == "unknown"


def test_span_pages_are_stored_raw_and_as_spans_and_the_checkpoint_advances(
    aws: Aws, stubbed_xray: tuple[Any, Stubber], tmp_path: Path
) -> None:
    xray, stub = stubbed_xray
    now_s = int(time.time())
    seeded = seed_span_records(aws, (now_s - 1800) * 1000 + 125, 4, first_span_id=0)
    answer_destination(stub, "CloudWatchLogs")
    result = _collector(aws, xray).collect(Window(utc(now_s - 3600), utc(now_s)))
    store = open_store(tmp_path / "store")

    receipt = store.persist(result, account="test", region="us-east-1")
    store.advance(receipt)

    (raw,) = (tmp_path / "store" / "raw" / "spans").rglob("*.json.gz")
    kept = decode(raw.read_bytes(), str(raw))
    stored = [
        cell["value"]
        for page in kept.pages
        if page.kind == SPAN_RECORDS
        for row in page.response["results"]
        for cell in row
        if cell["field"] == "@message"
    ]
    assert sorted(stored) == sorted(seeded)
    assert receipt.items == len(seeded)  # normalized into the span table, one row a record
    inputs, problems = store.load_inputs()
    assert not problems
    assert inputs.traces.traces == len(seeded)  # one single-span trace per record
    checkpoint = store.checkpoint("spans", "test", "us-east-1")
    assert checkpoint is not None and checkpoint.window_end == result.window.end  # type: ignore[union-attr]


def test_under_transaction_search_a_missing_aws_spans_fails_the_window_with_the_fix(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    xray, stub = stubbed_xray
    answer_destination(
        stub, "CloudWatchLogs"
    )  # ACTIVE, and no aws/spans: X-Ray creates it when turned on
    now_s = int(time.time())

    result = _collector(aws, xray).collect(Window(utc(now_s - 3600), utc(now_s)))

    assert not result.complete
    (failure,) = result.failures
    assert (failure.api, failure.key, failure.code) == (
        "logs:StartQuery",
        SPANS_LOG_GROUP,
        "ResourceNotFoundException",
    )
    assert failure.message == (
        "no such group though traces go to CloudWatch Logs (ACTIVE): turn Transaction Search "
        'on, or declare [collectors.spans] destination = "XRay"'
    )
    assert not any(SPANS_LOG_GROUP in warning for warning in result.warnings)


def test_while_the_switch_is_pending_a_missing_aws_spans_is_a_warning(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    xray, stub = stubbed_xray
    answer_destination(stub, "CloudWatchLogs", "PENDING")
    now_s = int(time.time())

    result = _collector(aws, xray).collect(Window(utc(now_s - 3600), utc(now_s)))

    assert result.complete and result.failures == ()
    assert "log group aws/spans does not exist (no logs yet)" in result.warnings


def test_a_denied_aws_spans_fails_the_window_naming_the_actions_to_allow(aws: Aws) -> None:
    now_s = int(time.time())
    seed_span_records(aws, (now_s - 1800) * 1000 + 125, 2, first_span_id=0)

    with DenyingProxy(aws.url, services={"logs"}) as proxy:
        collector = SpansCollector(
            xray=aws.factory().xray(),
            logs=aws.factory(proxy.url).logs(),
            retry=TEST_RETRY,
            sleep=no_sleep,
            destination="CloudWatchLogs",
        )
        result = collector.collect(Window(utc(now_s - 3600), utc(now_s)))

    assert not result.complete and result.pages == ()
    (failure,) = result.failures
    assert (failure.api, failure.key, failure.code) == (
        "logs:FilterLogEvents",  # StartQuery was denied first
        SPANS_LOG_GROUP,
        "AccessDeniedException",
    )
    assert failure.message.startswith(
        "allow logs:StartQuery, logs:FilterLogEvents on aws/spans (User: arn:aws:sts::"
    )
