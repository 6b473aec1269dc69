"""Shared builders for the side-input tests: the fixtures folder and loading helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tracelens.ingest.rejections import RejectionLog
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
