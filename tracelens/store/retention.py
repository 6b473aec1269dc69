"""The retention cutoff: the first day a prune kept, recorded so that nothing older comes back.

``retention.json`` at the store's root holds ``{"format": 1, "before": "YYYY-MM-DD"}``. A prune
records it (never moving it back) before deleting anything; a rebuild (and so a repair) writes
no row dated before it, even from a raw run that holds such rows next to newer ones.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson

from tracelens.store.backend import Backend
from tracelens.store.errors import CorruptFileError, MissingKeyError, decode_json

KEY = "retention.json"
FORMAT = 1
_ADVICE = (
    ": write it again with `tracelens store prune --older-than ...` (the period the store "
    "keeps), or delete it to keep every day the raw pages hold"
)


def cutoff(backend: Backend) -> date | None:
    """The first day kept by the prunes so far (None: never pruned).

    Raises
    ------
    CorruptFileError
        When the file is damaged (rebuilding then would risk bringing back pruned days).
    """
    try:
        data = backend.read_bytes(KEY)
    except MissingKeyError:
        return None
    return decode_json(
        data, backend.location(KEY), _before, what="a retention record", advice=_ADVICE
    )


def _before(value: Any) -> date:
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ValueError(f"expected an object with format {FORMAT}")
    return date.fromisoformat(str(value["before"]))


def record(backend: Backend, before: date) -> date:
    """Record ``before`` as the cutoff unless a later one is recorded; the cutoff in force."""
    try:
        recorded = cutoff(backend)
    except CorruptFileError:  # NOTE: a damaged record is replaced by this prune's
        recorded = None
    if recorded is not None and recorded >= before:
        return recorded
    backend.write_bytes(KEY, orjson.dumps({"format": FORMAT, "before": before.isoformat()}))
    return before
