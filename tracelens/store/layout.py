"""The store's file layout: every key is built and parsed here.

::

    raw/<source>/date=YYYY-MM-DD/<digest>.json.gz          one collector run, pages as received
    <table>/date=YYYY-MM-DD/part-<digest>.parquet          normalized rows of that run
    manifests/<table>/date=YYYY-MM-DD/part-<digest>.json   a part's SHA-256 and size
    checkpoints/<collector>/<account>/<region>.json        where collection resumes
    leases/<collector>/<account>/<region>.json             who collects it now (a lock)
    runs/date=YYYY-MM-DD/<HHMMSSffffff>-<digest>.jsonl     run records (collector health)

``<digest>`` is a hash of the run's raw content: storing the same pages again rewrites the same
files instead of adding copies. A part's digest is the digest of the raw object it came from.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from tracelens.store.backend import check_key

RAW = "raw"
CHECKPOINTS = "checkpoints"
RUNS = "runs"
MANIFESTS = "manifests"
LEASES = "leases"

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


def part_key(table: str, day: date, digest: str) -> str:
    """The key of one run's rows of ``table`` dated ``day``."""
    return check_key(f"{table}/date={day.isoformat()}/part-{digest}.parquet")


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
