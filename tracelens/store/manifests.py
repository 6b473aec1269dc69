"""Part manifests: the SHA-256 and size of a Parquet part, written after it, checked on read.

Bytes changed inside a part (a disk or copy fault) can leave a file Parquet still reads, with
other values in it; the checksum finds them. A part written before manifests existed has none
and is read unchecked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from tracelens.store.errors import CorruptFileError

FORMAT = 1
REPAIR = "`tracelens store verify --repair` rebuilds it from the raw pages"


def encode(name: str, data: bytes, *, sources: list[str] | None = None) -> bytes:
    """The manifest of the part ``name`` holding ``data``; ``sources``: the raw runs of a part
    compacted from several."""
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "part": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    if sources is not None:
        manifest["sources"] = sources
    return orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class Manifest:
    """What a manifest says: the part's size and SHA-256, and the raw runs of a compacted
    part (empty for a run's own part: its name is its raw run's digest)."""

    size: int
    sha256: str
    sources: tuple[str, ...] = ()


def describe(manifest: bytes, location: str) -> Manifest:
    """The content of ``manifest``.

    Raises
    ------
    CorruptFileError
        When it is unreadable.
    """
    try:
        value: Any = orjson.loads(manifest)
        sources = value.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise TypeError("sources is not a list of digests")
        return Manifest(int(value["bytes"]), str(value["sha256"]), tuple(sources))
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(location, f"its manifest is unreadable ({exc}); {REPAIR}") from exc


def check(data: bytes, manifest: bytes, location: str) -> None:
    """Nothing when ``data`` is the part ``manifest`` describes.

    Raises
    ------
    CorruptFileError
        When the sizes or checksums differ, or the manifest is unreadable.
    """
    described = describe(manifest, location)
    size, digest = described.size, described.sha256
    if len(data) != size:
        raise CorruptFileError(
            location, f"{len(data):,} bytes where {size:,} were written; {REPAIR}"
        )
    if hashlib.sha256(data).hexdigest() != digest:
        raise CorruptFileError(
            location, f"checksum mismatch: its bytes changed after it was written; {REPAIR}"
        )
