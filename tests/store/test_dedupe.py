"""Segments stored in more than one part are kept once, the same copy the exact grouping picks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from tracelens.store.dedupe import unique_segments
from tracelens.store.tables import PART, PART_TYPE, STORED_AT

T = datetime(2026, 11, 20, tzinfo=UTC)


def _rows(trace: str, segment: str, part: int, *, in_progress: bool = False) -> list[dict]:
    """A segment document: its root and one nested subsegment, as stored in ``part``."""
    common = {"trace_id": trace, "segment_id": segment, PART: part}
    stored = {STORED_AT: T + timedelta(minutes=part)}
    return [
        {**common, **stored, "id": segment, "depth": 0, "in_progress": in_progress},
        {**common, **stored, "id": f"{segment}-sub", "depth": 1, "in_progress": False},
    ]


def _frame(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "trace_id": pl.String(),
        "segment_id": pl.String(),
        PART: PART_TYPE,
        STORED_AT: pl.Datetime("us", "UTC"),
        "id": pl.String(),
        "depth": pl.Int16(),
        "in_progress": pl.Boolean(),
    }
    return pl.DataFrame(rows, schema=schema)


def test_a_store_without_repeats_is_returned_as_is() -> None:
    spans = _frame([row for n in range(50) for row in _rows(f"t{n % 7}", f"s{n}", n % 3)])

    kept, dropped = unique_segments(spans)

    assert dropped == 0
    assert kept.equals(spans)


def test_repeated_segments_keep_the_completed_then_the_latest_copy_whole() -> None:
    rows = [row for n in range(20) for row in _rows("t1", f"s{n}", 0)]
    rows += _rows("t1", "s3", 2)  # stored again later: this copy wins
    rows += _rows("t1", "s4", 3, in_progress=True)  # later but in progress: the older wins
    rows += _rows("t2", "s3", 1)  # another trace: not a repeat
    spans = _frame(rows)

    kept, dropped = unique_segments(spans)

    assert dropped == 2
    assert kept.height == spans.height - 4
    pairs = kept.select("trace_id", "segment_id", PART).unique().sort(pl.all())
    assert pairs.filter(pl.col("segment_id").is_in(["s3", "s4"])).rows() == [
        ("t1", "s3", 2),
        ("t1", "s4", 0),
        ("t2", "s3", 1),
    ]
    assert kept.get_column("id").to_list()[:4] == ["s0", "s0-sub", "s1", "s1-sub"]  # in order
