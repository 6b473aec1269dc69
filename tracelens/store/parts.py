"""Parquet parts: a run's rows of one table, one file per date; read back one file at a time.

A part that cannot be read (truncated, garbage, another table's columns) is reported as a
:class:`StoreProblem` and skipped: the other parts of the table are still returned.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import islice
from typing import Any, TypeVar

import polars as pl

from tracelens.schema import ADDED_SPAN_COLUMNS
from tracelens.store import layout, manifests
from tracelens.store.backend import Backend
from tracelens.store.errors import CorruptFileError, MissingKeyError, StoreError, StoreProblem
from tracelens.store.tables import DATE, PART, PART_TYPE, Table


def part_files(frame: pl.DataFrame, table: Table, digest: str) -> list[tuple[str, bytes]]:
    """``(key, Parquet bytes)`` for each date in ``frame``'s ``_date`` column (and, for spans,
    each trace-id bucket: :func:`tracelens.store.layout.trace_bucket`)."""
    files: list[tuple[str, bytes]] = []
    columns = list(table.stored_schema)
    if table.name not in layout.BUCKETED_TABLES:
        for (day,), rows in sorted(frame.partition_by(DATE, as_dict=True).items()):
            key = layout.part_key(table.name, day, digest)
            files.append((key, parquet_bytes(rows.select(columns))))
        return files
    bucketed = frame.with_columns(layout.trace_bucket(pl.col("trace_id")).alias(_BUCKET))
    for (day, bucket), rows in sorted(bucketed.partition_by(DATE, _BUCKET, as_dict=True).items()):
        key = layout.part_key(table.name, day, digest, bucket)
        files.append((key, parquet_bytes(rows.select(columns))))
    return files


_BUCKET = "_bucket"


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    """``frame`` as a zstd-compressed Parquet file."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def part_keys(backend: Backend, table: Table, first: date | None, last: date | None) -> list[str]:
    """Keys of ``table``'s parts dated in ``[first, last]``."""
    return dated_parts(backend.list_keys(table.name), first, last)


DAY_LISTINGS = 3
"""A closed range of at most this many days is listed a day's directory at a time (a long
store's other days are not listed); a longer or open one, the whole table at once."""


def listed_days(backend: Backend, table: Table, first: date | None, last: date | None) -> list[str]:
    """Every key of ``table`` dated in ``[first, last]``, and perhaps others (the whole table,
    when the range is open or longer than ``DAY_LISTINGS`` days)."""
    if first is None or last is None or not 0 <= (last - first).days < DAY_LISTINGS:
        return backend.list_keys(table.name)
    keys: list[str] = []
    for offset in range((last - first).days + 1):
        keys += backend.list_keys(f"{table.name}/date={(first + timedelta(offset)).isoformat()}")
    return keys


def dated_parts(keys: list[str], first: date | None, last: date | None) -> list[str]:
    """The parts among ``keys`` (a listing) dated in ``[first, last]``."""
    return [
        key
        for key in keys
        if layout.part_digest(key) is not None and layout.within_days(key, first, last)
    ]


