"""Raw runs: one collector run's pages exactly as received, as one gzip-compressed JSON object.

Page content is kept as botocore parsed it; only ``datetime`` values change form, written as
ISO 8601 strings with their offset (as ``aws ... --output json`` prints them). Everything the
parsers read survives, so the normalized tables can always be rebuilt from raw runs.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from collectors.base import CallStats, CollectorResult, Failure, RawPage, Window
from tracelens.store.errors import CorruptFileError, StoreError, decode_json

FORMAT = 1
DIGEST_CHARS = 24  # 96 bits of SHA-256: collisions are not a practical concern
COMPRESS_LEVEL = 6


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
    """The run's identity without its pages."""
    return {
        "format": FORMAT,
        "source": run.source,
        "account": run.account,
        "region": run.region,
        "window": run.window.as_dict() if run.window is not None else None,
    }


_PAGES_SLOT = b'"pages":null'


def _around_pages(fields: dict[str, Any], what: str) -> tuple[bytes, bytes]:
    """The JSON of ``fields`` plus ``"pages"`` (keys sorted), split where the pages go.

    NOTE: ``"pages":null`` can only be the top-level key: inside a JSON string its quotes are
    escaped, and no other field holds an object with a ``pages`` key.
    """
    text = _dumps({**fields, "pages": None}, what)
    at = text.index(_PAGES_SLOT)
    return text[: at + len(b'"pages":')], text[at + len(_PAGES_SLOT) :]


def _page_texts(run: RawRun) -> Iterator[bytes]:
    """The pages as one JSON array, a page at a time (never the whole array in memory)."""
    yield b"["
    for index, page in enumerate(run.pages):
        if index:
            yield b","
        yield _dumps(_page_json(page), f"a {run.source} page")
    yield b"]"


class _Gzip:
    """Incremental gzip (wbits 31: gzip header with mtime 0, so the bytes depend on the content
    alone). zlib releases the GIL while it compresses, so this runs well on a thread."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 31)
        self._chunks: list[bytes] = []

    def feed(self, texts: Iterable[bytes]) -> None:
        for text in texts:
            self._chunks.append(self._compressor.compress(text))

    def finish(self) -> bytes:
        self._chunks.append(self._compressor.flush())
        return b"".join(self._chunks)


@dataclass(frozen=True)
class Encoded:
    """A run's digest now, its gzip bytes from :meth:`data` (compressed on a thread)."""

    digest: str
    _future: Future[bytes]

    def data(self) -> bytes:
        """The gzip bytes (waits for the compression)."""
        return self._future.result()


def encode(run: RawRun, pool: Executor | None = None) -> Encoded:
    """The digest and gzip bytes of a run; the digest covers its identity and pages only.

    The digest is the SHA-256 of the identity's JSON (keys sorted, pages included) and the
    stored object is the gzip of the whole envelope; both are fed a page at a time. With
    ``pool``, the compression runs there while the caller goes on (normalizing the run).

    Raises
    ------
    StoreError
        When a page holds a value JSON cannot represent (the message names its kind).
    """
    pages = list(_page_texts(run))  # NOTE: one encoding of the pages, for digest and object
    envelope = {
        **_identity(run),
        "complete": run.complete,
        "stored_at": run.stored_at.isoformat(),
        "failures": [asdict(failure) for failure in run.failures],
        "warnings": list(run.warnings),
        "stats": asdict(run.stats),
    }
    head, tail = _around_pages(envelope, "the run record")

    def compress() -> bytes:
        gzip_stream = _Gzip()
        gzip_stream.feed([head, *pages, tail])
        return gzip_stream.finish()

    future: Future[bytes]
    if pool is None:
        future = Future()
        future.set_result(compress())
    else:
        future = pool.submit(compress)
    return Encoded(_digest(run, pages), future)


def _digest(run: RawRun, pages: Iterable[bytes]) -> str:
    head, tail = _around_pages(_identity(run), "the run record")
    digest = hashlib.sha256(head)
    for text in pages:
        digest.update(text)
    digest.update(tail)
    return digest.hexdigest()[:DIGEST_CHARS]


def digest_of(run: RawRun) -> str:
    """The digest :func:`encode` gives ``run`` (its identity and pages: not when it was
    stored), without compressing it.

    Raises
    ------
    StoreError
        When a page holds a value JSON cannot represent.
    """
    return _digest(run, _page_texts(run))


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
    return decode_json(
        text, location, _run_from, what="a raw run object", inside=" inside the gzip file"
    )


_HEAD_END = b',"pages":'
_TAIL_START = b',"region":'
_PIECE = 256 * 1024  # compressed bytes inflated at a time by stored_at
_KEPT = 1 << 20  # inflated bytes kept of the object's start and end


def stored_at(data: bytes, location: str) -> datetime:
    """When the run stored in ``data`` was stored, without its pages: the object is inflated a
    piece at a time (never whole) and only the fields either side of the pages are parsed.

    The envelope's keys are sorted (:func:`encode`): ``account``, ``complete``, ``failures``
    and ``format`` come before ``"pages":``, and ``region``, ``source``, ``stats``,
    ``stored_at``, ``warnings`` and ``window`` after the pages. None of those fields holds a
    ``pages`` or ``region`` key, nor an unescaped quote inside a string, so the first
    ``,"pages":`` ends the fields before and the last ``,"region":`` starts those after. When
    either is not within ``_KEPT`` bytes of its end of the object, the run is decoded whole.
    The pages are not checked here (a rebuild reads them).

    Raises
    ------
    CorruptFileError
        When the bytes are not a complete gzip file, or not a raw run.
    """
    inflate = zlib.decompressobj(31)  # NOTE: gzip, its CRC and length checked at the end
    head, tail = b"", b""
    view = memoryview(data)
    try:
        for start in range(0, len(data), _PIECE):
            piece = inflate.decompress(view[start : start + _PIECE])
            if len(head) < _KEPT:
                head += piece[: _KEPT - len(head)]
            tail = (tail + piece)[-_KEPT:]
        tail += inflate.flush()
    except zlib.error as exc:
        raise CorruptFileError(location, f"not a complete gzip file ({exc})") from exc
    if not inflate.eof or inflate.unused_data:
        return decode(data, location).stored_at  # NOTE: it says what is wrong
    end, begin = head.find(_HEAD_END), tail.rfind(_TAIL_START)
    if end < 0 or begin < 0:
        return decode(data, location).stored_at
    try:
        before = orjson.loads(head[:end] + b"}")
        after = orjson.loads(b"{" + tail[begin + 1 :])
        if before.get("format") != FORMAT:
            raise ValueError(f"expected an object with format {FORMAT}")
        return datetime.fromisoformat(after["stored_at"])
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return decode(data, location).stored_at


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
