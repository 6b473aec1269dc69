"""The durable store: raw API pages, normalized Parquet, checkpoints and run records.

A store is a local directory or an ``s3://bucket/prefix`` location (see
:mod:`tracelens.store.layout` for the files). Collectors' results go in with
:meth:`Store.persist`; checkpoints move with :meth:`Store.advance`, which takes the persist's
receipt; analyses' inputs come out with :meth:`Store.load_inputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tracelens import settings
from tracelens.store.backend import Backend, LocalBackend
from tracelens.store.checkpoints import Checkpoint
from tracelens.store.errors import CorruptFileError, MissingKeyError, StoreError, StoreProblem
from tracelens.store.leases import LeaseHeldError
from tracelens.store.rebuilding import RebuildReport
from tracelens.store.runs import RunRecord, RunStatus
from tracelens.store.s3 import S3Backend, parse_s3_url
from tracelens.store.store import PersistReceipt, Store
from tracelens.store.xray_state import XRAY_RETENTION, XRayState

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The variable naming the store location (a path or s3://bucket/prefix); defined in settings.
STORE_ENV = settings.STORE
DEFAULT_LOCATION = "tl-data"


def store_location(
    given: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> str:
    """The location to use: ``given``, else ``$TRACELENS_STORE``, else ``./tl-data``."""
    if given is not None and str(given):
        return str(given)
    return settings.get(settings.STORE, environ) or DEFAULT_LOCATION


def open_store(
    location: str | Path,
    *,
    s3_client: S3Client | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Store:
    """The store at a local path or an ``s3://bucket/prefix`` URL (no I/O until used).

    Parameters
    ----------
    location
        A directory (created on the first write) or ``s3://bucket/prefix`` (the bucket must
        exist).
    s3_client
        The S3 client to use for an ``s3://`` location (default: one from a default session).
    clock
        The current time in UTC (tests pass a fixed one).

    Raises
    ------
    StoreError
        When ``location`` is malformed or is an existing file.
    """
    text = str(location)
    backend: Backend
    if text.startswith("s3://"):
        try:
            bucket, prefix = parse_s3_url(text)
        except ValueError as exc:
            raise StoreError(str(exc)) from exc
        backend = S3Backend(bucket, prefix, client=s3_client)
    elif "://" in text:
        raise StoreError(f"{text!r}: a store is a local directory or an s3://bucket/prefix URL")
    else:
        backend = LocalBackend(Path(text))
    return Store(backend) if clock is None else Store(backend, clock=clock)


__all__ = [
    "DEFAULT_LOCATION",
    "STORE_ENV",
    "XRAY_RETENTION",
    "Backend",
    "Checkpoint",
    "CorruptFileError",
    "LeaseHeldError",
    "LocalBackend",
    "MissingKeyError",
    "PersistReceipt",
    "RebuildReport",
    "RunRecord",
    "RunStatus",
    "S3Backend",
    "Store",
    "StoreError",
    "StoreProblem",
    "XRayState",
    "open_store",
    "store_location",
]
