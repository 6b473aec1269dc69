"""Run records: how every collector run went, for the collector-health view and ``status``.

Records are JSON lines. Each call to :meth:`tracelens.store.Store.record_runs` writes one new
object (appending in place is not atomic on S3); readers list and concatenate them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import orjson

from collectors.base import CollectorResult, Window
from tracelens.store.errors import CorruptFileError

RunStatus = Literal["ok", "partial", "failed"]
RUN_STATUSES: frozenset[str] = frozenset(get_args(RunStatus))


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One collector run.

    Attributes
    ----------
    collector, account, region
        Which run.
    status
        ``"ok"`` (window complete), ``"partial"`` (stored, some items to fetch again) or
        ``"failed"`` (nothing stored; ``error`` says why).
    started_at
        When the run started (UTC).
    duration_ms
        Wall time of collecting and storing.
    window
        The window asked for, when the collector has windows.
    items
        Normalized rows stored by the run.
    api_calls, throttles, retries
        API usage (:class:`collectors.base.CallStats`).
    failures, warnings
        How many items failed and how many warnings the collector gave.
    error
        Why the run failed, or the first failure of a partial run.
    """

    collector: str
    account: str
    region: str
    status: RunStatus
    started_at: datetime
    duration_ms: float
    window: Window | None = None
    items: int = 0
    api_calls: int = 0
    throttles: int = 0
    retries: int = 0
    failures: int = 0
    warnings: int = 0
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in RUN_STATUSES:
            raise ValueError(f"run status {self.status!r} is not one of {sorted(RUN_STATUSES)}")
        if self.started_at.tzinfo is None:
            raise ValueError("RunRecord.started_at must be time-zone aware (tzinfo=UTC)")

    @classmethod
    def of_result(
        cls,
        result: CollectorResult,
        *,
        account: str,
        region: str,
        started_at: datetime,
        duration_ms: float,
        items: int,
    ) -> RunRecord:
        """The record of a run whose result was persisted (``items``: rows stored)."""
        first = result.failures[0] if result.failures else None
        return cls(
            collector=result.source,
            account=account,
            region=region,
            # NOTE: a run in which every call failed stored nothing: it failed, whatever was due.
            status="ok"
            if result.complete
            else ("failed" if result.failures and not result.pages else "partial"),
            started_at=started_at,
            duration_ms=duration_ms,
            window=result.window,
            items=items,
            api_calls=result.stats.api_calls,
            throttles=result.stats.throttles,
            retries=result.stats.retries,
            failures=len(result.failures),
            warnings=len(result.warnings),
            error=f"{first.api} {first.key}: {first.code}: {first.message}" if first else None,
        )


def encode_lines(records: Sequence[RunRecord]) -> tuple[str, bytes]:
    """``(digest, JSON lines)`` of ``records``."""
    lines = b"".join(orjson.dumps(_as_json(record)) + b"\n" for record in records)
    return hashlib.sha256(lines).hexdigest()[:16], lines


def _as_json(record: RunRecord) -> dict[str, Any]:
    value = asdict(record)
    value["started_at"] = record.started_at.isoformat()
    value["window"] = record.window.as_dict() if record.window is not None else None
    return value


def decode_lines(data: bytes, location: str) -> tuple[list[RunRecord], list[CorruptFileError]]:
    """The records in ``data``, and one error per line that is not a record."""
    records: list[RunRecord] = []
    errors: list[CorruptFileError] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(_record_from(orjson.loads(line)))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            errors.append(CorruptFileError(location, f"line {number}: not a run record ({exc})"))
    return records, errors


def _record_from(value: Any) -> RunRecord:
    if not isinstance(value, dict):
        raise TypeError("a run record is a JSON object")
    window = value.get("window")
    fields = {**value, "started_at": datetime.fromisoformat(value["started_at"])}
    fields["window"] = (
        Window(datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"]))
        if window is not None
        else None
    )
    return RunRecord(**fields)
