"""Every form AWS and OpenTelemetry tools keep traces in, read from files (format told by
content): aws/spans records (lines, filter-log-events, GetQueryResults), OTLP JSON, X-Ray
ListRetrievedTraces (OTEL and XRAY formats), the console's raw data and Trace objects per line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from tracelens.cli import main
from tracelens.ingest.loader import TraceInput, load_traces

TRACE_HEX = "6912a0c00123456789abcdef01234567"
TRACE = "1-6912a0c0-0123456789abcdef01234567"
ROOT, CALL = "a" * 16, "b" * 16
START_NS = 1762828480123456789


def span(span_id: str = ROOT, parent: str = "", kind: str = "SERVER", **fields: Any) -> dict:
    value: dict[str, Any] = {
        "resource": {
            "attributes": {
                "service.name": "orders-create",
                "cloud.platform": "aws_lambda",
                "faas.name": "orders-create",
            }
        },
        "scope": {"name": "opentelemetry.instrumentation.aws_lambda", "version": "0.48b0"},
        "traceId": TRACE_HEX,
        "spanId": span_id,
        "parentSpanId": parent,
        "flags": 256,
        "name": "orders-create" if kind == "SERVER" else "DynamoDB.PutItem",
        "kind": kind,
        "startTimeUnixNano": START_NS,
        "endTimeUnixNano": START_NS + 50_000_000,
        "durationNano": 50_000_000,
        "attributes": {"faas.invocation_id": "req-1"}
        if kind == "SERVER"
        else {"rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "PutItem"},
        "status": {"code": "UNSET"},
    }
    value.update(fields)
    return value


def pair() -> list[dict]:
    return [span(), span(CALL, ROOT, "CLIENT")]


def segment_document(**fields: Any) -> dict:
    doc = {
        "id": "c" * 16,
        "trace_id": TRACE,
        "name": "orders-api/prod",
        "start_time": 1762828480.0,
        "end_time": 1762828480.5,
        "origin": "AWS::ApiGateway::Stage",
    }
    doc.update(fields)
    return doc


def lines(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def load(path: Path) -> TraceInput:
    return load_traces([path], processes=1)


def assert_pair(loaded: TraceInput) -> None:
    assert loaded.rejections.count == 0, loaded.rejections.listed
    rows = {row["id"]: row for row in loaded.spans.iter_rows(named=True)}
    assert set(rows) == {ROOT, CALL}
    assert rows[ROOT]["origin"] == "AWS::Lambda::Function" and rows[ROOT]["trace_id"] == TRACE
    assert rows[ROOT]["aws_request_id"] == "req-1"
    assert rows[CALL]["parent_id"] == ROOT and rows[CALL]["segment_id"] == ROOT
    assert rows[CALL]["name"] == "DynamoDB" and rows[CALL]["namespace"] == "aws"


def test_aws_spans_records_one_per_line_plain_and_gzipped(tmp_path: Path) -> None:
    assert_pair(load(write(tmp_path / "spans.jsonl", lines(pair()))))
    gz = write(tmp_path / "spans.jsonl.gz", gzip.compress(lines(pair()).encode()))
    assert_pair(load(gz))


def test_aws_spans_records_in_filter_log_events_output(tmp_path: Path) -> None:
    response = {
        "events": [
            {
                "logStreamName": "default",
                "timestamp": 1762828480123,
                "message": json.dumps(record),
                "ingestionTime": 1762828481000,
                "eventId": str(index) * 56,
            }
            for index, record in enumerate(pair())
        ],
        "searchedLogStreams": [],
    }
    assert_pair(load(write(tmp_path / "events.json", json.dumps(response, indent=4))))


def test_aws_spans_records_in_logs_insights_results(tmp_path: Path) -> None:
    response = {
        "results": [
            [
                {"field": "@timestamp", "value": "2025-11-11 02:34:40.123"},
                {"field": "@message", "value": json.dumps(record)},
                {"field": "@ptr", "value": "CmAKJwoj"},
            ]
            for record in pair()
        ],
        "statistics": {"recordsMatched": 2.0, "recordsScanned": 2.0, "bytesScanned": 900.0},
        "status": "Complete",
    }
    assert_pair(load(write(tmp_path / "query.json", json.dumps(response))))


def test_lambda_log_events_are_still_sent_to_logs(tmp_path: Path) -> None:
    response = {"events": [{"message": "START RequestId: 1 Version: $LATEST\n"}]}
    loaded = load(write(tmp_path / "logs.json", json.dumps(response)))
    assert loaded.rejections.count == 1
    assert "--logs" in loaded.rejections.listed[0].reason


def otlp(records: list[dict]) -> dict:
    def attributes(bag: dict) -> list:
        out = []
        for key, value in bag.items():
            if isinstance(value, bool):
                out.append({"key": key, "value": {"boolValue": value}})
            elif isinstance(value, int):
                out.append({"key": key, "value": {"intValue": str(value)}})
            else:
                out.append({"key": key, "value": {"stringValue": value}})
        return out

    kinds = {"SERVER": 2, "CLIENT": 3}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes(records[0]["resource"]["attributes"])},
                "scopeSpans": [
                    {
                        "scope": {"name": "test"},
                        "spans": [
                            {
                                "traceId": r["traceId"],
                                "spanId": r["spanId"],
                                "parentSpanId": r["parentSpanId"],
                                "name": r["name"],
                                "kind": kinds[r["kind"]],
                                "startTimeUnixNano": str(r["startTimeUnixNano"]),
                                "endTimeUnixNano": str(r["endTimeUnixNano"]),
                                "attributes": attributes(r["attributes"]),
                                "status": {},
                            }
                            for r in records
                        ],
                    }
                ],
            }
        ]
    }


def test_otlp_json_one_request_per_file_and_per_line(tmp_path: Path) -> None:
    assert_pair(load(write(tmp_path / "export.json", json.dumps(otlp(pair()), indent=2))))
    first, second = pair()
    per_line = json.dumps(otlp([first])) + "\n" + json.dumps(otlp([second])) + "\n"
    assert_pair(load(write(tmp_path / "collector.jsonl", per_line)))


def test_otlp_span_refused_alone_with_its_position(tmp_path: Path) -> None:
    request = otlp(pair())
    del request["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"]
    loaded = load(write(tmp_path / "export.json", json.dumps(request)))
    assert loaded.spans.height == 1
    (rejection,) = loaded.rejections.listed
    assert rejection.position == "resourceSpans[0].scopeSpans[0].spans[1]"
    assert "spanId" in rejection.reason


def retrieved(documents: list[str], trace_format: str | None) -> dict:
    response: dict[str, Any] = {
        "RetrievalStatus": "COMPLETE",
        "Traces": [
            {
                "Id": TRACE,
                "Duration": 0.05,
                "Spans": [{"Id": f"s{i}", "Document": d} for i, d in enumerate(documents)],
            }
        ],
    }
    if trace_format is not None:
        response["TraceFormat"] = trace_format
    return response


@pytest.mark.parametrize("trace_format", ["OTEL", None])
def test_list_retrieved_traces_in_otel_format(tmp_path: Path, trace_format: str | None) -> None:
    response = retrieved([json.dumps(r) for r in pair()], trace_format)
    assert_pair(load(write(tmp_path / "retrieved.json", json.dumps(response))))


def test_list_retrieved_traces_in_xray_format(tmp_path: Path) -> None:
    response = retrieved([json.dumps(segment_document())], "XRAY")
    loaded = load(write(tmp_path / "retrieved.json", json.dumps(response)))
    assert loaded.rejections.count == 0 and loaded.spans["name"].to_list() == ["orders-api/prod"]


def test_console_raw_data_view_with_document_objects(tmp_path: Path) -> None:
    trace = {
        "Id": TRACE,
        "Duration": 0.5,
        "LimitExceeded": False,
        "Segments": [{"Id": "c" * 16, "Document": segment_document()}],
    }
    loaded = load(write(tmp_path / "console.json", json.dumps(trace, indent=2)))
    assert loaded.rejections.count == 0 and loaded.spans.height == 1


def test_trace_objects_one_per_line_with_strings_or_the_documents_themselves(
    tmp_path: Path,
) -> None:
    as_strings = {
        "Id": TRACE,
        "Segments": [{"Id": "c" * 16, "Document": json.dumps(segment_document())}],
    }
    themselves = {"Id": TRACE, "Segments": [segment_document(id="d" * 16)]}
    text = orjson.dumps(as_strings).decode() + "\n" + orjson.dumps(themselves).decode() + "\n"
    loaded = load(write(tmp_path / "traces.jsonl", text))
    assert loaded.rejections.count == 0
    assert sorted(loaded.spans["id"].to_list()) == ["c" * 16, "d" * 16]


def test_a_mix_of_segments_and_spans_is_one_trace(tmp_path: Path) -> None:
    write(tmp_path / "a.json", json.dumps(segment_document()))
    write(tmp_path / "b.jsonl", lines([span(parent="c" * 16), span(CALL, ROOT, "CLIENT")]))
    loaded = load_traces([tmp_path], processes=1)
    assert loaded.rejections.count == 0 and loaded.traces == 1
    rows = {row["id"]: row for row in loaded.spans.iter_rows(named=True)}
    assert rows[ROOT]["parent_id"] == "c" * 16 and rows[CALL]["segment_id"] == ROOT


def test_bad_span_lines_are_refused_one_by_one_and_strict_fails(tmp_path: Path) -> None:
    good, call = pair()
    bad_time = dict(call, startTimeUnixNano="1.7e18")
    text = lines([good]) + json.dumps(bad_time) + "\n" + '{"traceId": "x", "spanId": \n'
    path = write(tmp_path / "spans.jsonl", text)
    loaded = load(path)
    assert loaded.spans["id"].to_list() == [ROOT]
    positions = [(r.position, r.reason) for r in loaded.rejections.listed]
    assert positions[0][0] == "line 2" and "startTimeUnixNano" in positions[0][1]
    assert positions[1][0] == "line 3" and "invalid JSON" in positions[1][1]
    strict = CliRunner().invoke(main, ["analyze", str(path), "--json", "--strict", "-q"])
    assert strict.exit_code != 0 and "line 2" in strict.output


def test_faas_coldstart_counts_once_lambda_reports_the_init(tmp_path: Path) -> None:
    # A span alone cannot tell how long the init took, nor whether a caller waited for it;
    # Lambda's REPORT for the same request id can.
    traces = write(
        tmp_path / "spans.jsonl",
        lines([span(attributes={"faas.invocation_id": "req-1", "faas.coldstart": True})]),
    )
    (tmp_path / "logs").mkdir()
    write(
        tmp_path / "logs" / "orders-create.log",
        "REPORT RequestId: req-1\tDuration: 50.00 ms\tBilled Duration: 50 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 312.50 ms\t\n",
    )
    spans_only = CliRunner().invoke(main, ["analyze", str(traces), "--json", "-q"])
    with_logs = CliRunner().invoke(
        main, ["analyze", str(traces), "--logs", str(tmp_path / "logs"), "--json", "-q"]
    )
    assert spans_only.exit_code == 0 and with_logs.exit_code == 0, with_logs.output
    (alone,) = json.loads(spans_only.stdout)["functions"]
    (joined,) = json.loads(with_logs.stdout)["functions"]
    assert alone["cold_starts"] == 0  # unknown, not invented
    assert joined["cold_starts"] == 1 and joined["init_ms"]["max"] == 312.5


def test_a_cycle_of_parent_ids_does_not_stop_the_run(tmp_path: Path) -> None:
    first = span("1" * 16, "2" * 16, "INTERNAL", name="a")
    second = span("2" * 16, "1" * 16, "INTERNAL", name="b")
    loaded = load(write(tmp_path / "cycle.jsonl", lines([first, second])))
    assert loaded.rejections.count == 0 and loaded.spans.height == 2


def test_a_span_also_nested_in_a_segment_document_counts_once(tmp_path: Path) -> None:
    call = {
        "id": CALL,
        "name": "DynamoDB",
        "start_time": 1762828480.2,
        "end_time": 1762828480.25,
        "namespace": "aws",
    }
    segment = segment_document(id=ROOT, subsegments=[call])
    write(tmp_path / "segment.json", json.dumps(segment))
    # the same call as an independent subsegment document (a daemon capture) and as a span
    independent = dict(call, trace_id=TRACE, parent_id=ROOT, type="subsegment")
    write(tmp_path / "daemon.ndjson", json.dumps(independent) + "\n" + json.dumps(segment) + "\n")
    write(tmp_path / "spans.jsonl", lines([span(CALL, ROOT, "CLIENT")]))
    loaded = load_traces([tmp_path], processes=1)
    assert loaded.rejections.count == 0
    assert sorted(loaded.spans["id"].to_list()) == [ROOT, CALL]
    assert loaded.spans.filter(pl.col("id") == CALL)["depth"].to_list() == [1]
    assert loaded.duplicates == 3
