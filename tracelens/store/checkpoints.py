"""Checkpoints: where each (collector, account, region) resumes, as one small JSON file.

A checkpoint is written only by :meth:`tracelens.store.Store.advance`, which takes the receipt
of a persist: the window end moves forward only over data already durably stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from tracelens.store.errors import decode_json

FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """Where one collector resumes for one account and region.

    Attributes
    ----------
    collector
        ``"xray"``, ``"cloudwatch"``, ``"logs"``, ``"lambda"``.
    account, region
        Whose data.
    window_end
        The end of the last window stored completely; the next window starts here. None when
        no window has completed yet (or the collector has no windows).
    state
        Collector-specific JSON state, e.g. :class:`tracelens.store.XRayState` as a mapping.
    updated_at
        When the checkpoint was written (UTC).
    """

    collector: str
    account: str
    region: str
    window_end: datetime | None
    state: Mapping[str, Any] = field(default_factory=dict)
    updated_at: datetime


def encode(checkpoint: Checkpoint) -> bytes:
    """The checkpoint as JSON bytes."""
    window_end = checkpoint.window_end
    return orjson.dumps(
        {
            "format": FORMAT,
            "collector": checkpoint.collector,
            "account": checkpoint.account,
            "region": checkpoint.region,
            "window_end": window_end.isoformat() if window_end is not None else None,
            "state": dict(checkpoint.state),
            "updated_at": checkpoint.updated_at.isoformat(),
        },
        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
    )


def decode(data: bytes, location: str) -> Checkpoint:
    """The checkpoint in ``data``.

    Raises
    ------
    CorruptFileError
        When ``data`` is not a checkpoint (truncated, not JSON, fields missing or mistyped).
    """
    advice = "; delete it to start over"
    return decode_json(data, location, _checkpoint_from, what="a checkpoint", advice=advice)


def _checkpoint_from(value: Any) -> Checkpoint:
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ValueError(f"expected an object with format {FORMAT}")
    state = value["state"]
    if not isinstance(state, dict):
        raise TypeError("state is not an object")
    window_end = value["window_end"]
    return Checkpoint(
        collector=_text(value, "collector"),
        account=_text(value, "account"),
        region=_text(value, "region"),
        window_end=_aware(window_end) if window_end is not None else None,
        state=state,
        updated_at=_aware(value["updated_at"]),
    )


def _text(value: Mapping[str, Any], key: str) -> str:
    text = value[key]
    if not isinstance(text, str):
        raise TypeError(f"{key} is not a string")
    return text


def _aware(text: Any) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset")
    return moment
