"""Which path the traces came from, and whether they are only X-Ray's indexed sample.

AWS keeps traces in several forms: X-Ray segments (BatchGetTraces, segment documents), span
records in the ``aws/spans`` log group (CloudWatch Transaction Search), OTLP JSON exports and
X-Ray trace retrievals (ListRetrievedTraces). With Transaction Search on, every span goes to
``aws/spans`` and X-Ray indexes only a sample as trace summaries (the ``Default`` indexing
rule's percentage, 1% unless changed): traces read through GetTraceSummaries +
BatchGetTraces alone are then that sample, not the traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The trace paths, in the order the report names them, with their words.
PATH_LABELS: dict[str, str] = {
    "xray": "X-Ray segments (BatchGetTraces or segment documents)",
    "aws_spans": "aws/spans span records (CloudWatch Transaction Search)",
    "otlp": "OTLP JSON",
    "retrieved_traces": "X-Ray ListRetrievedTraces",
}
CLOUDWATCH_LOGS = "CloudWatchLogs"


@dataclass(frozen=True)
class TraceDestination:
    """Where one account and region sends its traces (GetTraceSegmentDestination).

    Attributes
    ----------
    destination
        ``"CloudWatchLogs"`` (Transaction Search on) or ``"XRay"``, as the API says it.
    status
        ``"ACTIVE"`` or ``"PENDING"``; None when unknown.
    indexed_percent
        The share of spans X-Ray indexes as trace summaries (GetIndexingRules' ``Default``
        rule); None when unknown.
    """

    account: str
    region: str
    destination: str
    status: str | None = None
    indexed_percent: float | None = None

    @property
    def transaction_search(self) -> bool:
        return self.destination == CLOUDWATCH_LOGS


@dataclass(frozen=True)
class TraceOrigin:
    """What the data section and ``input.trace_path`` say about where traces came from.

    Attributes
    ----------
    paths
        The trace paths documents were read from (keys of :data:`PATH_LABELS`), in that order.
    documents
        Documents read per path (decoded, accepted or not).
    transaction_search
        True when a stored destination answer says spans go to CloudWatch Logs, False when
        every one says X-Ray, None when no answer was read (offline input: unknown).
    indexed_sample
        True when only X-Ray segments were read on a Transaction Search account: the traces
        are X-Ray's indexed sample.
    indexed_percent
        That sample's percentage (lowest of the accounts/regions concerned); None when unknown.
    counted
        Whether ``documents`` are the documents of the data analysed (read from files); False
        for a store, whose runs' counts are not those of the traces it keeps (copies dropped,
        days pruned): the paths are said, not the counts.
    """

    paths: tuple[str, ...]
    documents: dict[str, int]
    transaction_search: bool | None
    indexed_sample: bool
    indexed_percent: float | None
    counted: bool = True

    @property
    def label(self) -> str:
        """The paths in words: one path, ``a mix: ...``, or ``none``."""
        if not self.paths:
            return "none (no trace documents read)"
        words = [PATH_LABELS.get(path, path) for path in self.paths]
        return words[0] if len(words) == 1 else "a mix: " + "; ".join(words)

    def sample_phrase(self) -> str:
        """A few words for the report's data line when the traces are the indexed sample."""
        share = f"{self.indexed_percent:g}%" if self.indexed_percent is not None else "unknown %"
        return f"only X-Ray's indexed {share} sample (Transaction Search on)"

    def notes(self) -> list[str]:
        """Sentences for the report's data section (the first names the path)."""
        counted = [
            (PATH_LABELS.get(path, path), f"{self.documents.get(path, 0):,} documents")
            for path in self.paths
        ]
        if not self.counted:
            first = f"Traces came from {self.label}."
        elif len(counted) == 1:
            first = f"Traces came from {counted[0][0]}: {counted[0][1]} read."
        elif counted:
            first = "Traces came from a mix: " + "; ".join(f"{w} ({n})" for w, n in counted) + "."
        else:
            first = f"Traces came from {self.label}."
        notes = [first]
        if self.indexed_sample:
            share = (
                f"{self.indexed_percent:g}% of spans"
                if self.indexed_percent is not None
                else "a share of spans that could not be read (GetIndexingRules)"
            )
            notes.append(
                "Transaction Search is on for this account/region: only X-Ray's indexed trace "
                f"summaries were read, a sample of {share} (the Default indexing rule), not all "
                "traffic. Enable the spans collector to read every span from aws/spans."
            )
        elif self.transaction_search and "aws_spans" in self.paths:
            notes.append(
                "Transaction Search is on: every span was read from the aws/spans log group."
            )
        return notes


def trace_origin(
    documents: Mapping[str, int],
    destinations: Sequence[TraceDestination],
    *,
    counted: bool = True,
) -> TraceOrigin:
    """Where the traces came from, from documents read per path and the destinations stored
    (``counted``: see :class:`TraceOrigin`).

    The traces are X-Ray's indexed sample when they came only as X-Ray segments and a
    destination says Transaction Search is on; offline input carries no destination, so it
    says the path only.
    """
    paths = tuple(path for path in PATH_LABELS if documents.get(path, 0) > 0)
    paths += tuple(sorted(p for p, n in documents.items() if n > 0 and p not in PATH_LABELS))
    searching = [d for d in destinations if d.transaction_search]
    transaction_search = bool(searching) if destinations else None
    sample = bool(searching) and paths == ("xray",)
    percents = [d.indexed_percent for d in searching if d.indexed_percent is not None]
    return TraceOrigin(
        paths=paths,
        documents={path: documents[path] for path in paths},
        transaction_search=transaction_search,
        indexed_sample=sample,
        indexed_percent=min(percents) if sample and percents else None,
        counted=counted,
    )
