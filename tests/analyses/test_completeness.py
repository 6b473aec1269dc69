"""analyses.completeness: what the traces lack, counted."""

from __future__ import annotations

import polars as pl

from analyses.completeness import COMPLETENESS_SCHEMA, ISSUES, completeness, issue_counts
from tracelens.ingest.normalize import normalize_documents
from tracelens.schema import SPAN_SCHEMA

TRACE = "1-6b0010b0-0123456789abcdef01234567"
T0 = 1_800_000_000.0  # inside the accepted time range


def test_empty_spans_give_every_issue_at_zero() -> None:
    table = completeness(pl.DataFrame(schema=SPAN_SCHEMA))
    assert dict(table.schema) == COMPLETENESS_SCHEMA
    assert issue_counts(table) == dict.fromkeys(ISSUES, 0)


def test_a_child_within_the_tolerance_is_not_early() -> None:
    segment = {
        "trace_id": TRACE,
        "id": "00000000000000a1",
        "name": "api",
        "start_time": T0 + 0.0,
        "end_time": T0 + 1.0,
        "subsegments": [
            # 0.5 ms early: millisecond timestamps
            {
                "id": "00000000000000b1",
                "name": "ok",
                "start_time": T0 - 0.0005,
                "end_time": T0 + 0.5,
            },
            {
                "id": "00000000000000b2",
                "name": "early",
                "start_time": T0 - 0.1,
                "end_time": T0 + 0.5,
            },
        ],
    }
    table = completeness(normalize_documents([segment]))
    assert issue_counts(table) == {
        "missing_root": 0,
        "orphan_segment": 0,
        "in_progress_subsegment": 0,
        "child_before_parent": 1,
    }
    row = table.filter(issue="child_before_parent").row(0, named=True)
    assert row["example"] == "early starts 100.0 ms before its parent api"


def test_in_progress_subsegment_of_an_in_progress_segment_is_not_counted() -> None:
    segment = {
        "trace_id": TRACE,
        "id": "00000000000000a1",
        "name": "api",
        "start_time": T0 + 0.0,
        "in_progress": True,
        "subsegments": [
            {"id": "00000000000000b1", "name": "work", "start_time": T0 + 0.1, "in_progress": True}
        ],
    }
    assert issue_counts(completeness(normalize_documents([segment])))["in_progress_subsegment"] == 0
