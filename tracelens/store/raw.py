"""Raw runs: one collector run's pages exactly as received, as one gzip-compressed JSON object.

Page content is kept as botocore parsed it; only ``datetime`` values change form, written as
ISO 8601 strings with their offset (as ``aws ... --output json`` prints them). Everything the
parsers read survives, so the normalized tables can always be rebuilt from raw runs.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from collectors.base import CallStats, CollectorResult, Failure, RawPage, Window
from tracelens.store.errors import CorruptFileError, StoreError

FORMAT = 1
DIGEST_CHARS = 24  # 96 bits of SHA-256: collisions are not a practical concern


@dataclass(frozen=True)
class RawRun:
    """One stored collector run.

    Attributes
    ----------
    source
        The collector: ``"xray"``, ``"cloudwatch"``, ``"logs"``, ``"lambda"``.
    account, region
        Where the pages were read.
    window
        The window the run covered completely (when ``complete``), or None.
    stored_at
        When the run was persisted (UTC); later runs win when rows repeat.
    pages
        The pages in the order received.
    """

    source: str
    account: str
    region: str
    window: Window | None
    complete: bool
    stored_at: datetime
    pages: tuple[RawPage, ...]
    failures: tuple[Failure, ...] = ()
    warnings: tuple[str, ...] = ()
    stats: CallStats = field(default_factory=CallStats)

    @classmethod
    def of(
        cls, result: CollectorResult, *, account: str, region: str, stored_at: datetime
    ) -> RawRun:
        """The raw run of a collector result."""
        return cls(
            source=result.source,
            account=account,
            region=region,
            window=result.window,
            complete=result.complete,
            stored_at=stored_at,
            pages=result.pages,
            failures=result.failures,
            warnings=result.warnings,
            stats=result.stats,
        )

    @property
    def reference_time(self) -> datetime:
        """The window start, else the time stored: dates the raw object."""
        return self.window.start if self.window is not None else self.stored_at


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        raise TypeError("bytes (binary payloads are not pages the store keeps)")
    raise TypeError(type(value).__name__)


def _dumps(value: Any, what: str) -> bytes:
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise StoreError(f"{what} holds a value JSON cannot hold: {exc}") from exc


def _page_json(page: RawPage) -> dict[str, Any]:
    return {
        "kind": page.kind,
        "api": page.api,
        "request": dict(page.request),
        "response": dict(page.response),
    }


def _identity(run: RawRun) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "source": run.source,
        "account": run.account,
        "region": run.region,
        "window": run.window.as_dict() if run.window is not None else None,
        "pages": [_page_json(page) for page in run.pages],
    }


def encode(run: RawRun) -> tuple[str, bytes]:
    """``(digest, gzip bytes)`` of a run; the digest covers its identity and pages only.

    Raises
    ------
    StoreError
        When a page holds a value JSON cannot represent (the message names its kind).
    """
    identity = _identity(run)
    digest = hashlib.sha256(_dumps(identity, f"a {run.source} page")).hexdigest()
    envelope = {
        **identity,
        "complete": run.complete,
        "stored_at": run.stored_at.isoformat(),
        "failures": [asdict(failure) for failure in run.failures],
        "warnings": list(run.warnings),
        "stats": asdict(run.stats),
    }
    # NOTE: mtime=0 keeps the bytes a function of the content alone.
    data = gzip.compress(_dumps(envelope, "the run record"), compresslevel=6, mtime=0)
    return digest[:DIGEST_CHARS], data


def decode(data: bytes, location: str) -> RawRun:
    """The run stored in ``data``.

    Raises
    ------
    CorruptFileError
        When the bytes are not a complete gzip file, not JSON, or not a raw run.
    """
    try:
        text = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(location, f"not a complete gzip file ({exc})") from exc
    try:
        envelope = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CorruptFileError(location, f"invalid JSON inside the gzip file ({exc})") from exc
    try:
        return _run_from(envelope)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(location, f"not a raw run object ({exc!r})") from exc


def _run_from(envelope: Any) -> RawRun:
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise ValueError(f"expected an object with format {FORMAT}")
    window = envelope["window"]
    return RawRun(
        source=str(envelope["source"]),
        account=str(envelope["account"]),
        region=str(envelope["region"]),
        window=_window(window) if window is not None else None,
        complete=bool(envelope["complete"]),
        stored_at=datetime.fromisoformat(envelope["stored_at"]),
        pages=tuple(_page(page) for page in envelope["pages"]),
        failures=tuple(Failure(**failure) for failure in envelope.get("failures", [])),
        warnings=tuple(str(warning) for warning in envelope.get("warnings", [])),
        stats=CallStats(**envelope.get("stats", {})),
    )


def _window(value: Mapping[str, str]) -> Window:
    return Window(datetime.fromisoformat(value["start"]), datetime.fromisoformat(value["end"]))


def _page(value: Any) -> RawPage:
    if not isinstance(value, dict):
        raise TypeError("a page is not an object")
    request, response = value["request"], value["response"]
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise TypeError("a page's request and response must be objects")
    return RawPage(
        kind=str(value["kind"]), api=str(value["api"]), request=request, response=response
    )
