"""Rows stored before ingest refused impossible times are refused again when read back."""

from __future__ import annotations

import io

import polars as pl

from tests.builders.results import SPANS_PER_TRACE
from tests.builders.stores import persist_minutes
from tracelens.store import Store, layout

YEAR_10000 = 253402300800  # epoch seconds of 10000-01-01T00:00:00Z


def test_a_stored_row_with_an_impossible_time_is_refused_on_reading(store: Store) -> None:
    receipt = persist_minutes(store, [1])
    key = receipt.part_keys[0]
    frame = pl.read_parquet(io.BytesIO(store.backend.read_bytes(key)))
    assert frame.height == SPANS_PER_TRACE
    end_type = frame.schema["end_time"]
    damaged = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(YEAR_10000 * 1_000_000).cast(pl.Int64).cast(end_type))
        .otherwise(pl.col("end_time"))
        .alias("end_time")
    )
    buffer = io.BytesIO()
    damaged.write_parquet(buffer)
    store.backend.write_bytes(key, buffer.getvalue())
    store.backend.delete(layout.manifest_key(key))  # written before parts had checksums, too

    inputs, problems = store.load_inputs()

    assert not problems
    assert inputs.traces.spans.height == SPANS_PER_TRACE - 1
    assert inputs.traces.spans["end_time"].dt.year().max() < 2100
    assert inputs.traces.rejections.count == 1
    assert "impossible times" in inputs.traces.rejections.listed[0].reason
