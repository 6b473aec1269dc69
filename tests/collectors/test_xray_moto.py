"""XRayCollector against moto's X-Ray (summaries and BatchGetTraces over HTTP).

moto 5.2.5 limits what can be shown here (the rest is in test_xray_contract.py):
GetTraceSummaries never paginates and never reports IsPartial/Revision (it lists only traces
whose latest segment has an end_time), and BatchGetTraces neither paginates nor reports
LimitExceeded.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from datetime import timedelta

import pytest

from collectors.base import Window
from collectors.xray import TRACES, XRayCollector, XRayResult
from tests.builders.endpoint import TEST_RETRY, Aws, no_sleep
from tests.builders.traces import SeededTrace, lambda_trace, segments_of, utc
from tracelens.agent.seed import put_segments

pytestmark = pytest.mark.integration


def _collector(aws: Aws, **kwargs: object) -> XRayCollector:
    return XRayCollector(client=aws.factory().xray(), retry=TEST_RETRY, sleep=no_sleep, **kwargs)  # type: ignore[arg-type]


def _traces_in_pages(result: XRayResult) -> Counter[str]:
    return Counter(
        trace["Id"] for page in result.pages_of(TRACES) for trace in page.response["Traces"]
    )


def _seed(aws: Aws, starts_s: list[float], seed: int = 7) -> list[SeededTrace]:
    rng = random.Random(seed)
    traces = [lambda_trace(rng, start, cold=i % 4 == 0) for i, start in enumerate(starts_s)]
    put_segments(aws.client("xray"), segments_of(*traces))
    return traces


def test_every_trace_in_the_window_arrives_once_in_batches_of_five(aws: Aws) -> None:
    now_s = time.time()
    traces = _seed(aws, [now_s - 1500 + 60 * i for i in range(12)])
    outside = _seed(aws, [now_s - 7000], seed=8)  # before the window

    result = _collector(aws).collect(Window(utc(now_s - 1800), utc(now_s)))

    expected = {trace.trace_id for trace in traces}
    assert result.trace_ids == expected
    assert outside[0].trace_id not in result.trace_ids
    assert _traces_in_pages(result) == Counter(dict.fromkeys(expected, 1))
    batches = [page.request["TraceIds"] for page in result.pages_of(TRACES)]
    assert [len(ids) for ids in batches] == [5, 5, 2]
    assert all(len(set(ids)) == len(ids) for ids in batches)
    assert result.complete
    assert result.failures == ()
    assert result.stats.api_calls == 4  # one summaries page, three batches


def test_segment_documents_are_kept_exactly_as_sent(aws: Aws) -> None:
    now_s = time.time()
    (trace,) = _seed(aws, [now_s - 300])

    result = _collector(aws).collect(Window(utc(now_s - 600), utc(now_s)))

    (page,) = result.pages_of(TRACES)
    (fetched,) = page.response["Traces"]
    documents = sorted((json.loads(s["Document"]) for s in fetched["Segments"]), key=str)
    assert documents == sorted(trace.documents, key=str)
    assert "ResponseMetadata" not in page.response


def test_overlapping_windows_do_not_fetch_a_known_trace_twice(aws: Aws) -> None:
    now_s = time.time()
    traces = _seed(aws, [now_s - 3000 + 300 * i for i in range(9)])  # every 5 minutes
    collector = _collector(aws)

    first = collector.collect(Window(utc(now_s - 3600), utc(now_s - 1200)))
    second = collector.collect(
        Window(utc(now_s - 2400), utc(now_s)),
        known={tid: first.revisions[tid] for tid in first.trace_ids},
    )

    ids = [trace.trace_id for trace in traces]
    assert first.trace_ids == set(ids[:6])
    # the second window sees traces 2..8 again; 2..5 are known and skipped
    assert second.skipped_ids == set(ids[2:6])
    assert second.trace_ids == set(ids[6:])
    requested = {tid for page in second.pages_of(TRACES) for tid in page.request["TraceIds"]}
    assert requested == set(ids[6:])


def test_a_long_window_is_read_in_spans_of_at_most_max_span(aws: Aws) -> None:
    now_s = time.time()
    traces = _seed(aws, [now_s - 10_000 + 1800 * i for i in range(5)])

    result = _collector(aws).collect(Window(utc(now_s - 10_800), utc(now_s)))

    spans = [
        page.request["EndTime"] - page.request["StartTime"]
        for page in result.pages_of("xray.get_trace_summaries")
    ]
    assert len(spans) == 3
    assert max(spans) <= timedelta(hours=1)
    assert result.trace_ids == {trace.trace_id for trace in traces}


def test_an_in_progress_trace_is_collected_when_it_completes(aws: Aws) -> None:
    now_s = time.time()
    rng = random.Random(3)
    started = lambda_trace(rng, now_s - 400, in_progress=True)
    put_segments(aws.client("xray"), segments_of(started))
    window = Window(utc(now_s - 600), utc(now_s))
    collector = _collector(aws)

    before = collector.collect(window)
    # NOTE: moto calls a trace finished when its latest-starting segment has an end_time, so
    # the completion arrives as the function's segment (the in-progress one stays stored).
    completed = lambda_trace(random.Random(3), now_s - 400)
    put_segments(
        aws.client("xray"), segments_of(SeededTrace(started.trace_id, completed.documents[1:]))
    )
    after = collector.collect(window, known={tid: 0 for tid in before.trace_ids})

    assert started.trace_id not in before.trace_ids
    assert after.trace_ids == {started.trace_id}
