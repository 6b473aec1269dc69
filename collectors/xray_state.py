"""The X-Ray checkpoint state: which traces are stored, at which revision, complete or not.

The collector skips a trace stored complete at the same revision and fetches a partial one
again when its revision grows (``XRayCollector.collect(known=..., partial=...)``). Entries
older than X-Ray's retention (30 days) are dropped, which bounds the state: a trace id carries
its start time (``1-<8 hex digits of epoch seconds>-<24 hex digits>``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collectors.xray import XRayResult


class _Checkpointed(Protocol):
    """A checkpoint (:class:`tracelens.store.Checkpoint`): what state it keeps."""

    @property
    def state(self) -> Mapping[str, Any]: ...


XRAY_RETENTION = timedelta(days=30)
_TRACE_ID = re.compile(r"^1-([0-9a-fA-F]{8})-[0-9a-fA-F]{24}$")


def trace_start_s(trace_id: str) -> int | None:
    """The epoch seconds in an X-Ray trace id, or None when the id is not in that format."""
    match = _TRACE_ID.match(trace_id)
    return int(match.group(1), 16) if match else None


@dataclass(frozen=True)
class XRayState:
    """Traces stored so far.

    Attributes
    ----------
    complete
        Trace id -> revision of traces stored complete.
    partial
        Trace id -> revision of traces stored while still partial: to fetch again.
    """

    complete: Mapping[str, int] = field(default_factory=dict)
    partial: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_checkpoint(cls, checkpoint: _Checkpointed | None) -> XRayState:
        """The state kept in ``checkpoint`` (empty for None).

        Raises
        ------
        ValueError
            When the checkpoint's state is not an X-Ray state.
        """
        if checkpoint is None:
            return cls()
        return cls.from_mapping(checkpoint.state)

    @classmethod
    def from_mapping(cls, state: Mapping[str, Any]) -> XRayState:
        """The state from its JSON form (see :meth:`as_mapping`)."""
        return cls(_revisions(state, "complete"), _revisions(state, "partial"))

    def as_mapping(self) -> dict[str, Any]:
        """The JSON form, for :meth:`tracelens.store.Store.advance`."""
        return {"complete": dict(self.complete), "partial": dict(self.partial)}

    def after(
        self, result: XRayResult, *, now: datetime, retention: timedelta = XRAY_RETENTION
    ) -> XRayState:
        """The state once ``result`` is persisted, without entries older than ``retention``.

        A fetched trace is partial when its summary said so or X-Ray cut it at its size limit.
        A trace fetched without a summary (``XRayCollector.fetch``) keeps its earlier revision
        and partial mark.
        """
        complete, partial = dict(self.complete), dict(self.partial)
        for trace_id in result.trace_ids:
            known = complete.pop(trace_id, None)
            was_partial = partial.pop(trace_id, None)
            summarized = trace_id in result.revisions
            revision = result.revisions.get(trace_id, max(known or 0, was_partial or 0))
            is_partial = trace_id in result.partial_ids if summarized else was_partial is not None
            if is_partial or trace_id in result.limit_exceeded_ids:
                partial[trace_id] = revision
            else:
                complete[trace_id] = revision
        return XRayState(complete, partial).pruned(now=now, retention=retention)

    def pruned(self, *, now: datetime, retention: timedelta = XRAY_RETENTION) -> XRayState:
        """Without traces that started before ``now - retention`` (or whose id has no time)."""
        oldest_s = (now - retention).timestamp()

        def recent(trace_id: str) -> bool:
            started_s = trace_start_s(trace_id)
            return started_s is not None and started_s >= oldest_s

        return XRayState(
            {t: r for t, r in self.complete.items() if recent(t)},
            {t: r for t, r in self.partial.items() if recent(t)},
        )


def _revisions(state: Mapping[str, Any], key: str) -> dict[str, int]:
    value = state.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(rev, int) and not isinstance(rev, bool) for rev in value.values()
    ):
        raise ValueError(f"X-Ray checkpoint state {key!r} must map trace ids to revisions")
    return {str(trace_id): rev for trace_id, rev in value.items()}
