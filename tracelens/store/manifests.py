"""Part manifests: the SHA-256 and size of a Parquet part, written after it, checked on read.

Bytes changed inside a part (a disk or copy fault) can leave a file Parquet still reads, with
other values in it; the checksum finds them. A part written before manifests existed has none
and is read unchecked.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from tracelens.store.errors import CorruptFileError

FORMAT = 1
REPAIR = "`tracelens store verify --repair` rebuilds it from the raw pages"


def encode(name: str, data: bytes) -> bytes:
    """The manifest of the part ``name`` holding ``data``."""
    manifest = {
        "format": FORMAT,
        "part": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    return orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)


def check(data: bytes, manifest: bytes, location: str) -> None:
    """Nothing when ``data`` is the part ``manifest`` describes.

    Raises
    ------
    CorruptFileError
        When the sizes or checksums differ, or the manifest is unreadable.
    """
    try:
        value: Any = orjson.loads(manifest)
        size, digest = int(value["bytes"]), str(value["sha256"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(location, f"its manifest is unreadable ({exc}); {REPAIR}") from exc
    if len(data) != size:
        raise CorruptFileError(
            location, f"{len(data):,} bytes where {size:,} were written; {REPAIR}"
        )
    if hashlib.sha256(data).hexdigest() != digest:
        raise CorruptFileError(
            location, f"checksum mismatch: its bytes changed after it was written; {REPAIR}"
        )
