"""The store's file layout: every key is built and parsed here.

::

    raw/<source>/date=YYYY-MM-DD/<digest>.json.gz          one collector run, pages as received
    spans/date=YYYY-MM-DD/bucket=NN/part-<digest>.parquet  spans of that run, by trace-id bucket
    <table>/date=YYYY-MM-DD/part-<digest>.parquet          other tables' rows of that run
    manifests/<part key without .parquet>.json             a part's SHA-256 and size
    checkpoints/<collector>/<account>/<region>.json        where collection resumes
    leases/<collector>/<account>/<region>.json             who collects it now (a lock)
    runs/date=YYYY-MM-DD/<HHMMSSffffff>-<digest>.jsonl     run records (collector health)

``<digest>`` is a hash of the run's raw content: storing the same pages again rewrites the same
files instead of adding copies. A part's digest is the digest of the raw object it came from,
or, for a part compacted from several, a digest of theirs (its manifest names them).

Spans are dated by their trace (``tracelens.store.derive.trace_days``) and bucketed by their
trace id (:func:`trace_bucket`), so a trace lives in exactly one ``date=/bucket=`` directory.
Stores written before buckets hold ``spans/date=YYYY-MM-DD/part-<digest>.parquet``; both forms
are read.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import polars as pl

from tracelens.store.backend import check_key

RAW = "raw"
CHECKPOINTS = "checkpoints"
RUNS = "runs"
MANIFESTS = "manifests"
LEASES = "leases"

BUCKETS = 16  # trace-id buckets per date partition of the spans table
BUCKETED_TABLES = frozenset({"spans"})

_DATE = re.compile(r"(?:^|/)date=(\d{4}-\d\d-\d\d)(?:/|$)")
_NAME_PART = re.compile(r"[A-Za-z0-9._-]+")


def name_part(value: str, what: str) -> str:
    """``value`` when usable inside a key (collector, account, region), else ``ValueError``."""
    if not _NAME_PART.fullmatch(value) or value in (".", ".."):
        raise ValueError(
            f"{what} {value!r} cannot name a store file: use letters, digits, '.', '_', '-'"
        )
    return value


def raw_key(source: str, day: date, digest: str) -> str:
    """The key of one run's raw pages."""
    return check_key(f"{RAW}/{name_part(source, 'source')}/date={day.isoformat()}/{digest}.json.gz")


def part_key(table: str, day: date, digest: str, bucket: int | None = None) -> str:
    """The key of one run's rows of ``table`` dated ``day`` (and in trace-id ``bucket``)."""
    if bucket is None:
        return check_key(f"{table}/date={day.isoformat()}/part-{digest}.parquet")
    if not 0 <= bucket < BUCKETS:
        raise ValueError(f"bucket {bucket} is outside 0..{BUCKETS - 1}")
    return check_key(f"{table}/date={day.isoformat()}/bucket={bucket:02d}/part-{digest}.parquet")


def trace_bucket(trace_id: pl.Expr) -> pl.Expr:
    """The bucket of a trace id: its last two hex digits modulo :data:`BUCKETS`.

    X-Ray and W3C trace ids end in random hex digits, so buckets fill evenly; the value depends
    on the id's text alone (stable across processes and library versions, unlike a hash). An id
    that does not end in hex goes to bucket 0.
    """
    tail = trace_id.str.slice(-2).str.to_integer(base=16, strict=False)
    return (tail.fill_null(0) % BUCKETS).cast(pl.UInt8)


def partition_of(key: str) -> str:
    """The directory of a part (``spans/date=2026-11-20/bucket=03``): parts in one are merged
    together by compaction."""
    return key.rsplit("/", 1)[0]


def manifest_key(part: str) -> str:
    """The key of a part's manifest (its checksum), in a tree of its own."""
    return check_key(f"{MANIFESTS}/{part.removesuffix('.parquet')}.json")


def checkpoint_key(collector: str, account: str, region: str) -> str:
    """The key of a checkpoint."""
    return (
        f"{CHECKPOINTS}/{name_part(collector, 'collector')}/"
        f"{name_part(account, 'account')}/{name_part(region, 'region')}.json"
    )


def lease_key(collector: str, account: str, region: str) -> str:
    """The key of the lease a collector holds on one account and region while it runs."""
    return (
        f"{LEASES}/{name_part(collector, 'collector')}/"
        f"{name_part(account, 'account')}/{name_part(region, 'region')}.json"
    )


def run_key(started_at: datetime, digest: str) -> str:
    """The key of a batch of run records, named by the first one's start."""
    moment = started_at.astimezone(UTC)
    return f"{RUNS}/date={moment.date().isoformat()}/{moment:%H%M%S%f}-{digest}.jsonl"


def key_date(key: str) -> date | None:
    """The ``date=`` partition of ``key``, or None."""
    match = _DATE.search(key)
    return date.fromisoformat(match.group(1)) if match else None


def part_digest(key: str) -> str | None:
    """The digest in ``.../part-<digest>.parquet``, or None for any other key."""
    name = key.rsplit("/", 1)[-1]
    if name.startswith("part-") and name.endswith(".parquet"):
        return name.removeprefix("part-").removesuffix(".parquet")
    return None


def raw_digest(key: str) -> str | None:
    """The digest in ``raw/.../<digest>.json.gz``, or None for any other key."""
    name = key.rsplit("/", 1)[-1]
    return name.removesuffix(".json.gz") if name.endswith(".json.gz") else None


def within_days(key: str, first: date | None, last: date | None) -> bool:
    """Whether ``key``'s date partition lies in ``[first, last]`` (open ends allowed).

    A key without a date partition is in range only when the range is fully open.
    """
    day = key_date(key)
    if day is None:
        return first is None and last is None
    return (first is None or day >= first) and (last is None or day <= last)
