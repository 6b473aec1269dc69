"""The X-Ray daemon's newline-delimited capture: each segment document on its line may follow
the daemon's ``{"format": "json", "version": 1}`` header line.

The lines are split by framing.py and their documents decoded by xray_segment.py; this decoder
claims the header lines, which hold no document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracelens.ingest.decoders.base import Decoder, Located, Reading


def _claims(value: Any) -> bool:
    return type(value) is dict and value.keys() == {"format", "version"}


def _decode(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    return iter(())


HEADER = Decoder("X-Ray daemon header line", _claims, _decode)
