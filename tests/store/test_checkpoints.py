"""Checkpoints move only over data already stored, and resume cleanly after a crash."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from tests.builders.results import (
    ACCOUNT,
    REGION,
    SPANS_PER_TRACE,
    T0,
    WINDOW,
    Ticker,
    lambda_result,
    traces_at,
    xray_result,
)
from tracelens.store import (
    CorruptFileError,
    LocalBackend,
    PersistReceipt,
    Store,
    StoreError,
    XRayState,
    open_store,
)

T1, T2, T3 = (T0 + timedelta(minutes=m) for m in (1, 2, 3))


def test_no_checkpoint_before_the_first_advance(store: Store) -> None:
    assert store.checkpoint("xray", ACCOUNT, REGION) is None


def test_advance_moves_the_window_end_over_a_stored_complete_window(store: Store) -> None:
    receipt = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)

    moved = store.advance(receipt, state={"complete": {"x": 1}})

    assert moved.window_end == WINDOW.end
    read = store.checkpoint("xray", ACCOUNT, REGION)
    assert read == moved
    assert read is not None and read.state == {"complete": {"x": 1}}
    assert store.backend.list_keys("checkpoints") == [f"checkpoints/xray/{ACCOUNT}/{REGION}.json"]


def test_a_partial_result_keeps_the_window_end_and_updates_the_state(store: Store) -> None:
    first = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    store.advance(first, state={"n": 1})
    later = replace(WINDOW, start=WINDOW.end, end=WINDOW.end + timedelta(minutes=10))
    traces = traces_at([T2, T3])
    partial = xray_result(traces, window=later, failed=[traces[1][0]])

    moved = store.advance(store.persist(partial, account=ACCOUNT, region=REGION), state={"n": 2})

    assert moved.window_end == WINDOW.end
    assert moved.state == {"n": 2}


def test_the_window_end_never_moves_backwards(store: Store) -> None:
    later = replace(WINDOW, start=WINDOW.end, end=WINDOW.end + timedelta(minutes=10))
    store.advance(
        store.persist(xray_result(traces_at([T1]), window=later), account=ACCOUNT, region=REGION)
    )
    replayed = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)

    assert store.advance(replayed).window_end == later.end


def test_state_is_kept_when_none_is_given(store: Store) -> None:
    store.advance(
        store.persist(lambda_result({"orders": 128}), account=ACCOUNT, region=REGION),
        state={"k": 1},
    )
    moved = store.advance(
        store.persist(lambda_result({"orders": 256}), account=ACCOUNT, region=REGION)
    )
    assert moved.state == {"k": 1}
    assert moved.window_end is None  # configuration has no window


def test_advance_refuses_a_receipt_persist_did_not_make(store: Store, tmp_path: Path) -> None:
    made = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    forged = PersistReceipt(**{**made.__dict__, "_seal": None})
    other = open_store(tmp_path / "other")

    with pytest.raises(StoreError, match="persist the result first"):
        store.advance(forged)
    with pytest.raises(StoreError, match="persist the result first"):
        other.advance(made)
    assert store.checkpoint("xray", ACCOUNT, REGION) is None


def test_a_failed_data_write_leaves_no_receipt_and_no_checkpoint(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: LocalBackend, key: str, data: bytes) -> None:
        if key.startswith("spans/"):
            raise StoreError("disk full")
        original(self, key, data)

    original = LocalBackend.write_bytes
    monkeypatch.setattr(LocalBackend, "write_bytes", refuse)

    with pytest.raises(StoreError, match="disk full"):
        store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    assert store.checkpoint("xray", ACCOUNT, REGION) is None
    assert store.backend.list_keys("raw")  # the raw pages are there, for a rebuild


def test_a_crash_between_data_and_checkpoint_is_repaired_by_running_again(tmp_path: Path) -> None:
    traces = traces_at([T1, T2])
    before_crash = open_store(tmp_path / "store", clock=Ticker())
    before_crash.persist(xray_result(traces), account=ACCOUNT, region=REGION)
    # the process dies here: data written, checkpoint not advanced

    restarted = open_store(tmp_path / "store", clock=Ticker(T0 + timedelta(hours=2)))
    assert restarted.checkpoint("xray", ACCOUNT, REGION) is None  # so the window runs again
    state = XRayState.from_checkpoint(None)
    receipt = restarted.persist(xray_result(traces, revision=2), account=ACCOUNT, region=REGION)
    restarted.advance(receipt, state=state.after(xray_result(traces), now=T2).as_mapping())

    inputs, problems = restarted.load_inputs()
    assert problems == []
    assert inputs.traces.spans.height == 2 * SPANS_PER_TRACE
    checkpoint = restarted.checkpoint("xray", ACCOUNT, REGION)
    assert checkpoint is not None and checkpoint.window_end == WINDOW.end


def test_a_corrupt_checkpoint_is_reported_and_replaced_by_the_next_advance(store: Store) -> None:
    key = f"checkpoints/xray/{ACCOUNT}/{REGION}.json"
    store.backend.write_bytes(key, b'{"format": 1, "collector": "xr')

    with pytest.raises(CorruptFileError, match="invalid JSON"):
        store.checkpoint("xray", ACCOUNT, REGION)
    found, problems = store.checkpoints()
    assert found == []
    assert [p.location for p in problems] == [store.backend.location(key)]

    receipt = store.persist(xray_result(traces_at([T1])), account=ACCOUNT, region=REGION)
    store.advance(receipt)
    checkpoint = store.checkpoint("xray", ACCOUNT, REGION)
    assert checkpoint is not None and checkpoint.window_end == WINDOW.end


def test_a_checkpoint_with_a_wrong_field_is_corrupt(store: Store) -> None:
    key = f"checkpoints/xray/{ACCOUNT}/{REGION}.json"
    store.backend.write_bytes(
        key,
        b'{"format": 1, "collector": "xray", "account": "a", "region": "r", '
        b'"window_end": "yesterday", "state": {}, "updated_at": "2026-11-20T10:00:00+00:00"}',
    )
    with pytest.raises(CorruptFileError, match="not a checkpoint"):
        store.checkpoint("xray", ACCOUNT, REGION)


def test_names_that_cannot_be_file_names_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match=r"account '\.\./x'"):
        store.persist(xray_result([]), account="../x", region=REGION)
    with pytest.raises(ValueError, match="region 'us/east'"):
        store.checkpoint("xray", ACCOUNT, "us/east")
