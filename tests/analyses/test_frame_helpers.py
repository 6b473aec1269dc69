"""Joining on a hash of (trace id, span id) gives the exact join, collisions included."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import analyses._frames as frames
from analyses._frames import collect_in_memory, left_join_on_ids, text_contains


def _sides() -> tuple[pl.DataFrame, pl.DataFrame]:
    left = pl.DataFrame(
        {
            "trace_id": ["t1", "t1", "t2", None, "t2", "t3"],
            "segment_id": ["a", "b", "a", "a", None, "z"],
            "n": [1, 2, 3, 4, 5, 6],
        }
    )
    # A repeated (t2, a) matches twice, as a join on the strings does; nulls match nothing.
    right = pl.DataFrame(
        {
            "trace_id": ["t2", "t1", "t2", None, "t1"],
            "segment_id": ["a", "a", "a", "a", None],
            "owner_name": ["api", "orders", "api-2", "lost", "none"],
        }
    )
    return left, right


def test_left_join_on_ids_equals_the_join_on_strings() -> None:
    left, right = _sides()
    expected = left.join(right, on=["trace_id", "segment_id"], how="left", maintain_order="left")
    got = left_join_on_ids(left, right, on=("trace_id", "segment_id"))
    assert_frame_equal(got, expected)
    assert got["owner_name"].to_list() == ["orders", None, "api", "api-2", None, None, None]


def test_left_join_on_ids_joins_the_strings_when_hashes_collide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def colliding(trace_id: str, span_id: str) -> pl.Expr:
        both = pl.col(trace_id).is_not_null() & pl.col(span_id).is_not_null()
        return pl.when(both).then(pl.lit(7, pl.UInt64)).alias("_pair_key")

    monkeypatch.setattr(frames, "id_pair_key", colliding)
    left, right = _sides()
    expected = left.join(right, on=["trace_id", "segment_id"], how="left", maintain_order="left")
    assert_frame_equal(left_join_on_ids(left, right, on=("trace_id", "segment_id")), expected)


def test_collect_in_memory_equals_collect() -> None:
    spans = pl.DataFrame({"kind": ["segment", "subsegment", "segment"], "x": [1, 2, 3]})
    source = spans.lazy()
    query = source.filter(pl.col("kind") == "segment").join(
        source.filter(pl.col("x") > 1), on="x", how="left", maintain_order="left"
    )
    assert_frame_equal(collect_in_memory(query), query.collect())


@pytest.mark.parametrize("dtype", [pl.String(), pl.Categorical()])
def test_text_contains_matches_each_row_as_its_text_does(dtype: pl.DataType) -> None:
    names = ["Attempt #1", None, "Dwell Time", "Attempt #12", "attempt #2", "Attempt #1"]
    frame = pl.DataFrame({"name": pl.Series(names, dtype=dtype)})
    pattern = r"^Attempt #(\d+)$"
    matched = frame.select(text_contains(frame, "name", pattern)).to_series()
    assert matched.to_list() == [True, None, False, True, False, True]
    # a frame whose values are a subset of the one matched against gives the same rows
    assert frame.slice(2).select(text_contains(frame, "name", pattern)).to_series().to_list() == [
        False,
        True,
        False,
        True,
    ]
