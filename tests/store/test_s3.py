"""The S3 backend against moto's S3 server on 127.0.0.1 (never a real endpoint)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.builders.results import (
    ACCOUNT,
    BUCKET,
    REGION,
    SPANS_PER_TRACE,
    T0,
    WINDOW,
    Ticker,
    metric_series,
    metrics_result,
    traces_at,
    xray_result,
)
from tests.builders.stores import persist_minutes
from tracelens.store import RunRecord, S3Backend, Store, StoreError, open_store

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_store(s3: Any) -> Store:
    return open_store(f"s3://{BUCKET}/team/prod", s3_client=s3, clock=Ticker())


def test_persist_checkpoint_and_load_through_s3(s3_store: Store, s3: Any) -> None:
    traces = traces_at([T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)])
    receipt = s3_store.persist(xray_result(traces), account=ACCOUNT, region=REGION)
    s3_store.persist(xray_result(traces, revision=2), account=ACCOUNT, region=REGION)
    s3_store.persist(
        metrics_result([metric_series("orders Throttles Sum", {T0: 3.0})]),
        account=ACCOUNT,
        region=REGION,
    )
    s3_store.advance(receipt, state={"complete": {}})

    inputs, problems = s3_store.load_inputs()

    assert problems == []
    assert inputs.traces.spans.height == 2 * SPANS_PER_TRACE
    assert inputs.metrics is not None and inputs.metrics.get_column("value").to_list() == [3.0]
    checkpoint = s3_store.checkpoint("xray", ACCOUNT, REGION)
    assert checkpoint is not None and checkpoint.window_end == WINDOW.end
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert f"team/prod/{receipt.raw_key}" in keys
    assert all(key.startswith("team/prod/") for key in keys)


def test_a_damaged_object_is_reported_with_its_url(s3_store: Store) -> None:
    receipt = s3_store.persist(xray_result(traces_at([T0])), account=ACCOUNT, region=REGION)
    s3_store.backend.write_bytes(receipt.part_keys[0], b"PAR1 garbage")

    inputs, problems = s3_store.load_inputs()

    assert [p.location for p in problems] == [f"s3://{BUCKET}/team/prod/{receipt.part_keys[0]}"]
    assert inputs.traces.spans.height == 0


def test_run_records_through_s3(s3_store: Store) -> None:
    record = RunRecord(
        collector="logs",
        account=ACCOUNT,
        region=REGION,
        status="partial",
        started_at=T0,
        duration_ms=10.0,
        window=WINDOW,
        error="logs:GetQueryResults q-1: PollTimeout: stopped",
    )
    s3_store.record_run(record)
    assert s3_store.runs() == ([record], [])


def test_a_missing_bucket_is_a_clear_error(s3: Any) -> None:
    store = open_store("s3://no-such-bucket/x", s3_client=s3)
    with pytest.raises(StoreError, match="bucket no-such-bucket does not exist"):
        store.persist(xray_result(traces_at([T0])), account=ACCOUNT, region=REGION)


def test_a_missing_object_reads_as_missing(s3: Any) -> None:
    backend = S3Backend(BUCKET, "", client=s3)
    with pytest.raises(FileNotFoundError):
        backend.read_bytes("checkpoints/xray/a/b.json")
    assert backend.list_keys("spans") == []
    backend.delete("never/written.json")


def test_rollups_are_written_and_merged_through_s3(s3_store: Store, s3: Any) -> None:
    from tracelens.rollup import build, read, summary

    persist_minutes(s3_store, [1, 2])
    built = build(s3_store.backend)
    assert built.built == [T0.date()] and built.problems == []
    assert build(s3_store.backend).current == [T0.date()]

    merged = summary(read(s3_store.backend, since=None, until=None))
    assert merged["input"]["traces"] == 2
    assert merged["rollups"]["stale_days"] == [] and merged["rollups"]["missing_days"] == []
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    day = T0.date().isoformat()
    assert f"team/prod/rollups/date={day}/rollup.parquet" in keys
    assert not any(k.startswith("team/prod/rollups/") and k.endswith(".json") for k in keys)

    # a later run of the same day makes the rollup stale until it is built again
    later = traces_at([T0 + timedelta(minutes=3)])
    s3_store.persist(xray_result(later, revision=3), account=ACCOUNT, region=REGION)
    assert read(s3_store.backend, since=None, until=None).stale_days == [T0.date()]
    assert build(s3_store.backend).built == [T0.date()]
    assert summary(read(s3_store.backend, since=None, until=None))["input"]["traces"] == 3
