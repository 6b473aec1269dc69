"""The store: raw pages, normalized Parquet, checkpoints and run records under one root.

Typical use by the agent, per collector run::

    store = open_store(location)
    checkpoint = store.checkpoint("xray", account, region)
    state = XRayState.from_checkpoint(checkpoint)
    result = collector.collect(window, known=state.complete, partial=state.partial)
    receipt = store.persist(result, account=account, region=region)   # data first...
    store.advance(receipt, state=state.after(result, now=now).as_mapping())  # ...then checkpoint
    store.record_run(RunRecord.of_result(result, ..., items=receipt.items))
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.base import CollectorResult, Window
from tracelens.ingest.rejections import RejectionLog
from tracelens.inputs import Inputs
from tracelens.store import checkpoints, compacting, layout, leases, raw, reading, runs, tables
from tracelens.store.backend import Backend
from tracelens.store.checkpoints import Checkpoint
from tracelens.store.compacting import CompactReport, PruneReport
from tracelens.store.errors import CorruptFileError, StoreError, StoreProblem
from tracelens.store.persisting import Written, write_run
from tracelens.store.rebuilding import RebuildReport, rebuild
from tracelens.store.runs import RunRecord
from tracelens.store.verifying import VerifyReport, verify

Clock = Callable[[], datetime]
_SEAL = object()  # only receipts made by Store.persist carry it


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PersistReceipt:
    """Proof that a run's data is durably stored: the only way to advance a checkpoint.

    Attributes
    ----------
    store_url
        The store that wrote it.
    source, account, region
        The run (``source`` names the checkpoint's collector).
    window, complete
        The result's window and whether it was fetched completely.
    raw_key
        The raw run's key (None when the run returned no pages).
    part_keys
        The Parquet parts written.
    rows
        Rows written per table.
    rejections
        Records the normalizers refused (the raw pages still hold them).
    stored_at
        When the data was written.
    """

    store_url: str
    source: str
    account: str
    region: str
    window: Window | None
    complete: bool
    raw_key: str | None
    part_keys: tuple[str, ...]
    rows: Mapping[str, int]
    rejections: RejectionLog
    stored_at: datetime
    _seal: object = field(default=None, repr=False, compare=False)

    @property
    def items(self) -> int:
        """Normalized rows of data written, all tables together (``trace_reads``, which says
        where the traces came from, is not data: it is left out)."""
        return sum(rows for name, rows in self.rows.items() if name != tables.TRACE_READS.name)


class Store:
    """A store on a :class:`~tracelens.store.backend.Backend`.

    Parameters
    ----------
    backend
        Where the files live (:class:`LocalBackend`, :class:`S3Backend`).
    clock
        The current time (UTC); stamps stored data and checkpoints.
    """

    def __init__(self, backend: Backend, *, clock: Clock = _utc_now) -> None:
        self._backend = backend
        self._clock = clock

    @property
    def url(self) -> str:
        """The store's location."""
        return self._backend.url

    @property
    def backend(self) -> Backend:
        """Where the files live."""
        return self._backend

    def persist(
        self,
        result: CollectorResult,
        *,
        account: str,
        region: str,
        stored_at: datetime | None = None,
    ) -> PersistReceipt:
        """Store a collector result: raw pages first, then the normalized Parquet parts.

        Storing the same pages again rewrites the same files; given the ``stored_at`` of the
        run that stored them first (default: now), byte for byte. Pass the receipt to
        :meth:`advance` to move the checkpoint.

        Raises
        ------
        StoreError
            When a file cannot be written (nothing may be assumed stored: do not advance).
        """
        layout.name_part(account, "account")
        layout.name_part(region, "region")
        stored_at = self._clock() if stored_at is None else stored_at
        run = raw.RawRun.of(result, account=account, region=region, stored_at=stored_at)
        written: Written = write_run(self._backend, run)
        return PersistReceipt(
            store_url=self.url,
            source=result.source,
            account=account,
            region=region,
            window=result.window,
            complete=result.complete,
            raw_key=written.raw_key,
            part_keys=written.part_keys,
            rows=written.rows,
            rejections=written.rejections,
            stored_at=stored_at,
            _seal=_SEAL,
        )

    def lease(
        self, collector: str, account: str, region: str, *, ttl: timedelta
    ) -> AbstractContextManager[leases.Holder]:
        """Hold the lease of ``collector`` on ``account``/``region`` for one run (``with``).

        Take it around a run: persist and advance inside. In S3 a lease left by a process that
        died is taken over after ``ttl``.

        Raises
        ------
        LeaseHeldError
            When another run (another agent, a ``collect --once``) holds it; the message names
            the holder.
        """
        return leases.lease(self._backend, collector, account, region, ttl=ttl, clock=self._clock)

    def checkpoint(self, collector: str, account: str, region: str) -> Checkpoint | None:
        """The checkpoint of a collector, or None before its first :meth:`advance`.

        Raises
        ------
        CorruptFileError
            When the checkpoint file is damaged. Deleting it restarts collection from the
            agent's look-back; data stored again is deduplicated.
        """
        key = layout.checkpoint_key(collector, account, region)
        try:
            data = self._backend.read_bytes(key)
        except FileNotFoundError:
            return None
        return checkpoints.decode(data, self._backend.location(key))

    def advance(
        self, receipt: PersistReceipt, *, state: Mapping[str, Any] | None = None
    ) -> Checkpoint:
        """Move the checkpoint of ``receipt``'s collector over the data it proves stored.

        The window end moves to ``receipt.window.end`` only when the result was complete (and
        never backwards); ``state`` replaces the collector state (None keeps the stored one).

        Raises
        ------
        StoreError
            When ``receipt`` was not made by :meth:`persist` of a store at this location.
        """
        if receipt._seal is not _SEAL or receipt.store_url != self.url:
            raise StoreError(
                "advance() takes the receipt that persist() returned for this store: persist "
                "the result first, then advance with its receipt"
            )
        previous = self._previous(receipt)
        window_end = previous.window_end if previous is not None else None
        if receipt.complete and receipt.window is not None:
            end = receipt.window.end
            window_end = end if window_end is None else max(window_end, end)
        if state is None:
            state = previous.state if previous is not None else {}
        checkpoint = Checkpoint(
            collector=receipt.source,
            account=receipt.account,
            region=receipt.region,
            window_end=window_end,
            state=state,
            updated_at=self._clock(),
        )
        key = layout.checkpoint_key(receipt.source, receipt.account, receipt.region)
        self._backend.write_bytes(key, checkpoints.encode(checkpoint))
        return checkpoint

    def rewind(self, collector: str, account: str, region: str) -> Checkpoint:
        """Clear a collector's window end, keeping its state: it restarts from the look-back.

        For a checkpoint that cannot be right (one in the future, after the clock moved back
        or the file was edited): :meth:`advance` never moves a window end backwards. Data read
        again is deduplicated by the store.
        """
        try:
            previous = self.checkpoint(collector, account, region)
        except CorruptFileError:
            previous = None
        checkpoint = Checkpoint(
            collector=collector,
            account=account,
            region=region,
            window_end=None,
            state=previous.state if previous is not None else {},
            updated_at=self._clock(),
        )
        key = layout.checkpoint_key(collector, account, region)
        self._backend.write_bytes(key, checkpoints.encode(checkpoint))
        return checkpoint

    def _previous(self, receipt: PersistReceipt) -> Checkpoint | None:
        try:
            return self.checkpoint(receipt.source, receipt.account, receipt.region)
        except CorruptFileError:
            return None  # NOTE: replaced below by a good one; nothing else depends on it

    def checkpoints(self) -> tuple[list[Checkpoint], list[StoreProblem]]:
        """Every checkpoint, and the checkpoint files that could not be read."""
        found: list[Checkpoint] = []
        problems: list[StoreProblem] = []
        for key in self._backend.list_keys(layout.CHECKPOINTS):
            try:
                data = self._backend.read_bytes(key)
                found.append(checkpoints.decode(data, self._backend.location(key)))
            except FileNotFoundError:
                continue
            except CorruptFileError as exc:
                problems.append(StoreProblem.of(exc))
        return found, problems

    def record_run(self, run: RunRecord) -> None:
        """Add one run record."""
        self.record_runs([run])

    def record_runs(self, records: Sequence[RunRecord]) -> None:
        """Add run records, written together as one JSON-lines object."""
        if not records:
            return
        digest, data = runs.encode_lines(records)
        self._backend.write_bytes(layout.run_key(records[0].started_at, digest), data)

    def runs(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> tuple[list[RunRecord], list[StoreProblem]]:
        """Run records started in ``[since, until)``, oldest first, and unreadable lines."""
        scope = reading.Scope(since=since, until=until)
        found: list[RunRecord] = []
        problems: list[StoreProblem] = []
        for key in self._backend.list_keys(layout.RUNS):
            if not layout.within_days(key, scope.first_day, scope.last_day):
                continue
            try:
                data = self._backend.read_bytes(key)
            except FileNotFoundError:
                continue
            records, errors = runs.decode_lines(data, self._backend.location(key))
            found.extend(records)
            problems.extend(StoreProblem.of(error) for error in errors)
        inside = [
            record
            for record in found
            if (since is None or record.started_at >= since)
            and (until is None or record.started_at < until)
        ]
        return sorted(inside, key=lambda record: record.started_at), problems

    def load_inputs(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        account: str | None = None,
        region: str | None = None,
        analysed_columns_only: bool = False,
    ) -> tuple[Inputs, list[StoreProblem]]:
        """What the analyses read, from the stored tables, deduplicated.

        Parameters
        ----------
        since, until
            Keep whole traces starting in ``[since, until)``, datapoints and log lines timed in
            it; configuration is the latest stored up to ``until``.
        account, region
            Keep only data of this account / region (default: all).
        analysed_columns_only
            Leave the span columns no analysis reads (``UNANALYSED_SPAN_COLUMNS``) unread, as
            nulls, and give ``CATEGORICAL_SPAN_COLUMNS`` as ``pl.Categorical``: for a caller
            that only analyses the spans and reports on them (less memory).

        Returns
        -------
        tuple[Inputs, list[StoreProblem]]
            The inputs (a side input never stored is None) and the files skipped as unreadable.
        """
        scope = reading.Scope(since=since, until=until, account=account, region=region)
        return reading.load(self._backend, scope, analysed_columns_only=analysed_columns_only)

    def load_each(
        self,
        targets: Sequence[tuple[str, str]],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        analysed_columns_only: bool = False,
    ) -> tuple[dict[tuple[str, str], Inputs], list[StoreProblem]]:
        """:meth:`load_inputs` of each of ``targets`` (account label, region), each on its own
        data, from one read of the store (every target's rows share its parts).

        Returns
        -------
        tuple[dict[tuple[str, str], Inputs], list[StoreProblem]]
            Each target's inputs, and the files skipped as unreadable (a skipped file may have
            held rows of any target).
        """
        scope = reading.Scope(since=since, until=until)
        return reading.load_each(
            self._backend, scope, targets, analysed_columns_only=analysed_columns_only
        )

    def rebuild(
        self, *, sources: Collection[str] | None = None, delete_orphans: bool = False
    ) -> RebuildReport:
        """Derive the Parquet parts again from the raw runs (of ``sources``, default all).

        With ``delete_orphans``, parts whose raw run no longer exists are deleted. A raw run
        that cannot be read is reported in the result, and its parts are kept.
        """
        return rebuild(self._backend, sources=sources, delete_orphans=delete_orphans)

    def verify(self, *, repair: bool = False) -> VerifyReport:
        """Check every Parquet part against its manifest (and that it reads); with ``repair``,
        rebuild the damaged ones from their raw runs."""
        return verify(self._backend, repair=repair)

    def compact(self, *, small_bytes: int = compacting.SMALL_PART_BYTES) -> CompactReport:
        """Merge the small parts of each partition directory into one (see
        :mod:`tracelens.store.compacting`); running it again changes nothing."""
        return compacting.compact(self._backend, small_bytes=small_bytes)

    def prune(self, *, older_than: timedelta) -> PruneReport:
        """Delete the data dated wholly before ``older_than`` ago: parts, manifests, raw pages
        and run records of every day before the day that moment falls on. That day is recorded
        (``retention.json``): a rebuild or repair writes no older row again."""
        if older_than <= timedelta(0):
            raise ValueError(f"a retention period must be positive, not {older_than}")
        before = (self._clock() - older_than).astimezone(UTC).date()
        return compacting.prune(self._backend, before=before)
