"""The data section and ``input.trace_path`` say where traces came from, and when they are
only X-Ray's indexed sample on a Transaction Search account (from the stored
GetTraceSegmentDestination and GetIndexingRules answers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from analyses.trace_paths import TraceDestination, trace_origin
from collectors.base import CallStats, RawPage
from collectors.spans import DESTINATION, INDEXING_RULES, SPAN_RECORDS, Destination, SpansResult
from tests.builders.results import ACCOUNT, REGION, T0, WINDOW, lambda_trace, trace_id, traces_at
from tests.builders.results import xray_result as xray_run
from tests.builders.traces import span_record
from tracelens.analysis import run_analysis
from tracelens.contract import to_contract
from tracelens.inputs import load_inputs
from tracelens.report.context import RenderContext
from tracelens.report.figures import FigureSet
from tracelens.report.links import ConsoleLinks
from tracelens.report.sections.overview import data_line, render_overview
from tracelens.store import Store


def _start_ns(index: int) -> int:
    return int(T0.timestamp() * 1e9) + index * 1_000_000_000


def _spans_run(destination: str, *, percent: float | None = 1.0, records: int = 0) -> SpansResult:
    """A spans run: the destination answer, the indexing rules, and span records (if any)."""
    pages = [
        RawPage(
            DESTINATION,
            "xray:GetTraceSegmentDestination",
            {},
            {"Destination": destination, "Status": "ACTIVE"},
        )
    ]
    if destination == "CloudWatchLogs":
        rule: dict[str, Any] = {"Name": "Default", "ModifiedAt": datetime(2026, 1, 5, tzinfo=UTC)}
        if percent is not None:
            rule["Rule"] = {"Probabilistic": {"DesiredSamplingPercentage": percent}}
        pages.append(
            RawPage(INDEXING_RULES, "xray:GetIndexingRules", {}, {"IndexingRules": [rule]})
        )
    if records:
        rows = [
            [
                {"field": "@timestamp", "value": "2026-11-20 09:00:00.000"},
                {
                    "field": "@message",
                    "value": json.dumps(span_record(i, _start_ns(i), region=REGION)),
                },
            ]
            for i in range(records)
        ]
        response = {"results": rows, "status": "Complete", "statistics": {}}
        pages.append(RawPage(SPAN_RECORDS, "logs:GetQueryResults", {"queryId": "q"}, response))
    mode = "cloudwatch-logs" if destination == "CloudWatchLogs" else "xray"
    return SpansResult(
        source="spans",
        window=WINDOW,
        pages=tuple(pages),
        failures=(),
        warnings=(),
        stats=CallStats(api_calls=len(pages)),
        complete=True,
        destination=Destination(mode, "ACTIVE", percent),
    )


def _analyzed(store: Store) -> tuple[dict[str, Any], str]:
    inputs, problems = store.load_inputs()
    assert problems == []
    result = run_analysis(inputs)
    ctx = RenderContext(result, FigureSet(), ConsoleLinks("us-east-1", "given"))
    return to_contract(result)["input"]["trace_path"], render_overview(ctx).body


def test_only_indexed_xray_traces_on_a_transaction_search_account_are_a_sample(
    store: Store,
) -> None:
    store.persist(xray_run(traces_at([T0])), account=ACCOUNT, region=REGION)
    store.persist(_spans_run("CloudWatchLogs", percent=1.0), account=ACCOUNT, region=REGION)

    path, html = _analyzed(store)

    assert path["paths"] == ["xray"]
    assert path["transaction_search"] is True
    assert path["indexed_sample"] is True
    assert path["indexed_percent"] == 1.0
    assert "a sample of 1% of spans" in html
    inputs, _ = store.load_inputs()
    ctx = RenderContext(run_analysis(inputs), FigureSet(), ConsoleLinks("us-east-1", "given"))
    line = data_line(ctx)
    assert "only X-Ray&#x27;s indexed 1% sample (Transaction Search on)" in line
    assert 'class="data-line warn"' in line
    assert "Traces came from X-Ray segments (BatchGetTraces" in html


def test_an_unknown_indexed_share_is_said_unknown_not_guessed(store: Store) -> None:
    store.persist(xray_run(traces_at([T0])), account=ACCOUNT, region=REGION)
    store.persist(_spans_run("CloudWatchLogs", percent=None), account=ACCOUNT, region=REGION)

    path, html = _analyzed(store)

    assert path["indexed_sample"] is True and path["indexed_percent"] is None
    assert "could not be read" in html


def test_spans_read_from_aws_spans_are_every_span_not_a_sample(store: Store) -> None:
    store.persist(_spans_run("CloudWatchLogs", records=3), account=ACCOUNT, region=REGION)

    path, html = _analyzed(store)

    assert path["paths"] == ["aws_spans"]
    assert path["documents"] == {"aws_spans": None}  # a store keeps spans, not what was read
    assert path["indexed_sample"] is False
    assert "aws/spans span records (CloudWatch Transaction Search)" in html
    assert "every span was read from the aws/spans log group" in html


def test_both_collectors_on_one_account_read_a_mix(store: Store) -> None:
    store.persist(xray_run(traces_at([T0])), account=ACCOUNT, region=REGION)
    store.persist(_spans_run("CloudWatchLogs", records=2), account=ACCOUNT, region=REGION)

    path, _ = _analyzed(store)

    assert path["paths"] == ["xray", "aws_spans"]
    assert path["label"].startswith("a mix: ")
    assert path["indexed_sample"] is False


def test_traces_in_xray_are_not_a_sample_of_transaction_search(store: Store) -> None:
    store.persist(xray_run(traces_at([T0])), account=ACCOUNT, region=REGION)
    store.persist(_spans_run("XRay"), account=ACCOUNT, region=REGION)

    path, html = _analyzed(store)

    assert path["transaction_search"] is False and path["indexed_sample"] is False
    assert "indexed trace summaries" not in html


def test_a_window_read_again_says_its_path_and_no_count(store: Store) -> None:
    for _ in range(2):
        store.persist(_spans_run("CloudWatchLogs", records=2), account=ACCOUNT, region=REGION)

    path, html = _analyzed(store)

    assert path["paths"] == ["aws_spans"] and path["documents"] == {"aws_spans": None}
    assert "Traces came from aws/spans span records (CloudWatch Transaction Search)." in html


def test_offline_files_say_the_path_only(tmp_path: Path) -> None:
    tid = trace_id(T0, 1)
    (tmp_path / "segments.json").write_text(
        json.dumps({"Traces": [{"Id": tid, "Segments": [
            {"Id": d["id"], "Document": json.dumps(d)} for d in lambda_trace(tid, T0)
        ]}]})
    )  # fmt: skip
    (tmp_path / "spans.jsonl").write_text(
        "\n".join(json.dumps(span_record(i, _start_ns(i), region=REGION)) for i in range(3)) + "\n"
    )
    otlp = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "a"}}]},
                "scopeSpans": [{"spans": [{
                    "traceId": "5b8efff798038103d269b633813fc60c",
                    "spanId": "eee19b7ec3c1b174",
                    "name": "a",
                    "kind": 2,
                    "startTimeUnixNano": str(int(T0.timestamp() * 1e9)),
                    "endTimeUnixNano": str(int(T0.timestamp() * 1e9) + 5_000_000),
                }]}],
            }
        ]
    }  # fmt: skip
    (tmp_path / "otlp.json").write_text(json.dumps(otlp))

    result = run_analysis(load_inputs([tmp_path]))
    path = to_contract(result)["input"]["trace_path"]

    assert result.inputs.traces.rejections.count == 0
    assert path["paths"] == ["xray", "aws_spans", "otlp"]
    assert path["documents"] == {"xray": 2, "aws_spans": 3, "otlp": 1}
    assert path["transaction_search"] is None and path["indexed_sample"] is False


def test_the_lowest_indexed_share_is_the_one_said() -> None:
    origin = trace_origin(
        {"xray": 5},
        [
            TraceDestination("1", "us-east-1", "CloudWatchLogs", "ACTIVE", 5.0),
            TraceDestination("1", "eu-west-1", "CloudWatchLogs", "ACTIVE", 1.0),
            TraceDestination("2", "us-east-1", "XRay", "ACTIVE", None),
        ],
    )

    assert origin.indexed_sample and origin.indexed_percent == 1.0
    assert trace_origin({}, []).label.startswith("none")
