"""Spans are clustered by trace-id bucket inside date partitions; stores without buckets read."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from tests.builders.results import ACCOUNT, REGION, T0, traces_at, xray_result
from tracelens.store import Store, layout
from tracelens.store.parts import read_part
from tracelens.store.tables import SPANS


def _many_traces() -> list[tuple[str, list[dict[str, object]]]]:
    starts = [T0 + timedelta(seconds=7 * n) for n in range(60)]
    starts += [T0 + timedelta(days=1, seconds=n) for n in range(20)]
    return traces_at(starts)


def test_a_trace_lives_in_exactly_one_date_and_bucket(store: Store) -> None:
    traces = _many_traces()
    receipt = store.persist(xray_result(traces), account=ACCOUNT, region=REGION)

    spans_keys = [key for key in receipt.part_keys if key.startswith("spans/")]
    homes: dict[str, set[str]] = {}
    for key in spans_keys:
        assert key.split("/")[2].startswith("bucket=")
        rows = read_part(store.backend, key, SPANS)
        bucket = int(key.split("/")[2].removeprefix("bucket="))
        buckets = rows.select(layout.trace_bucket(pl.col("trace_id"))).to_series().unique()
        assert buckets.to_list() == [bucket]
        for trace in rows.get_column("trace_id").unique():
            homes.setdefault(trace, set()).add(layout.partition_of(key))
    assert len(homes) == len(traces)
    assert all(len(places) == 1 for places in homes.values())
    assert len({layout.partition_of(key) for key in spans_keys}) > 4  # spread out


def test_buckets_depend_on_the_trace_id_text_alone() -> None:
    ids = pl.Series(["1-5f84c7a5-8d3c5e7a1b2c3d4e5f6a7b8c", "1-5f84c7a5-8d3c5e7a1b2c3d4e5f6a7bff"])
    ids = pl.concat([ids, pl.Series(["not-hex-zz", "", None], dtype=pl.String)])
    buckets = pl.select(layout.trace_bucket(pl.lit(ids))).to_series().to_list()
    assert buckets == [0x8C % layout.BUCKETS, 0xFF % layout.BUCKETS, 0, 0, 0]


def _unbucket(store: Store) -> None:
    """Move every spans part (and its manifest) to the layout written before buckets."""
    backend = store.backend
    for key in backend.list_keys("spans"):
        day, digest = layout.key_date(key), layout.part_digest(key)
        assert day is not None and digest is not None
        old = layout.part_key("spans", day, f"{digest}{key.split('/')[2][-2:]}")
        backend.write_bytes(old, backend.read_bytes(key))
        backend.write_bytes(layout.manifest_key(old), backend.read_bytes(layout.manifest_key(key)))
        backend.delete(key)
        backend.delete(layout.manifest_key(key))


def test_a_store_written_before_buckets_reads_the_same(store: Store) -> None:
    traces = _many_traces()
    store.persist(xray_result(traces), account=ACCOUNT, region=REGION)
    bucketed, _ = store.load_inputs()
    window = {"since": T0 + timedelta(days=1), "until": T0 + timedelta(days=2)}
    bucketed_day, _ = store.load_inputs(**window)

    _unbucket(store)
    assert all("bucket=" not in key for key in store.backend.list_keys("spans"))
    old, problems = store.load_inputs()
    old_day, _ = store.load_inputs(**window)

    assert problems == []
    order = ["trace_id", "id"]
    assert old.traces.spans.sort(order).equals(bucketed.traces.spans.sort(order))
    assert old_day.traces.spans.sort(order).equals(bucketed_day.traces.spans.sort(order))
    assert old_day.traces.traces == 20

    # The same pages stored again (new layout beside the old) add nothing.
    store.persist(xray_result(traces, revision=2), account=ACCOUNT, region=REGION)
    mixed, _ = store.load_inputs()
    assert mixed.traces.spans.sort(order).equals(bucketed.traces.spans.sort(order))
