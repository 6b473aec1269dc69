"""Shared builders for the side-input tests: the fixtures folder, loading helpers, and Lambda
REPORT records made for the traced executions of given spans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from analyses.invocations import invocations
from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import REPORT_SCHEMA
from tracelens.sideinputs import LambdaLogs, load_logs

FIXTURES = Path(__file__).resolve().parents[1] / "sideinputs" / "fixtures"
LOGS = FIXTURES / "logs"
BAD = FIXTURES / "bad"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def logs_of(*paths: Path | str) -> tuple[LambdaLogs, RejectionLog]:
    rejections = RejectionLog()
    return load_logs(list(paths), rejections=rejections), rejections


def report(logs: LambdaLogs, request_id: str) -> dict[str, Any]:
    rows = logs.reports.filter(pl.col("request_id") == request_id).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def events_of(logs: LambdaLogs, kind: str) -> list[dict[str, Any]]:
    return logs.events.filter(pl.col("kind") == kind).to_dicts()


def reasons(rejections: RejectionLog) -> list[str]:
    return [r.describe() for r in rejections.listed]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def reports_for(spans: pl.DataFrame, *, untraced: int = 4) -> pl.DataFrame:
    """``REPORT_SCHEMA`` rows as Lambda writes them for the traced executions of ``spans``
    (each REPORT timed at its execution's end, possibly the next hour), of every kind a REPORT
    count meets: every third one timed out, every fifth one naming no function (a log read
    without its log group: its traced execution names it), and ``untraced`` more of the first
    function with no traced execution (sampled out; half timed out), one naming no function
    (counted nowhere) and one without a time."""
    traced = invocations(spans).drop_nulls("request_id").sort("request_id")
    rows: list[dict[str, Any]] = []
    for n, row in enumerate(traced.iter_rows(named=True)):
        ended = row["start_time"] + timedelta(milliseconds=row["duration_ms"] or 0)
        rows.append(
            {
                "function_name": None if n % 5 == 4 else row["function_name"],
                "request_id": row["request_id"],
                "timestamp": ended,
                "duration_ms": row["duration_ms"],
                "status": "timeout" if n % 3 == 0 else "success",
            }
        )
    first = traced.row(0, named=True) if traced.height else None
    name = first["function_name"] if first else "orders"
    moment = first["start_time"] if first else datetime(2026, 11, 20, 9, tzinfo=UTC)
    for n in range(untraced):
        rows.append(
            {
                "function_name": name,
                "request_id": f"untraced-{n}",
                "timestamp": moment + timedelta(hours=n),
                "status": "timeout" if n % 2 == 0 else "success",
            }
        )
    rows.append({"function_name": None, "request_id": "nameless", "timestamp": moment})
    rows.append({"function_name": name, "request_id": "untimed", "status": "timeout"})
    return pl.DataFrame(rows, schema=REPORT_SCHEMA)
