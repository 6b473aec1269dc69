"""Writes a sample set in the ``sample_traces/`` layout (see ``sample_traces/README.md``)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracelens.atomic import replace_atomically
from tracelens.samples.app import FUNCTIONS_BY_NAME
from tracelens.samples.layout import Page
from tracelens.samples.logs import LogEvent
from tracelens.samples.world import Document

if TYPE_CHECKING:
    from tracelens.samples.generate import SampleSet

# NOTE: the log group name is not inside exported log lines or filter-log-events output, so
# every log file is named after its function: ``logs/<function-name>.<ext>``.
FILTER_LOG_EVENTS_FUNCTIONS = frozenset({"notify-webhook"})
DAEMON_HEADER = '{"format": "json", "version": 1}'


def document_text(doc: Document, *, go_escaped: bool = False) -> str:
    """A segment document as compact JSON, the way X-Ray returns and SDKs send it."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if go_escaped:
        # Go's encoding/json escapes HTML characters; they only occur inside strings.
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def cli_json(value: Any) -> str:
    """JSON as ``aws ... --output json`` prints it."""
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"


def page_response(page: Page) -> dict[str, Any]:
    """One ``aws xray batch-get-traces --output json`` response."""
    return {
        "Traces": [
            {
                "Id": trace.trace_id,
                "Duration": trace.duration_s,
                "LimitExceeded": False,
                "Segments": [
                    {"Id": d["id"], "Document": document_text(d)} for d in trace.documents
                ],
            }
            for trace in page.traces
        ],
        "UnprocessedTraceIds": [],
    }


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    replace_atomically(path, data, durable=False)
    return path


def _event_id(event: LogEvent, position: int) -> str:
    digest = hashlib.sha256(f"{event.log_stream}/{event.timestamp_ms}/{position}".encode())
    return str(int(digest.hexdigest(), 16))[:56].rjust(56, "0")


def filter_log_events(events: tuple[LogEvent, ...]) -> dict[str, Any]:
    """An ``aws logs filter-log-events --output json`` response."""
    out = []
    for position, event in enumerate(events):
        event_id = _event_id(event, position)
        out.append(
            {
                "logStreamName": event.log_stream,
                "timestamp": event.timestamp_ms,
                "message": event.message,
                "ingestionTime": event.timestamp_ms + 150 + int(event_id[-3:]) % 700,
                "eventId": event_id,
            }
        )
    return {"events": out, "searchedLogStreams": []}


def _xray(sample: SampleSet, xray_dir: Path) -> list[Path]:
    layout = sample.layout
    written = []
    for page in layout.pages:
        text = cli_json(page_response(page))
        data: str | bytes = gzip.compress(text.encode(), mtime=0) if page.gzip else text
        written.append(_write(xray_dir / page.file_name, data))
    lines = []
    for line in layout.daemon:
        if line.header:
            lines.append(DAEMON_HEADER)
        lines.append(document_text(line.document, go_escaped=line.go_escaped))
    written.append(_write(xray_dir / "daemon-segments.ndjson", "\n".join(lines) + "\n"))
    array = json.dumps(list(layout.array), indent=2, ensure_ascii=False) + "\n"
    written.append(_write(xray_dir / "segment-documents.json", array))
    single = json.dumps(layout.single, indent=2, ensure_ascii=False) + "\n"
    written.append(_write(xray_dir / "single-segment.json", single))
    return written


def by_stream(events: tuple[LogEvent, ...]) -> list[LogEvent]:
    """Events grouped per log stream (streams in order of their first event), as a per-stream
    export reads: each invocation's lines stay together."""
    streams: dict[str, list[LogEvent]] = {}
    for event in events:
        streams.setdefault(event.log_stream, []).append(event)
    return [event for stream in streams.values() for event in stream]


def _logs(sample: SampleSet, logs_dir: Path) -> list[Path]:
    written = []
    for name, events in sample.logs.items():
        spec_format = FUNCTIONS_BY_NAME[name].log_format
        if name in FILTER_LOG_EVENTS_FUNCTIONS:
            written.append(_write(logs_dir / f"{name}.json", cli_json(filter_log_events(events))))
        elif spec_format == "JSON":
            text = "".join(event.message + "\n" for event in by_stream(events))
            written.append(_write(logs_dir / f"{name}.jsonl", text))
        else:
            text = "".join(event.message for event in by_stream(events))
            written.append(_write(logs_dir / f"{name}.log", text))
    return written


def _functions(sample: SampleSet, functions_dir: Path) -> list[Path]:
    responses = sample.functions
    written = [_write(functions_dir / "list-functions.json", cli_json(responses.list_functions))]
    for name, response in responses.get_function.items():
        written.append(_write(functions_dir / f"get-function.{name}.json", cli_json(response)))
    for name, response in responses.provisioned_concurrency.items():
        path = functions_dir / f"list-provisioned-concurrency-configs.{name}.json"
        written.append(_write(path, cli_json(response)))
    written.append(
        _write(functions_dir / "get-account-settings.json", cli_json(responses.account_settings))
    )
    return written


# Names of generated files, per folder: older generated files not rewritten are removed.
GENERATED = {
    "xray": (
        "batch-get-traces-*.json",
        "batch-get-traces-*.json.gz",
        "daemon-segments.ndjson",
        "segment-documents.json",
        "single-segment.json",
    ),
    "logs": ("*.log", "*.jsonl", "*.json"),
    "metrics": ("get-metric-data.json",),
    "functions": ("*.json",),
}


def _remove_stale(out_dir: Path, written: list[Path]) -> None:
    keep = set(written)
    for folder, patterns in GENERATED.items():
        for pattern in patterns:
            for path in (out_dir / folder).glob(pattern):
                if path not in keep:
                    path.unlink()


def write_sample_set(sample: SampleSet, out_dir: Path) -> list[Path]:
    """Write every file of the ``sample_traces/`` layout under ``out_dir``.

    Returns the written paths. Files of the same names are replaced, and generated files of
    an earlier run that this one did not write (e.g. a page fewer) are removed; other files
    (such as ``README.md``) are left alone.
    """
    written = _xray(sample, out_dir / "xray")
    written += _logs(sample, out_dir / "logs")
    written.append(
        _write(out_dir / "metrics" / "get-metric-data.json", cli_json(sample.metric_data))
    )
    written += _functions(sample, out_dir / "functions")
    truth = json.dumps(sample.truth.to_dict(), indent=2, ensure_ascii=False) + "\n"
    written.append(_write(out_dir / "expected.json", truth))
    _remove_stale(out_dir, written)
    return sorted(written)
