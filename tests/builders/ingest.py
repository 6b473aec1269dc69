"""Shared builders."""

from __future__ import annotations

from pathlib import Path

import orjson

from tracelens.ingest.loader import TraceInput

TRACE = "1-6912a0c0-0123456789abcdef01234567"


OTHER_TRACE = "1-6912a0c1-abcdefabcdefabcdefabcdef"


def segment(seg_id: str = "a" * 16, trace_id: str = TRACE, **fields: object) -> dict:
    doc: dict[str, object] = {
        "trace_id": trace_id,
        "id": seg_id,
        "name": "orders-api/prod",
        "start_time": 1762828480.123456,
        "end_time": 1762828480.323457,
    }
    doc.update(fields)
    return doc


def batch_page(*traces: list[dict]) -> dict:
    return {
        "Traces": [
            {
                "Id": docs[0]["trace_id"],
                "Duration": 0.2,
                "LimitExceeded": False,
                "Segments": [{"Id": d["id"], "Document": orjson.dumps(d).decode()} for d in docs],
            }
            for docs in traces
        ],
        "UnprocessedTraceIds": [],
    }


def write(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def same_input(parallel: TraceInput, sequential: TraceInput) -> None:
    assert parallel.spans.schema == sequential.spans.schema
    assert parallel.spans.equals(sequential.spans)
    for name in ("documents", "segments", "duplicates", "sources", "traces", "in_progress"):
        assert getattr(parallel, name) == getattr(sequential, name), name
    assert parallel.rejections == sequential.rejections
    assert parallel.read_stats == sequential.read_stats
