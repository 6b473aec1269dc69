"""A trace is dated by a fact of its own, not by the run that stores a piece of it.

Pieces of one trace stored by two runs either side of midnight (two imported files, an
asynchronous consumer collected in a later window) go to one date partition: the time in an
X-Ray trace id (or an X-Ray-compatible W3C id in aws/spans) when it is plausible, else the
earliest start, looked up in the previous day for a trace starting just after midnight.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from tests.builders.results import ACCOUNT, REGION, xray_result
from tracelens import rollup
from tracelens.cli import main
from tracelens.engines import open_engine
from tracelens.rollup import long_window
from tracelens.rollup_partitions import read_spans
from tracelens.store import Store, open_store, parts
from tracelens.store.derive import id_time, trace_days
from tracelens.windowplan import plan_windows

MIDNIGHT = datetime(2026, 11, 21, tzinfo=UTC)
XRAY_ID = f"1-{int(MIDNIGHT.timestamp()) - 1:08x}-0123456789abcdef01234561"  # 23:59:59
RANDOM_W3C = "0af7651916cd43dd8448eb211c803191"  # first 8 hex: 1975, not this trace's time


def _root(tid: str) -> dict[str, Any]:
    start = MIDNIGHT.timestamp() - 0.1
    return {
        "id": "1111111111111111",
        "trace_id": tid,
        "name": "api",
        "start_time": start,
        "end_time": start + 0.7,
        "origin": "AWS::Lambda::Function",
        "subsegments": [
            {
                "id": "2222222222222222",
                "name": "child",
                "start_time": start + 0.05,
                "end_time": start + 0.65,
                "namespace": "aws",
                "aws": {"operation": "Invoke", "function_name": "worker"},
            }
        ],
    }


def _downstream(tid: str) -> dict[str, Any]:
    start = MIDNIGHT.timestamp() + 0.1
    return {
        "id": "3333333333333333",
        "trace_id": tid,
        "name": "worker",
        "parent_id": "2222222222222222",
        "start_time": start,
        "end_time": start + 0.4,
        "origin": "AWS::Lambda::Function",
    }


def _days(store: Store) -> list[str]:
    return sorted({key.split("/")[1] for key in store.backend.list_keys("spans")})


def _xray_id(w3c: str) -> str:
    return f"1-{w3c[:8]}-{w3c[8:]}"


def test_an_id_time_dates_a_trace_whatever_run_stores_it() -> None:
    spans = pl.DataFrame(
        {
            "trace_id": [XRAY_ID, XRAY_ID, RANDOM_W3C, _xray_id(RANDOM_W3C), "not-an-id"],
            "start_time": [MIDNIGHT + timedelta(seconds=0.1)] * 2
            + [MIDNIGHT + timedelta(seconds=s) for s in (0.1, 0.1, 0.1)],
        },
        schema={"trace_id": pl.String(), "start_time": pl.Datetime("us", "UTC")},
    )

    days = trace_days(spans).sort("trace_id")
    dated = dict(zip(days.get_column("trace_id"), days.get_column("_date"), strict=True))
    timed = dict(zip(days.get_column("trace_id"), days.get_column("timed"), strict=True))

    assert dated[XRAY_ID] == (MIDNIGHT - timedelta(days=1)).date()  # its id says 23:59:59
    assert timed[XRAY_ID]
    # a random W3C id's first digits are no time of this trace: its earliest span dates it
    assert dated[_xray_id(RANDOM_W3C)] == MIDNIGHT.date() and not timed[_xray_id(RANDOM_W3C)]
    assert dated[RANDOM_W3C] == MIDNIGHT.date() and not timed[RANDOM_W3C]
    assert dated["not-an-id"] == MIDNIGHT.date()
    seconds = spans.select(id_time(pl.col("trace_id"))).to_series().to_list()
    assert seconds[0] == MIDNIGHT - timedelta(seconds=1)
    assert seconds[2] is None and seconds[4] is None


def test_a_span_before_its_id_time_dates_the_trace_itself() -> None:
    """Clock skew: a span starting a little before the id's time; a trace is never dated after
    its earliest span (a window's reader looks in its days and the day before only)."""
    tid = f"1-{int(MIDNIGHT.timestamp()) + 1:08x}-0123456789abcdef01234561"  # 00:00:01
    spans = pl.DataFrame(
        {"trace_id": [tid], "start_time": [MIDNIGHT - timedelta(seconds=2)]},
        schema={"trace_id": pl.String(), "start_time": pl.Datetime("us", "UTC")},
    )

    (row,) = trace_days(spans).iter_rows(named=True)

    assert row["_date"] == (MIDNIGHT - timedelta(days=1)).date() and row["timed"]


def _import(store: Path, *files: Path) -> None:
    for path in files:
        result = CliRunner().invoke(main, ["import", str(path), "--store", str(store), "-q"])
        assert result.exit_code == 0, result.output


def _summary(store: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["store", "summary", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def _write(path: Path, *documents: dict[str, Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in documents))
    return path


def test_a_trace_imported_from_two_files_either_side_of_midnight_stays_one(
    tmp_path: Path,
) -> None:
    a = _write(tmp_path / "a.ndjson", _root(XRAY_ID))
    b = _write(tmp_path / "b.ndjson", _downstream(XRAY_ID))
    location = tmp_path / "store"

    _import(location, a, b)

    assert _days(open_store(location)) == ["date=2026-11-20"]
    summary = _summary(location)
    assert summary["input"]["traces"] == 1
    edges = {(e["source"], e["target"]) for e in summary["service_map"]["edges"]}
    assert ("api", "worker") in edges and ("api", "child") not in edges


def _collected(store: Store, documents: list[dict[str, Any]]) -> None:
    tid = documents[0]["trace_id"]
    store.persist(xray_result([(tid, documents)]), account=ACCOUNT, region=REGION)


def test_a_trace_collected_in_two_runs_either_side_of_midnight_stays_one(store: Store) -> None:
    _collected(store, [_root(XRAY_ID)])
    _collected(store, [_downstream(XRAY_ID)])

    assert _days(store) == ["date=2026-11-20"]
    inputs, _ = store.load_inputs()
    assert inputs.traces.traces == 1
    # a window of the next day holds no piece of it: the trace started the day before
    after, _ = store.load_inputs(since=MIDNIGHT)
    assert after.traces.traces == 0


def _span(trace: str, span: str, parent: str, start: datetime, name: str) -> dict[str, Any]:
    start_ns = int(start.timestamp()) * 10**9 + start.microsecond * 1000
    return {
        "resource": {"attributes": {"service.name": name, "cloud.region": REGION}},
        "scope": {"name": "aws.xray", "version": "1.0"},
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "flags": 256,
        "name": name,
        "kind": "SERVER",
        "startTimeUnixNano": start_ns,
        "endTimeUnixNano": start_ns + 100_000_000,
        "durationNano": 100_000_000,
        "attributes": {"aws.span.kind": "LOCAL_ROOT", "aws.local.service": name},
        "status": {"code": "UNSET"},
    }


def test_aws_spans_ids_carrying_a_time_keep_a_trace_in_one_day(tmp_path: Path) -> None:
    w3c = XRAY_ID.replace("1-", "").replace("-", "")  # X-Ray-compatible: 23:59:59 in front
    before = _span(w3c, "1111111111111111", "", MIDNIGHT - timedelta(seconds=0.1), "api")
    after = _span(w3c, "3333333333333333", "1111111111111111", MIDNIGHT, "worker")
    location = tmp_path / "store"

    _import(location, _write(tmp_path / "a.json", before), _write(tmp_path / "b.json", after))

    assert _days(open_store(location)) == ["date=2026-11-20"]
    assert _summary(location)["input"]["traces"] == 1


def test_a_trace_without_a_time_in_its_id_starting_after_midnight_joins_the_day_before(
    store: Store, tmp_path: Path
) -> None:
    _collected(store, [_root(_xray_id(RANDOM_W3C))])
    _collected(store, [_downstream(_xray_id(RANDOM_W3C))])
    location = tmp_path / "imported"
    a = _write(
        tmp_path / "a.json",
        _span(RANDOM_W3C, "1111111111111111", "", MIDNIGHT - timedelta(seconds=0.1), "api"),
    )
    b = _write(
        tmp_path / "b.json",
        _span(RANDOM_W3C, "3333333333333333", "1111111111111111", MIDNIGHT, "worker"),
    )

    _import(location, a, b)

    assert _days(store) == ["date=2026-11-20"]
    assert store.load_inputs()[0].traces.traces == 1
    assert _days(open_store(location)) == ["date=2026-11-20"]
    # a rebuild dates it the same way
    store.rebuild()
    assert _days(store) == ["date=2026-11-20"]


def test_a_trace_dated_the_day_before_its_first_stored_span_is_in_that_days_window(
    store: Store,
) -> None:
    """The span that began the trace (23:59:59) is not stored: the trace is in the day of its
    id, and a window starting at midnight still finds it (and its whole trace only)."""
    _collected(store, [_downstream(XRAY_ID)])
    other = f"1-{int(MIDNIGHT.timestamp()) - 7200:08x}-0123456789abcdef01234562"
    _collected(store, [{**_root(other), "start_time": MIDNIGHT.timestamp() - 7200}])

    assert _days(store) == ["date=2026-11-20"]
    inside, problems = store.load_inputs(since=MIDNIGHT, until=MIDNIGHT + timedelta(hours=1))
    assert problems == []
    assert inside.traces.spans.get_column("trace_id").unique().to_list() == [XRAY_ID]
    before, _ = store.load_inputs(since=MIDNIGHT - timedelta(hours=3), until=MIDNIGHT)
    assert before.traces.spans.get_column("trace_id").unique().to_list() == [other]


def test_a_window_from_midnight_lists_its_day_and_the_one_before_and_probes_two_columns(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window's read lists its day's directory and the day before's, and takes the day
    before from that listing (the whole spans table was listed twice); the day before's parts
    are probed for their trace ids and starts alone (with the account and region columns,
    which no filter needed)."""
    _collected(store, [_downstream(XRAY_ID)])
    other = f"1-{int(MIDNIGHT.timestamp()) - 7200:08x}-0123456789abcdef01234562"
    _collected(store, [{**_root(other), "start_time": MIDNIGHT.timestamp() - 7200}])
    older = f"1-{int(MIDNIGHT.timestamp()) - 3 * 86400:08x}-0123456789abcdef01234563"
    _collected(store, [{**_root(older), "start_time": MIDNIGHT.timestamp() - 3 * 86400}])
    assert _days(store) == ["date=2026-11-18", "date=2026-11-20"]
    listed: list[str] = []
    list_keys = store.backend.list_keys

    def listing(prefix: str) -> list[str]:
        listed.append(prefix)
        return list_keys(prefix)

    monkeypatch.setattr(store.backend, "list_keys", listing)
    read: list[tuple[str, tuple[str, ...] | None]] = []
    read_part = parts.read_part

    def reading(backend: Any, key: str, table: Any, columns: Any = None) -> pl.DataFrame:
        read.append((key, None if columns is None else tuple(columns)))
        return read_part(backend, key, table, columns)

    monkeypatch.setattr(parts, "read_part", reading)

    inside, problems = store.load_inputs(since=MIDNIGHT, until=MIDNIGHT + timedelta(hours=1))

    assert problems == []
    assert inside.traces.spans.get_column("trace_id").unique().to_list() == [XRAY_ID]
    assert [prefix for prefix in listed if prefix.startswith("spans")] == [
        "spans/date=2026-11-20",
        "spans/date=2026-11-21",
    ]
    day_before = [key for key, _ in read if "date=2026-11-20" in key]
    probes = {columns for key, columns in read if "date=2026-11-20" in key and columns}
    assert ("trace_id", "start_time") in probes
    assert all(len(columns) == 2 or len(columns) > 4 for columns in probes)
    # both parts probed, the one holding the trace read again for its rows
    assert len(day_before) == 3


def _rolled_traces(store: Store, since: datetime | None, until: datetime | None) -> list[int]:
    """Traces of ``[since, until)`` from the rollups (read, the engine's roll-up of the spans,
    and one target's read), and from the spans, in that order."""
    backend = store.backend
    read = rollup.read(backend, since=since, until=until)
    engine = open_engine("local")
    try:
        from_spans, failed = read_spans(engine, backend, since=since, until=until)
    finally:
        engine.close()
    assert failed == []
    one = rollup.read(backend, since=since, until=until, target=(ACCOUNT, REGION))
    inputs, problems = store.load_inputs(since=since, until=until)
    assert problems == []
    return [rollup.sections(got.merged)["traces"] for got in (read, from_spans, one)] + [
        inputs.traces.traces
    ]


def test_a_trace_dated_the_day_before_its_first_stored_span_is_in_one_days_rollup(
    store: Store,
) -> None:
    """Its partition is the day of its id (23:59:59), its hour the day after (its first stored
    span): the rollup of its partition holds it, and a window starting at midnight reads it
    there (the rollup of the day before the window, its rows of the window's hours)."""
    _collected(store, [_downstream(XRAY_ID)])
    other = f"1-{int(MIDNIGHT.timestamp()) - 7200:08x}-0123456789abcdef01234562"
    _collected(store, [{**_root(other), "start_time": MIDNIGHT.timestamp() - 7200}])
    assert _days(store) == ["date=2026-11-20"]
    day, before = MIDNIGHT.date(), MIDNIGHT.date() - timedelta(days=1)
    windows = {
        "the day after": (MIDNIGHT, MIDNIGHT + timedelta(days=1), 1),
        "the day of its id": (MIDNIGHT - timedelta(days=1), MIDNIGHT, 1),
        "its hour": (MIDNIGHT, MIDNIGHT + timedelta(hours=1), 1),
        "the hours before it": (MIDNIGHT - timedelta(hours=3), MIDNIGHT, 1),
        "both days": (MIDNIGHT - timedelta(days=1), MIDNIGHT + timedelta(days=1), 2),
        "the whole store": (None, None, 2),
    }
    # no rollup written yet (rolled up from the spans for each read), then rollups
    for built in (False, True):
        if built:
            assert rollup.build(store.backend).built == [before]
        for name, (since, until, traces) in windows.items():
            assert _rolled_traces(store, since, until) == [traces] * 4, (name, built)
    after = rollup.read(store.backend, since=MIDNIGHT, until=MIDNIGHT + timedelta(days=1))
    # the day before the window is named with the days merged: its rollup holds the trace
    assert after.days == [before] and after.from_spans_days == after.missing_days == []
    plan = plan_windows(
        MIDNIGHT,
        MIDNIGHT + timedelta(days=2),
        now=MIDNIGHT + timedelta(days=2),
        span_window=timedelta(hours=1),
    )
    assert plan.rollup_since == MIDNIGHT
    assert long_window(store.backend, plan).held["traces"] == 1
    # a window after both: the day before it holds no trace of its hours, and is not named
    later = rollup.read(store.backend, since=MIDNIGHT + timedelta(days=1), until=None)
    assert later.days == [] and rollup.sections(later.merged)["traces"] == 0
    assert day not in rollup.read(store.backend, since=None, until=None).days
