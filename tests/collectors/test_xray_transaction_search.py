"""Under Transaction Search the X-Ray collector leaves the traces to the spans collector, unless
``aws/spans`` cannot be read.

Trace summaries and traces come from moto's X-Ray over HTTP, and ``aws/spans`` is checked on
moto's CloudWatch Logs (a log group created, or not; AccessDeniedException through a proxy).
moto lacks GetTraceSegmentDestination and GetIndexingRules: those run on a second X-Ray client
through botocore's Stubber with AWS's answers (the shapes of botocore's model: Destination
``XRay``|``CloudWatchLogs``, Status ``PENDING``|``ACTIVE``).
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from botocore.stub import Stubber

from collectors.base import Window
from collectors.spans import SPANS_LOG_GROUP
from collectors.xray import SUMMARIES, TRACES, SpansAlongside, XRayCollector
from tests.builders.endpoint import TEST_RETRY, Aws, no_sleep, recorded_calls
from tests.builders.fault_proxy import DenyingProxy
from tests.builders.stubbed import answer_destination
from tests.builders.traces import SeededTrace, lambda_trace, segments_of, utc
from tracelens.agent.seed import put_segments

pytestmark = pytest.mark.integration


def _seed(aws: Aws, count: int) -> list[SeededTrace]:
    rng = random.Random(11)
    now_s = time.time()
    traces = [lambda_trace(rng, now_s - 1500 + 60 * i) for i in range(count)]
    put_segments(aws.client("xray"), segments_of(*traces))
    return traces


def _spans_group(aws: Aws) -> None:
    """``aws/spans``, as X-Ray creates it when Transaction Search is turned on."""
    aws.client("logs").create_log_group(logGroupName=SPANS_LOG_GROUP)


def _alongside(aws: Aws, xray: Any = None, **options: Any) -> SpansAlongside:
    return SpansAlongside(xray or aws.factory().xray(), aws.factory().logs(), **options)


def _window() -> Window:
    now_s = time.time()
    return Window(utc(now_s - 1800), utc(now_s))


def _collector(aws: Aws, alongside: SpansAlongside | None) -> XRayCollector:
    return XRayCollector(
        client=aws.factory().xray(), retry=TEST_RETRY, sleep=no_sleep, spans_alongside=alongside
    )


def test_transaction_search_active_skips_batch_get_traces_and_says_how_to_undo(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    traces = _seed(aws, 3)
    _spans_group(aws)
    client, stub = stubbed_xray
    answer_destination(stub, "CloudWatchLogs")

    result = _collector(aws, _alongside(aws, client)).collect(_window())

    expected = {trace.trace_id for trace in traces}
    assert list(result.pages_of(TRACES)) == []
    assert result.trace_ids == frozenset()
    assert result.left_to_spans_ids == expected
    # The summaries (all the X-Ray collector reads besides the traces) are read and kept.
    summaries = [
        s["Id"] for page in result.pages_of(SUMMARIES) for s in page.response["TraceSummaries"]
    ]
    assert set(summaries) == expected
    assert result.complete and result.failures == () and result.warnings == ()
    (note,) = result.notes
    assert note == (
        "BatchGetTraces skipped for 3 traces: Transaction Search on (ACTIVE), the spans "
        "collector reads all spans in aws/spans (X-Ray indexes 1%); to fetch them: "
        "[collectors.xray] fetch_indexed = true"
    )
    assert len(note.replace("3 traces", "100000 traces").replace("1%", "100%")) <= 200


@pytest.mark.parametrize(("where", "status"), [("CloudWatchLogs", "PENDING"), ("XRay", "ACTIVE")])
def test_a_pending_switch_or_traces_in_xray_are_fetched(
    aws: Aws, stubbed_xray: tuple[Any, Stubber], where: str, status: str
) -> None:
    traces = _seed(aws, 2)
    _spans_group(aws)
    client, stub = stubbed_xray
    answer_destination(stub, where, status)

    result = _collector(aws, _alongside(aws, client)).collect(_window())

    assert result.trace_ids == {trace.trace_id for trace in traces}
    assert result.left_to_spans_ids == frozenset()
    assert result.notes == ()


def test_an_unreadable_destination_fetches_as_before(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    traces = _seed(aws, 2)
    client, stub = stubbed_xray
    stub.add_client_error(
        "get_trace_segment_destination", "AccessDeniedException", http_status_code=403
    )

    result = _collector(aws, _alongside(aws, client)).collect(_window())

    assert result.trace_ids == {trace.trace_id for trace in traces}
    assert result.notes == ()


def test_fetch_indexed_or_no_spans_collector_fetches_without_asking(aws: Aws) -> None:
    traces = _seed(aws, 2)
    expected = {trace.trace_id for trace in traces}
    # No destination call is stubbed: asking would fail on moto.
    declared = _alongside(aws, declared="CloudWatchLogs", fetch_indexed=True)
    assert _collector(aws, declared).collect(_window()).trace_ids == expected
    assert _collector(aws, None).collect(_window()).trace_ids == expected


def test_a_declared_transaction_search_skips_without_calling(aws: Aws) -> None:
    traces = _seed(aws, 2)
    _spans_group(aws)
    declared = _alongside(aws, declared="CloudWatchLogs")

    result = _collector(aws, declared).collect(_window())

    assert result.left_to_spans_ids == {trace.trace_id for trace in traces}
    assert "Transaction Search on (as declared), the spans collector" in result.notes[0]
    assert "indexes" not in result.notes[0]  # the share is not read
    assert result.stats.api_calls == 2  # GetTraceSummaries, and aws/spans checked


def test_one_destination_answer_serves_the_windows_of_a_few_minutes(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    traces = _seed(aws, 2)
    _spans_group(aws)
    client, stub = stubbed_xray
    answer_destination(
        stub, "CloudWatchLogs"
    )  # one answer: a second read would find no stubbed reply
    moments = iter([utc(1_000.0), utc(1_000.0 + 299.0)])
    alongside = _alongside(aws, client, clock=lambda: next(moments))
    collector = _collector(aws, alongside)

    first, second = collector.collect(_window()), collector.collect(_window())

    expected = {trace.trace_id for trace in traces}
    assert first.left_to_spans_ids == second.left_to_spans_ids == expected
    assert (first.stats.api_calls, second.stats.api_calls) == (4, 1)  # checked once too


def test_a_declared_transaction_search_without_aws_spans_fetches_and_says_what_to_do(
    aws: Aws,
) -> None:
    traces = _seed(aws, 2)  # and no aws/spans: Transaction Search is not on after all
    declared = _alongside(aws, declared="CloudWatchLogs", target="prod/us-east-1")

    result = _collector(aws, declared).collect(_window())

    assert result.trace_ids == {trace.trace_id for trace in traces}
    assert len(list(result.pages_of(TRACES))) == 1
    assert result.left_to_spans_ids == frozenset()
    assert result.notes == () and result.complete
    assert result.warnings == (
        "aws/spans unreadable in prod/us-east-1 (ResourceNotFoundException): indexed traces "
        "fetched; turn Transaction Search on, or set [collectors.xray] fetch_indexed = true",
    )


def test_an_active_transaction_search_whose_aws_spans_is_denied_fetches_and_says_what_to_do(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    traces = _seed(aws, 2)
    _spans_group(aws)
    client, stub = stubbed_xray
    answer_destination(stub, "CloudWatchLogs")

    with DenyingProxy(aws.url, services={"logs"}) as proxy:
        logs = aws.factory(proxy.url).logs()
        alongside = SpansAlongside(client, logs, target="prod/us-east-1")
        result = _collector(aws, alongside).collect(_window())

    assert proxy.injected_count("denied") >= 1
    assert result.trace_ids == {trace.trace_id for trace in traces}
    assert result.left_to_spans_ids == frozenset() and result.notes == ()
    (warning,) = result.warnings
    assert warning.startswith("aws/spans unreadable in prod/us-east-1 (AccessDeniedException)")
    assert "allow logs:StartQuery, logs:FilterLogEvents on aws/spans" in warning
    assert warning.endswith("or set [collectors.xray] fetch_indexed = true")


def test_a_window_without_traces_to_fetch_asks_nothing_of_aws_spans(aws: Aws) -> None:
    _spans_group(aws)
    logs = aws.factory().logs()
    probes = recorded_calls(logs)
    alongside = SpansAlongside(aws.factory().xray(), logs, declared="CloudWatchLogs")
    collector = _collector(aws, alongside)

    quiet = collector.collect(_window())  # no summaries in the window

    # Before: FilterLogEvents on aws/spans ran ahead of the scan (2 calls); now 1.
    assert probes == [] and quiet.stats.api_calls == 1
    assert quiet.notes == () and quiet.warnings == () and quiet.complete


def test_traces_all_held_ask_nothing_of_aws_spans_and_an_unreadable_one_warns_only_when_needed(
    aws: Aws, stubbed_xray: tuple[Any, Stubber]
) -> None:
    traces = _seed(aws, 2)  # and no aws/spans
    held = {trace.trace_id: 1 for trace in traces}
    client, stub = stubbed_xray  # nothing stubbed: the destination is not asked either
    logs = aws.factory().logs()
    probes = recorded_calls(logs)
    alongside = SpansAlongside(client, logs, target="prod/us-east-1")

    result = _collector(aws, alongside).collect(_window(), known=held)

    assert probes == [] and result.skipped_ids == set(held)
    assert result.warnings == () and result.stats.api_calls == 1

    answer_destination(stub, "CloudWatchLogs")
    fetched = _collector(aws, alongside).collect(_window())

    assert probes == ["FilterLogEvents"]
    assert fetched.trace_ids == set(held)
    assert fetched.warnings[0].startswith("aws/spans unreadable in prod/us-east-1")
