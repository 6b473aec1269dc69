"""The X-Ray checkpoint state: revisions of stored traces, partial ones, 30-day expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.builders.results import ACCOUNT, REGION, T0, trace_id, traces_at, xray_result
from tracelens.store import Store, XRayState
from tracelens.store.xray_state import trace_start_s

T1 = T0 + timedelta(minutes=1)


def test_trace_ids_carry_their_start_second() -> None:
    assert trace_start_s("1-5759e988-bd862e3fe1be46a994272793") == 0x5759E988
    assert trace_start_s("not-a-trace-id") is None


def test_fetched_traces_are_complete_or_partial_at_their_revision() -> None:
    traces = traces_at([T1, T1, T1])
    a, b, c = (tid for tid, _ in traces)
    result = replace(
        xray_result(traces, revision=4, partial=[b]), limit_exceeded_ids=frozenset({c})
    )

    state = XRayState().after(result, now=T1)

    assert state.complete == {a: 4}
    assert state.partial == {b: 4, c: 4}


def test_a_partial_trace_becomes_complete_when_fetched_complete() -> None:
    ((tid, docs),) = traces_at([T1])
    earlier = XRayState(partial={tid: 2})

    state = earlier.after(xray_result([(tid, docs)], revision=5), now=T1)

    assert state == XRayState(complete={tid: 5})


def test_a_trace_fetched_without_a_summary_keeps_its_mark() -> None:
    traces = traces_at([T1, T1])
    (a, _), (b, _) = traces
    fetched = replace(xray_result(traces), revisions={}, partial_ids=frozenset())

    state = XRayState(complete={a: 3}, partial={b: 2}).after(fetched, now=T1)

    assert state == XRayState(complete={a: 3}, partial={b: 2})


def test_entries_older_than_the_retention_expire() -> None:
    old, recent = trace_id(T0 - timedelta(days=31), 1), trace_id(T0 - timedelta(days=29), 2)
    state = XRayState(complete={old: 1, recent: 1, "garbage": 1}, partial={old: 1})

    assert state.pruned(now=T0) == XRayState(complete={recent: 1})


def test_state_survives_the_checkpoint(store: Store) -> None:
    traces = traces_at([T1, T1])
    result = xray_result(traces, revision=2, partial=[traces[1][0]])
    state = XRayState().after(result, now=T1)
    store.advance(store.persist(result, account=ACCOUNT, region=REGION), state=state.as_mapping())

    read = XRayState.from_checkpoint(store.checkpoint("xray", ACCOUNT, REGION))

    assert read == state
    assert read.complete == {traces[0][0]: 2}


def test_a_state_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="'complete' must map trace ids to revisions"):
        XRayState.from_mapping({"complete": {"1-x": "two"}})
