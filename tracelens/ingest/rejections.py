"""Rejected input: counted with a reason and listed, never silently dropped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from tracelens.limits import cut_string

MAX_LISTED = 50


@dataclass(frozen=True)
class Rejection:
    """One refused document or record.

    ``position`` locates it inside ``source``: ``line 12``, ``Traces[3].Segments[1]``, ``byte 0``.
    """

    source: str
    position: str
    reason: str

    def describe(self) -> str:
        return f"{self.source} ({self.position}): {self.reason}"


class RejectionSink(Protocol):
    """Where a reader records what it refuses (a :class:`RejectionLog`, or a span builder's
    view of one that lists refusals in input order)."""

    def add(self, source: str, position: str, reason: str) -> None: ...


@dataclass
class RejectionLog:
    """Counts every rejection and keeps the first ``limit`` for display."""

    limit: int = MAX_LISTED
    count: int = 0
    listed: list[Rejection] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, source: str, position: str, reason: str) -> None:
        # A reason may quote the value refused: a long one is cut, as strings are where they enter.
        reason = cut_string(reason)
        self.count += 1
        self.reasons[reason.split(":", 1)[0]] += 1
        if len(self.listed) < self.limit:
            self.listed.append(Rejection(source, position, reason))

    def extend(self, other: RejectionLog) -> None:
        self.count += other.count
        self.reasons.update(other.reasons)
        room = self.limit - len(self.listed)
        self.listed.extend(other.listed[: max(room, 0)])

    def commonest_reasons(self, n: int) -> list[tuple[str, int]]:
        """The ``n`` reasons refused most often, with their counts (ties: first seen first)."""
        return self.reasons.most_common(n)
