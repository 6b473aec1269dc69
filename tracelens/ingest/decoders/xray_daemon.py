"""The X-Ray daemon's newline-delimited capture: each segment document may follow the daemon's
``{"format": "json", "version": 1}`` header line, on one line or, as the daemon's UDP payload
allows, over several (pretty-printed): after a header, framing.py joins a document's lines.

The lines are split by framing.py and their documents decoded by xray_segment.py; this decoder
claims the header lines, which hold no document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracelens.ingest.decoders.base import Decoder, Located, Reading


def is_header(value: Any) -> bool:
    """Whether a parsed line is the daemon's header (after which a document may span lines,
    as the daemon's UDP payload allows: framing.py reads them so)."""
    return type(value) is dict and value.keys() == {"format", "version"}


def _decode(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    return iter(())


HEADER = Decoder("X-Ray daemon header line", is_header, _decode)
