"""Exported trace files in every form ``analyze`` reads, and the comparison of two analyses.

The forms are written from one generated sample (``tracelens.samples``) in the shapes AWS and
OpenTelemetry tools write them; the OpenTelemetry forms hold the spans instrumentation records
(``tracelens.samples.otel``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from tracelens.cli import main
from tracelens.samples.generate import SampleConfig, generate
from tracelens.samples.otel import otlp_request, span_records
from tracelens.samples.world import Document

Trace = tuple[str, Sequence[Document]]
PAGE_TRACES = 5  # BatchGetTraces and ListRetrievedTraces return at most five traces a page
DAEMON_HEADER = '{"format": "json", "version": 1}'
# The contract's input fields that describe the spans read, not how the files held them (the
# store keeps a document read twice once when it stores a run, so its counts of documents,
# segments and duplicates are of what it kept) nor where they were read from.
STORED_INPUT = (
    "traces",
    "rejected",
    "rejections",
    "rejected_documents",
    "rejected_side_records",
    "in_progress",
    "incomplete",
    "skipped",
    "sources",
    "trace_path",
    "window",
)


def invoke(*arguments: str) -> Result:
    """``tracelens ARGUMENTS...``, which must succeed."""
    result = CliRunner().invoke(main, list(arguments))
    assert result.exit_code == 0, result.output
    return result


def analysis(*arguments: str, out: Path) -> dict[str, Any]:
    """``tracelens analyze ARGUMENTS... --json``'s document."""
    invoke("analyze", *arguments, "--json", "-q", "--out", str(out))
    return dict(json.loads(out.read_text()))


def rounded(value: Any) -> Any:
    """``value`` with floats rounded and example trace ids left out.

    NOTE: an example is the first of equally slow traces in input order, and the store returns
    traces by trace-id bucket, not in the files' order; which traces tie is compared by the
    other fields. Sums over rows in another order may differ in the last digit.
    """
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [rounded(item) for item in value]
    if isinstance(value, dict):
        return {k: rounded(item) for k, item in value.items() if k != "example_trace_id"}
    return value


def assert_same_answers(from_store: dict[str, Any], from_files: dict[str, Any]) -> None:
    """Every section of the contract is the same, and the input's description of the spans."""
    assert from_store.keys() == from_files.keys()
    for key in from_files.keys() - {"input"}:
        assert rounded(from_store[key]) == rounded(from_files[key]), key
    for key in STORED_INPUT:
        stored, read = from_store["input"][key], from_files["input"][key]
        if key == "trace_path":  # a store keeps no count of the documents read: null
            assert set(stored["documents"].values()) <= {None}, stored["documents"]
            stored, read = _without(stored, "documents"), _without(read, "documents")
        assert rounded(stored) == rounded(read), key


def _without(value: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: item for k, item in value.items() if k != key}


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by its relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def sample_traces(traces: int = 60) -> list[Trace]:
    """The traces of a generated sample (60: the fewest that show every condition)."""
    return [(tid, docs) for tid, docs in generate(SampleConfig(traces=traces)).traces]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _pages(traces: Sequence[Trace]) -> Iterator[Sequence[Trace]]:
    for start in range(0, len(traces), PAGE_TRACES):
        yield traces[start : start + PAGE_TRACES]


