"""Many segment documents, fast: the benchmark's input.

A small sample set is generated once; its traces are then replayed as templates, each copy
shifted in time and given new ids. Ids are remapped by XOR with a per-copy 64-bit salt, which
keeps every ``parent_id`` (and every ``cause`` exception reference) pointing at the right
document without a lookup table. Request ids inside ``aws`` are reused across copies.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from tracelens.atomic import replace_atomically
from tracelens.samples.generate import DEFAULT_START, SampleConfig, generate
from tracelens.samples.world import Document

TEMPLATE_TRACES = 120
DOCUMENTS_PER_NDJSON_FILE = 100_000
PAGES_PER_DIRECTORY = 1_000
DEFAULT_SEED = 20261120


def _salted(hex_id: str, salt: int) -> str:
    return f"{int(hex_id, 16) ^ salt:016x}"


def _cause(cause: Any, salt: int) -> Any:
    if isinstance(cause, str):
        return _salted(cause, salt)
    exceptions = [{**e, "id": _salted(e["id"], salt)} for e in cause.get("exceptions", ())]
    return {**cause, "exceptions": exceptions}


def _copy(node: Document, salt: int, delta_s: int) -> Document:
    out = node.copy()
    out["id"] = _salted(node["id"], salt)
    out["start_time"] = round(node["start_time"] + delta_s, 6)
    if "end_time" in node:
        out["end_time"] = round(node["end_time"] + delta_s, 6)
    if "parent_id" in node:
        out["parent_id"] = _salted(node["parent_id"], salt)
    if "cause" in node:
        out["cause"] = _cause(node["cause"], salt)
    children = node.get("subsegments")
    if children:
        out["subsegments"] = [_copy(child, salt, delta_s) for child in children]
    return out


def _templates(seed: int, start: datetime) -> list[tuple[int, list[Document]]]:
    """(trace epoch seconds, documents) of the template traces."""
    sample = generate(SampleConfig(seed=seed, traces=TEMPLATE_TRACES, start=start))
    return [(int(trace_id.split("-")[1], 16), list(docs)) for trace_id, docs in sample.traces]


def iter_segment_documents(
    n_segments: int,
    *,
    seed: int = DEFAULT_SEED,
    start: datetime = DEFAULT_START,
    period: timedelta = timedelta(days=1),
) -> Iterator[Document]:
    """Yield exactly ``n_segments`` segment documents of the sample application.

    Parameters
    ----------
    n_segments
        How many documents (segments, inferred segments) to yield; the last trace may be cut.
    seed
        Seed of the templates and of the new ids.
    start, period
        The copies' traces start within ``[start, start + period + 1 h)``, in trace order.

    Yields
    ------
    dict
        Complete segment documents, trace by trace (documents of one trace are contiguous).
    """
    templates = _templates(seed, start)
    per_cycle = sum(len(docs) for _, docs in templates)
    cycles = max(1, math.ceil(n_segments / per_cycle))
    shift_s = int(period.total_seconds() // cycles)
    rng = random.Random(seed ^ 0xB01C)
    produced = 0
    for cycle in range(cycles):
        delta_s = cycle * shift_s
        for epoch_s, docs in templates:
            salt = rng.getrandbits(64)
            trace_id = f"1-{epoch_s + delta_s:08x}-{rng.getrandbits(96):024x}"
            for doc in docs:
                if produced == n_segments:
                    return
                out = _copy(doc, salt, delta_s)
                out["trace_id"] = trace_id
                produced += 1
                yield out


def _write_ndjson(out_dir: Path, documents: Iterator[Document]) -> list[Path]:
    paths: list[Path] = []
    chunk: list[bytes] = []

    def flush() -> None:
        path = out_dir / f"segments-{len(paths):05d}.ndjson"
        replace_atomically(path, b"".join(chunk), durable=False)
        paths.append(path)
        chunk.clear()

    for doc in documents:
        chunk.append(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        if len(chunk) == DOCUMENTS_PER_NDJSON_FILE:
            flush()
    if chunk:
        flush()
    return paths


def _traces(documents: Iterator[Document]) -> Iterator[list[Document]]:
    current: list[Document] = []
    for doc in documents:
        if current and doc["trace_id"] != current[0]["trace_id"]:
            yield current
            current = []
        current.append(doc)
    if current:
        yield current


def _page(traces: list[list[Document]]) -> bytes:
    entries = []
    for docs in traces:
        start_s = min(d["start_time"] for d in docs)
        end_s = max(d.get("end_time", start_s) for d in docs)
        entries.append(
            {
                "Id": docs[0]["trace_id"],
                "Duration": round(end_s - start_s, 3),
                "LimitExceeded": False,
                "Segments": [{"Id": d["id"], "Document": orjson.dumps(d).decode()} for d in docs],
            }
        )
    return orjson.dumps({"Traces": entries, "UnprocessedTraceIds": []})


def _write_batches(out_dir: Path, documents: Iterator[Document]) -> list[Path]:
    paths: list[Path] = []
    batch: list[list[Document]] = []

    def flush() -> None:
        number = len(paths)
        folder = out_dir / f"{number // PAGES_PER_DIRECTORY:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"batch-get-traces-{number:06d}.json"
        replace_atomically(path, _page(batch), durable=False)
        paths.append(path)
        batch.clear()

    for trace in _traces(documents):
        batch.append(trace)
        if len(batch) == 5:
            flush()
    if batch:
        flush()
    return paths


def _write_spans(out_dir: Path, documents: Iterator[Document], n_spans: int) -> list[Path]:
    """``spans-NNNNN.jsonl`` files of 100,000 ``aws/spans`` records, ``n_spans`` in all."""
    from tracelens.samples.otel import span_records  # noqa: PLC0415 - only this format

    paths: list[Path] = []
    chunk: list[bytes] = []
    written = 0

    def flush() -> None:
        path = out_dir / f"spans-{len(paths):05d}.jsonl"
        path.write_bytes(b"".join(chunk))
        paths.append(path)
        chunk.clear()

    for trace in _traces(documents):
        for record in span_records(trace):
            if written == n_spans:
                break
            chunk.append(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
            written += 1
            if len(chunk) == DOCUMENTS_PER_NDJSON_FILE:
                flush()
    if chunk:
        flush()
    return paths


def write_bulk(
    out_dir: Path,
    n_segments: int,
    *,
    seed: int = DEFAULT_SEED,
    fmt: Literal["batch", "ndjson", "aws-spans"] = "ndjson",
    start: datetime = DEFAULT_START,
    period: timedelta = timedelta(days=1),
) -> list[Path]:
    """Write ``n_segments`` documents under ``out_dir`` and return the files written.

    ``fmt="ndjson"``: ``segments-NNNNN.ndjson`` files of 100,000 documents, one per line.
    ``fmt="batch"``: BatchGetTraces responses of 5 traces each (compact JSON), in
    sub-directories of 1,000 files.
    ``fmt="aws-spans"``: ``n_segments`` spans of the same traces as ``aws/spans`` records
    (see tracelens.samples.otel), ``spans-NNNNN.jsonl`` files of 100,000 records.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "aws-spans":
        # NOTE: a trace's OpenTelemetry form has more spans than documents: ask for as many
        # documents as spans and stop at the count.
        source = iter_segment_documents(n_segments, seed=seed, start=start, period=period)
        return _write_spans(out_dir, source, n_segments)
    documents = iter_segment_documents(n_segments, seed=seed, start=start, period=period)
    if fmt == "ndjson":
        return _write_ndjson(out_dir, documents)
    if fmt == "batch":
        return _write_batches(out_dir, documents)
    raise ValueError(f"fmt must be 'batch', 'ndjson' or 'aws-spans', got {fmt!r}")


def bulk_log_text(invocations: int) -> str:
    """A Lambda text log of ``invocations`` minimal invocations (START, two lines, END, REPORT;
    five lines each): the large-log input of benchmarks and tests."""
    lines = []
    for i in range(invocations):
        request_id = str(uuid.UUID(int=i))
        lines += [
            f"2026-11-20T09:00:00.000Z START RequestId: {request_id} Version: $LATEST",
            f"2026-11-20T09:00:00.001Z\t{request_id}\tINFO\titem {i}",
            f"2026-11-20T09:00:00.002Z\t{request_id}\tINFO\tdone {i}",
            f"2026-11-20T09:00:00.003Z END RequestId: {request_id}",
            f"2026-11-20T09:00:00.003Z REPORT RequestId: {request_id}\tDuration: 1.50 ms\t"
            "Billed Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t",
        ]
    return "\n".join(lines) + "\n"
