"""Stores filled for tests: traces persisted at given minutes, as the X-Ray collector's pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.builders.results import ACCOUNT, REGION, T0, Ticker, traces_at, xray_result
from tracelens.store import PersistReceipt, Store, open_store


def rollup_store(tmp_path: Path) -> Store:
    """An empty local store under ``tmp_path`` whose clock ticks from three days after ``T0``
    (the days the tests persist are past, and roll up)."""
    return open_store(str(tmp_path / "store"), clock=Ticker(T0 + timedelta(days=3)))


def persist_minutes(
    store: Store,
    minutes: list[int],
    *,
    day: int = 0,
    first: int = 1,
    target: tuple[str, str] = (ACCOUNT, REGION),
) -> PersistReceipt:
    """One generated trace at each of ``minutes`` after ``T0`` (``day`` days later), numbered
    from ``first``, persisted as an X-Ray collection of ``target`` (account, region)."""
    starts = [T0 + timedelta(days=day, minutes=m) for m in minutes]
    result = xray_result(traces_at(starts, first=first))
    return store.persist(result, account=target[0], region=target[1])
