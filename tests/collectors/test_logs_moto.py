"""LogsInsightsCollector against moto's Logs Insights.

moto 5.2.5 runs only ``fields``, ``sort`` and ``limit``; other commands (``filter``) are
ignored, so every line of the window comes back. It applies ``limit`` but no 10,000-row cap
of its own; the cap split is shown here with a small ``row_cap`` and with the real cap in
test_logs_insights_contract.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from collectors.base import Window
from collectors.logs_insights import QUERY_RESULTS, LogsInsightsCollector, LogsResult
from tests.builders.endpoint import TEST_RETRY, Aws, no_sleep
from tests.builders.traces import utc
from tracelens.agent.seed import put_log_lines

pytestmark = pytest.mark.integration


def _collector(aws: Aws, **kwargs: object) -> LogsInsightsCollector:
    return LogsInsightsCollector(
        client=aws.factory().logs(),
        retry=TEST_RETRY,
        sleep=no_sleep,
        poll_interval_s=0.0,
        **kwargs,  # type: ignore[arg-type]
    )


def _rows(result: LogsResult) -> Counter[tuple[str, str]]:
    """(@log, @message) of every row, counted."""
    rows: Counter[tuple[str, str]] = Counter()
    for page in result.pages_of(QUERY_RESULTS):
        for row in page.response["results"]:
            fields = {cell["field"]: cell["value"] for cell in row}
            rows[(fields["@log"], fields["@message"])] += 1
    return rows


def _platform_lines(request_id: str) -> list[str]:
    return [
        "INIT_START Runtime Version: python:3.12.v18\tRuntime Version ARN: arn:aws:lambda:x",
        f"START RequestId: {request_id} Version: $LATEST",
        "getaddrinfo EAI_AGAIN orders.internal",
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: 15.74 ms\tBilled Duration: 16 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\n"
        "XRAY TraceId: 1-5e1b4151-5ac6c58f3d5f4b7c8e1f2a3b\tSegmentId: 6d8a4b3c2e1f0a9b\t"
        "Sampled: true",
        json.dumps({"type": "platform.start", "record": {"requestId": request_id}}),
        json.dumps(
            {
                "type": "platform.report",
                "record": {
                    "requestId": request_id,
                    "metrics": {"durationMs": 3000.0, "billedDurationMs": 3000},
                    "status": "timeout",
                },
            }
        ),
        f"{request_id} Task timed out after 3.00 seconds",
    ]


def test_platform_lines_arrive_once_with_their_log_group(aws: Aws) -> None:
    now_ms = int(time.time() * 1000)
    logs = aws.client("logs")
    expected: Counter[tuple[str, str]] = Counter()
    for function in ("orders", "payments"):
        lines = _platform_lines(f"{function}-1")
        put_log_lines(
            logs, function, [(now_ms - 600_000 + 1_234 * i, m) for i, m in enumerate(lines)]
        )
        expected.update((f"/aws/lambda/{function}", line) for line in lines)
    put_log_lines(logs, "ignored", [(now_ms - 600_000, "START RequestId: x Version: 1")])

    result = _collector(aws).collect(
        Window(utc(now_ms / 1000 - 1800), utc(now_ms / 1000)), functions=["orders", "payments"]
    )

    assert _rows(result) == expected
    assert result.mode == "insights"
    assert result.complete
    (page,) = result.pages_of(QUERY_RESULTS)
    assert page.response["status"] == "Complete"
    assert page.request["logGroupNames"] == ["/aws/lambda/orders", "/aws/lambda/payments"]
    assert "filter @message like" in page.request["queryString"]


def test_a_capped_window_is_split_until_every_line_fits(aws: Aws) -> None:
    now_s = time.time()
    # NOTE: never on a whole second, where moto's inclusive bounds would repeat a line
    first_ms = int(now_s - 1200) * 1000 + 125
    lines = [(first_ms + 15_250 * i, f"START RequestId: r{i} Version: 1") for i in range(60)]
    put_log_lines(aws.client("logs"), "orders", lines)

    result = _collector(aws, row_cap=16).collect(
        Window(utc(now_s - 1800), utc(now_s)), functions=["orders"]
    )

    assert _rows(result) == Counter({("/aws/lambda/orders", m): 1 for _, m in lines})
    pages = list(result.pages_of(QUERY_RESULTS))
    assert len(pages) > 4
    assert all(len(page.response["results"]) < 16 for page in pages)
    assert result.truncated == ()
    assert result.complete


def test_missing_log_groups_are_reported_and_the_others_still_read(aws: Aws) -> None:
    now_ms = int(time.time() * 1000)
    put_log_lines(aws.client("logs"), "orders", [(now_ms - 60_000, "END RequestId: a")])

    result = _collector(aws).collect(
        Window(utc(now_ms / 1000 - 600), utc(now_ms / 1000)),
        functions=["ghost", "orders", "phantom"],
    )

    assert result.missing_log_groups == {"/aws/lambda/ghost", "/aws/lambda/phantom"}
    assert _rows(result) == Counter({("/aws/lambda/orders", "END RequestId: a"): 1})
    assert result.complete


def test_more_than_fifty_functions_are_queried_in_batches_of_fifty(aws: Aws) -> None:
    now_ms = int(time.time() * 1000)
    logs = aws.client("logs")
    names = [f"fn{i:02d}" for i in range(55)]
    for name in names:
        put_log_lines(logs, name, [(now_ms - 60_000, f"START RequestId: {name} Version: 1")])

    result = _collector(aws).collect(
        Window(utc(now_ms / 1000 - 600), utc(now_ms / 1000)), functions=names
    )

    sizes = [len(page.request["logGroupNames"]) for page in result.pages_of(QUERY_RESULTS)]
    assert sizes == [50, 5]
    assert sum(_rows(result).values()) == 55


def test_adjacent_windows_do_not_share_a_line(aws: Aws) -> None:
    now_s = int(time.time())
    lines = [((now_s - 300) * 1000 + 125 + 250 * i, f"END RequestId: r{i}") for i in range(40)]
    put_log_lines(aws.client("logs"), "orders", lines)
    collector = _collector(aws)
    # NOTE: moto ignores the query's millisecond filter and applies StartQuery's whole-second
    # bounds, both inclusive: a line stamped exactly on a boundary second would come back in
    # both windows there (AWS applies the filter). No line here sits on the boundary.
    middle = utc(now_s - 295)

    first = collector.collect(Window(utc(now_s - 600), middle), functions=["orders"])
    second = collector.collect(Window(middle, utc(now_s)), functions=["orders"])

    assert _rows(first) + _rows(second) == Counter({("/aws/lambda/orders", m): 1 for _, m in lines})
    assert sum(_rows(first).values()) == 20