def read_part(
    backend: Backend, key: str, table: Table, columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """One part with exactly ``table.stored_schema`` (or its ``columns``, in that order),
    checked against its manifest when it has one.

    Raises
    ------
    CorruptFileError
        When the file differs from its manifest, is not Parquet or does not hold the table's
        columns.
    MissingKeyError
        When the part was deleted after it was listed.
    """
    location = backend.location(key)
    data = backend.read_bytes(key)
    try:
        manifest = backend.read_bytes(layout.manifest_key(key))
    except MissingKeyError:
        manifest = None  # NOTE: written before manifests, or the writer died in between
    if manifest is not None:
        manifests.check(data, manifest, location)
    schema = table.stored_schema
    wanted = list(schema) if columns is None else list(columns)
    try:
        # NOTE: the bytes themselves, not io.BytesIO(data): polars leaks a small object on
        # every read from a file-like object, which a long-running agent rewriting its
        # report over thousands of parts accumulates (benchmarks/soak_agent.py).
        frame = _read_columns(data, wanted, table)
    except _MissingColumnsError as missing:
        raise CorruptFileError(
            location, f"not a {table.name} part: missing column(s) {', '.join(missing.names)}"
        ) from None
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise CorruptFileError(location, f"not a readable Parquet file ({exc})") from exc
    # NOTE: only the columns of another type are cast (a part written by this version has
    # none): an expression per column of every part costs more than the cast itself.
    present = frame.schema
    if list(present) == wanted and all(present[name] == schema[name] for name in wanted):
        return frame
    try:
        return frame.select([pl.col(name).cast(schema[name]) for name in wanted])
    except pl.exceptions.PolarsError as exc:
        raise CorruptFileError(
            location, f"a {table.name} column has the wrong type ({exc})"
        ) from exc


class _MissingColumnsError(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def _read_columns(data: bytes, wanted: list[str], table: Table) -> pl.DataFrame:
    """``wanted`` columns of a part; columns added to the schema since it was written are null.

    NOTE: the null columns are Series, not ``pl.lit``: a literal column makes polars copy every
    column when the parts are joined (see :func:`contiguous`).
    """
    try:
        return pl.read_parquet(data, columns=wanted)
    except pl.exceptions.ColumnNotFoundError:
        present = set(pl.read_parquet(data, n_rows=0).columns)
    absent = [name for name in wanted if name not in present]
    missing = [name for name in absent if name not in ADDED_SPAN_COLUMNS]
    if missing:
        raise _MissingColumnsError([name for name in table.stored_schema if name not in present])
    frame = pl.read_parquet(data, columns=[name for name in wanted if name in present])
    schema = table.stored_schema
    added = [
        pl.repeat(None, frame.height, dtype=schema[name], eager=True).alias(name) for name in absent
    ]
    return frame.with_columns(added).select(wanted)


@dataclass
class TableRead:
    """The parts of one table that could be read, concatenated, and the ones that could not.

    ``frame`` has the stored schema plus ``_part`` (the position of the part a row came from
    among the keys, sorted: a later key has a larger number); it is None when no part exists in
    the range asked for. ``missing`` lists the keys deleted since they were listed (merged by
    a compaction, or rewritten by a rebuild).

    Read ``by`` columns (:func:`read_table`), the rows are in ``groups`` instead, one frame
    per value of those columns (as ``frame`` would be of that value's rows alone), and
    ``frame`` (when a part was read) has no row: a value without rows has that empty frame.
    """

    frame: pl.DataFrame | None = None
    parts: int = 0
    problems: list[StoreProblem] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    groups: dict[tuple[Any, ...], pl.DataFrame] = field(default_factory=dict)

    def take(self, group: tuple[Any, ...]) -> pl.DataFrame | None:
        """The rows of ``group`` (read ``by`` columns; ``()``: read without), as ``frame``
        holds a read's rows, taken out of the read (so that they are held once)."""
        return self.groups.pop(group, self.frame)


def read_table(
    backend: Backend,
    table: Table,
    keys: list[str],
    keep: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    columns: Sequence[str] | None = None,
    first_number: int = 0,
    convert: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    by: Sequence[str] = (),
) -> TableRead:
    """Every readable part among ``keys`` (its ``columns``, default all), each cut to
    ``convert`` then ``keep`` first; never raises on a bad file. Parts are numbered from
    ``first_number``.

    Parts are read, checked and given to ``convert`` (which must only compute: it runs on
    another thread) a few at a time in parallel; ``keep`` is called on each in the order of
    the keys, on this thread. The result has one contiguous chunk per column (what the
    analyses read fastest).

    ``by``: columns (kept by ``keep``) whose values tell the rows' groups apart (an account
    and region): each part is split as it is read, so the rows of every group are read once
    and never held twice (:attr:`TableRead.groups`, in their parts' chunks).
    """
    result = TableRead()
    frames: dict[tuple[Any, ...], list[pl.DataFrame]] = {}
    numbers: dict[tuple[Any, ...], list[int]] = {}

    def fetch(key: str) -> pl.DataFrame | StoreError:
        try:
            frame = read_part(backend, key, table, columns)
        except StoreError as exc:
            return exc
        return frame if convert is None else convert(frame)

    ordered = sorted(keys)
    empty: pl.DataFrame | None = None
    # NOTE: polars and hashlib release the GIL while they parse and checksum a part: the
    # parts of a 1M-segment store are read in about half the time on two cores.
    with ThreadPoolExecutor(max(1, min(len(ordered), _READERS))) as pool:
        for number, (key, fetched) in enumerate(_ahead(pool, fetch, ordered), start=first_number):
            if isinstance(fetched, MissingKeyError):
                result.missing.append(key)  # NOTE: its rows live in a part listed again
                continue
            if isinstance(fetched, CorruptFileError):
                result.problems.append(StoreProblem.of(fetched))
                continue
            if isinstance(fetched, StoreError):
                result.problems.append(StoreProblem(backend.location(key), str(fetched)))
                continue
            result.parts += 1
            kept = fetched if keep is None else keep(fetched)
            if empty is None:
                empty = kept.clear()
            split = kept.partition_by(by, as_dict=True, maintain_order=True) if by else {(): kept}
            for group, rows in split.items():
                frames.setdefault(group, []).append(rows)
                numbers.setdefault(group, []).append(number)
    for group, pieces in frames.items():
        # NOTE: split, each group's rows stay in their parts' chunks: made contiguous all at
        # once, every group's copy and pieces would be held together (twice the rows); the
        # caller makes each contiguous in turn (``contiguous([read.take(group)])``).
        result.groups[group] = _numbered(pieces, numbers[group], join=not by)
    if not by:
        result.frame = result.groups.pop((), None)
    if result.parts and (by or result.frame is None):
        assert empty is not None  # NOTE: a part was read
        result.frame = empty.with_columns(pl.lit(None, dtype=PART_TYPE).alias(PART)).clear()
    return result


def _numbered(frames: list[pl.DataFrame], numbers: list[int], *, join: bool) -> pl.DataFrame:
    """``frames`` one after the other, contiguous if ``join`` (:func:`contiguous`), each row
    with its part's number."""
    part = pl.concat(
        [
            pl.repeat(n, f.height, dtype=PART_TYPE, eager=True)
            for n, f in zip(numbers, frames, strict=True)
        ]
    )
    joined = contiguous(frames) if join else pl.concat(frames, how="vertical", rechunk=False)
    frames.clear()
    return joined.with_columns(part.alias(PART))


_READERS = min(8, max(2, pl.thread_pool_size()))


def _ahead(
    pool: ThreadPoolExecutor, fetch: Callable[[str], _T], keys: list[str]
) -> Iterator[tuple[str, _T]]:
    """``(key, fetch(key))`` in the order of ``keys``, fetched on ``pool`` at most
    ``2 * _READERS`` ahead of the one taken.

    NOTE: ``pool.map`` fetches every key at once: when the parts are read faster than they
    are kept, all of them wait read (the whole table, before ``keep`` cut it), twice the peak.
    """
    waiting: deque[tuple[str, Future[_T]]] = deque()
    upcoming = iter(keys)
    for key in islice(upcoming, 2 * _READERS):
        waiting.append((key, pool.submit(fetch, key)))
    while waiting:
        key, future = waiting.popleft()
        for following in islice(upcoming, 1):
            waiting.append((following, pool.submit(fetch, following)))
        yield key, future.result()


_T = TypeVar("_T")


def contiguous(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """``frames`` one after the other, one chunk per column, made a column at a time; empties
    ``frames``.

    NOTE: each column's chunks are released as soon as it is copied (nothing else may hold the
    frames), so the peak is the rows plus one column, not twice the rows (``rechunk``). A
    literal column (``pl.lit``) in ``frames`` would defeat this: polars copies every column.
    """
    columns = pl.concat(frames, how="vertical", rechunk=False).get_columns()
    frames.clear()
    for position, column in enumerate(columns):
        columns[position] = column.rechunk()
    return pl.DataFrame(columns)
