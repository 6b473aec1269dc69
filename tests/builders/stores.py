"""Stores filled for tests: traces persisted at given minutes, as the X-Ray collector's pages;
the sample application's traces imported by the command line (rolled up as it imports); the
run records that name a store's targets."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl
from click.testing import Result

from tests.builders.cli import run_ok
from tests.builders.results import (
    ACCOUNT,
    REGION,
    T0,
    WINDOW,
    Ticker,
    filter_events_page,
    logs_result,
    traces_at,
    xray_result,
)
from tracelens.samples.bulk import write_bulk
from tracelens.store import PersistReceipt, RunRecord, Store, open_store
from tracelens.store import rollups as files


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


def persist_reports(
    store: Store,
    reports: Sequence[tuple[int, int, str]],
    *,
    function: str = "orders",
    target: tuple[str, str] = (ACCOUNT, REGION),
) -> PersistReceipt:
    """Lambda REPORT lines of ``function`` (each: minutes after ``T0``, the number of the trace
    ``persist_minutes`` made, whose request id is ``req-<number>``, and the status), persisted
    as a Logs collection (FilterLogEvents) of ``target``."""
    events = [
        (
            T0 + timedelta(minutes=minute),
            f"REPORT RequestId: req-{number}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
            f"Memory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: {status}",
        )
        for minute, number, status in reports
    ]
    result = logs_result([filter_events_page(function, events)])
    return store.persist(result, account=target[0], region=target[1])


def write_rollup_file(
    store: Store, day: date, frame: pl.DataFrame, metadata: Mapping[str, object]
) -> None:
    """``day``'s rollup file holding ``frame``, its footer holding ``metadata`` alone (each value
    as JSON): a rollup as an earlier version wrote it."""
    buffer = io.BytesIO()
    frame.write_parquet(
        buffer, metadata={key: orjson.dumps(value).decode() for key, value in metadata.items()}
    )
    store.backend.write_bytes(files.rollup_key(day), buffer.getvalue())


def import_bulk(
    store: Path | str,
    exports: Path,
    traces: int,
    *,
    seed: int,
    start: datetime,
    period: timedelta,
    target: tuple[str, str] | None = None,
    options: Sequence[str] = ("-q",),
) -> Result:
    """``traces`` traces of the sample application over ``period`` from ``start`` written to
    ``exports`` as BatchGetTraces pages, then ``tracelens import``-ed into ``store`` (as
    ``target``'s, account and region, when given) with ``options``."""
    write_bulk(exports, traces, seed=seed, fmt="batch", start=start, period=period)
    named = ["--account", target[0], "--region", target[1]] if target else []
    return run_ok("import", str(exports), "--store", str(store), *options, *named)


def record_target(store: Path | str, target: tuple[str, str], started_at: datetime) -> None:
    """A run of the X-Ray collector for ``target`` (account, region) recorded in ``store``: the
    run records of a collection name a store's targets."""
    account, region = target
    open_store(str(store)).record_run(
        RunRecord(
            collector="xray",
            account=account,
            region=region,
            status="ok",
            started_at=started_at,
            duration_ms=1.0,
            window=WINDOW,
        )
    )
