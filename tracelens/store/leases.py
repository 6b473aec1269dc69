"""One collector at a time per account and region: a lease taken for the length of a run.

Two agents (or an agent and ``tracelens collect --once``) collecting the same target would
store every window twice. While a run lasts its collector holds a lease:

- in a local store, an exclusive ``flock`` on ``leases/<collector>/<account>/<region>.json``
  (released by the system when the process ends, however it ends; the file names the holder);
- in S3, that object, created with a conditional write (``If-None-Match: *``); it names its
  holder and an expiry, after which another agent may take it over (``If-Match`` on the tag it
  read, so two agents cannot both take over); the holder deletes it when the run ends.

A run that finds the lease held raises :class:`LeaseHeldError`, whose message names the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

import orjson

from tracelens.store import layout
from tracelens.store.backend import Backend, LocalBackend
from tracelens.store.errors import MissingKeyError, StoreError
from tracelens.store.s3 import S3Backend


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: ``host:pid``, a token for this run, when it was taken, until when."""

    name: str
    token: str
    acquired_at: datetime
    expires_at: datetime | None

    @classmethod
    def me(cls, now: datetime, ttl: timedelta | None) -> Holder:
        return cls(
            name=f"{socket.gethostname()}:{os.getpid()}",
            token=secrets.token_hex(8),
            acquired_at=now,
            expires_at=now + ttl if ttl is not None else None,
        )

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "holder": self.name,
                "token": self.token,
                "acquired_at": self.acquired_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Holder | None:
        try:
            value: Any = orjson.loads(data)
            expires = value.get("expires_at")
            return cls(
                name=str(value["holder"]),
                token=str(value["token"]),
                acquired_at=datetime.fromisoformat(value["acquired_at"]),
                expires_at=datetime.fromisoformat(expires) if expires else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None


class LeaseHeldError(StoreError):
    """Another run holds the lease: this one must not collect."""

    def __init__(self, collector: str, account: str, region: str, holder: Holder | None) -> None:
        who = "another process"
        if holder is not None:
            who = f"{holder.name} (since {holder.acquired_at:%Y-%m-%d %H:%M:%S}Z"
            who += f", lease until {holder.expires_at:%H:%M:%S}Z)" if holder.expires_at else ")"
        super().__init__(
            f"{collector} collection of {account}/{region} is running in {who}: this run is "
            "skipped so that nothing is stored twice; it resumes from the checkpoint once the "
            "other run ends"
        )
        self.holder = holder


Clock = Callable[[], datetime]


@contextlib.contextmanager
def lease(
    backend: Backend,
    collector: str,
    account: str,
    region: str,
    *,
    ttl: timedelta,
    clock: Clock,
) -> Iterator[Holder]:
    """Hold the lease of ``collector`` on ``account``/``region`` inside the block.

    ``ttl`` bounds how long an S3 lease outlives a holder that died without releasing it.
    Backends other than a local directory and S3 take no lease.

    Raises
    ------
    LeaseHeldError
        When another run holds it.
    """
    key = layout.lease_key(collector, account, region)
    where = (backend.url, key)
    with _LOCK:
        held = _HELD.get(where)
        if held is None:
            stack = contextlib.ExitStack()
            holder = stack.enter_context(
                _taken(backend, key, ttl, clock, (collector, account, region))
            )
            _HELD[where] = _Held(holder, stack)
        else:  # NOTE: this process holds it already (see _HELD)
            holder = held.holder
            held.count += 1
    try:
        yield holder
    finally:
        with _LOCK:
            held = _HELD[where]
            held.count -= 1
            if not held.count:
                del _HELD[where]
                held.release.close()


@dataclass
class _Held:
    holder: Holder
    release: contextlib.ExitStack
    count: int = 1


# The leases this process holds, by store and key, with how many blocks hold each. A lease
# keeps other processes out; inside one process the agent already runs a collector's job once
# at a time, and a run that needs the function list runs the Lambda collector inside its own
# run, which must not find itself holding the lease.
_HELD: dict[tuple[str, str], _Held] = {}
_LOCK = threading.Lock()


@contextlib.contextmanager
def _taken(
    backend: Backend, key: str, ttl: timedelta, clock: Clock, target: tuple[str, str, str]
) -> Iterator[Holder]:
    if isinstance(backend, LocalBackend):
        with _local(backend, key, Holder.me(clock(), None), target) as holder:
            yield holder
    elif isinstance(backend, S3Backend):
        with _s3(backend, key, Holder.me(clock(), ttl), clock, target) as holder:
            yield holder
    else:
        yield Holder.me(clock(), None)


@contextlib.contextmanager
def _local(
    backend: LocalBackend, key: str, me: Holder, target: tuple[str, str, str]
) -> Iterator[Holder]:
    path = backend.root.joinpath(*key.split("/"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file: IO[bytes] = path.open("a+b")
    except OSError as exc:
        raise StoreError(f"cannot open the lease {path}: {exc.strerror or exc}") from exc
    with file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            raise LeaseHeldError(*target, Holder.decode(file.read())) from None
        try:
            file.seek(0)
            file.truncate()
            file.write(me.encode())
            file.flush()
            yield me
        finally:
            file.truncate(0)
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _s3(
    backend: S3Backend, key: str, me: Holder, clock: Clock, target: tuple[str, str, str]
) -> Iterator[Holder]:
    if not backend.write_if(key, me.encode(), version=None):
        try:
            data, tag = backend.read_versioned(key)
        except MissingKeyError:  # released meanwhile: try once more
            data, tag = b"", ""
            if not backend.write_if(key, me.encode(), version=None):
                raise LeaseHeldError(*target, None) from None
        else:
            held = Holder.decode(data)
            expired = held is None or (held.expires_at is not None and held.expires_at < clock())
            if not expired or not backend.write_if(key, me.encode(), version=tag):
                raise LeaseHeldError(*target, held)
    try:
        yield me
    finally:
        with contextlib.suppress(StoreError):
            current = Holder.decode(backend.read_bytes(key))
            if current is not None and current.token == me.token:
                backend.delete(key)