def _batch_trace(trace: Trace, *, as_text: bool = True) -> dict[str, Any]:
    tid, docs = trace
    return {
        "Id": tid,
        "Duration": max(d.get("end_time", d["start_time"]) for d in docs)
        - min(d["start_time"] for d in docs),
        "LimitExceeded": False,
        "Segments": [{"Id": d["id"], "Document": _compact(d) if as_text else d} for d in docs],
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _lines(values: Sequence[Any]) -> str:
    return "".join(_compact(value) + "\n" for value in values)


def _batch_get_traces(traces: Sequence[Trace], out: Path) -> None:
    for n, page in enumerate(_pages(traces)):
        response = {"Traces": [_batch_trace(t) for t in page], "UnprocessedTraceIds": []}
        _write(out / f"batch-get-traces-{n:03d}.json", json.dumps(response, indent=4))


def _console(traces: Sequence[Trace], out: Path) -> None:
    # the X-Ray console's raw data: each Document an object, not a JSON string
    response = {"Traces": [_batch_trace(t, as_text=False) for t in traces]}
    _write(out / "console.json", json.dumps(response, indent=2))


def _trace_objects(traces: Sequence[Trace], out: Path) -> None:
    _write(out / "traces.jsonl", _lines([_batch_trace(t) for t in traces]))


def _documents(traces: Sequence[Trace]) -> list[Document]:
    return [d for _, docs in traces for d in docs]


def _segment_array(traces: Sequence[Trace], out: Path) -> None:
    _write(out / "documents.json", json.dumps(_documents(traces), indent=2))


def _segment_lines(traces: Sequence[Trace], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "segments.ndjson.gz").write_bytes(gzip.compress(_lines(_documents(traces)).encode()))


def _daemon(traces: Sequence[Trace], out: Path) -> None:
    lines = [f"{DAEMON_HEADER}\n{_compact(d)}\n" for d in _documents(traces)]
    _write(out / "daemon.ndjson", "".join(lines))


def _single_segments(traces: Sequence[Trace], out: Path) -> None:
    for n, document in enumerate(_documents(traces)):
        _write(out / f"segment-{n:04d}.json", json.dumps(document))


def _records(traces: Sequence[Trace]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(tid, list(span_records(docs))) for tid, docs in traces]


def _span_lines(traces: Sequence[Trace], out: Path) -> None:
    _write(out / "spans.jsonl", _lines([r for _, rs in _records(traces) for r in rs]))


def _filter_log_events(traces: Sequence[Trace], out: Path) -> None:
    records = [r for _, rs in _records(traces) for r in rs]
    events = [
        {
            "logStreamName": "default",
            "timestamp": record["startTimeUnixNano"] // 1_000_000,
            "message": _compact(record),
            "ingestionTime": record["startTimeUnixNano"] // 1_000_000 + 900,
            "eventId": f"{n:056d}",
        }
        for n, record in enumerate(records)
    ]
    response = {"events": events, "searchedLogStreams": []}
    _write(out / "filter-log-events.json", json.dumps(response, indent=4))


def _query_results(traces: Sequence[Trace], out: Path) -> None:
    records = [r for _, rs in _records(traces) for r in rs]
    rows = [
        [
            {"field": "@timestamp", "value": str(record["startTimeUnixNano"])},
            {"field": "@message", "value": _compact(record)},
            {"field": "@ptr", "value": f"Cm{n:08d}"},
        ]
        for n, record in enumerate(records)
    ]
    n = float(len(rows))
    response = {
        "results": rows,
        "statistics": {"recordsMatched": n, "recordsScanned": n, "bytesScanned": 1000 * n},
        "status": "Complete",
    }
    _write(out / "query-results.json", json.dumps(response, indent=4))


def _otlp_lines(traces: Sequence[Trace], out: Path) -> None:
    # the Collector's file exporter: one request per line
    _write(out / "traces.jsonl", _lines([otlp_request(rs) for _, rs in _records(traces)]))


def _otlp_request(traces: Sequence[Trace], out: Path) -> None:
    # an OTLP/HTTP JSON body: one request per file
    request = otlp_request(r for _, rs in _records(traces) for r in rs)
    _write(out / "request.json", json.dumps(request))


def _retrieved(traces: Sequence[Trace], out: Path, trace_format: str) -> None:
    for n, page in enumerate(_pages(traces)):
        if trace_format == "OTEL":
            spans = [[(r["spanId"], _compact(r)) for r in span_records(docs)] for _, docs in page]
        else:
            spans = [[(d["id"], _compact(d)) for d in docs] for _, docs in page]
        response = {
            "RetrievalStatus": "COMPLETE",
            "TraceFormat": trace_format,
            "Traces": [
                {"Id": tid, "Spans": [{"Id": i, "Document": d} for i, d in trace_spans]}
                for (tid, _), trace_spans in zip(page, spans, strict=True)
            ],
        }
        _write(out / f"retrieved-{n:03d}.json", json.dumps(response, indent=4))


def _retrieved_trace_lines(traces: Sequence[Trace], out: Path) -> None:
    # the Traces of ListRetrievedTraces one per line, without a TraceFormat
    lines = [
        {"Id": tid, "Spans": [{"Id": r["spanId"], "Document": _compact(r)} for r in records]}
        for tid, records in _records(traces)
    ]
    _write(out / "retrieved-traces.jsonl", _lines(lines))


Writer = Callable[[Sequence[Trace], Path], None]

# Each form ``analyze`` reads (tracelens/ingest/decoders/registry.py), by a name for the tests.
FORMS: dict[str, Writer] = {
    "batch-get-traces": _batch_get_traces,
    "console-raw-data": _console,
    "trace-objects-per-line": _trace_objects,
    "segment-document-array": _segment_array,
    "segment-documents-per-line-gz": _segment_lines,
    "daemon-capture": _daemon,
    "one-segment-document-per-file": _single_segments,
    "aws-spans-per-line": _span_lines,
    "aws-spans-filter-log-events": _filter_log_events,
    "aws-spans-query-results": _query_results,
    "otlp-json-per-line": _otlp_lines,
    "otlp-json-request": _otlp_request,
    "list-retrieved-traces-otel": lambda t, out: _retrieved(t, out, "OTEL"),
    "list-retrieved-traces-xray": lambda t, out: _retrieved(t, out, "XRAY"),
    "list-retrieved-trace-per-line": _retrieved_trace_lines,
}


def write_form(form: str, traces: Sequence[Trace], out: Path) -> Path:
    """Write ``traces`` in ``form`` under the directory ``out``; returns ``out``."""
    FORMS[form](traces, out)
    return out
