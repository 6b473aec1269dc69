"""X-Ray segment documents: one segment or independent subsegment, as a JSON object.

The same documents sit, as JSON strings, inside BatchGetTraces pages (batch_get_traces.py) and
on the lines of an X-Ray daemon capture (xray_daemon.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from tracelens.ingest.decoders.base import Decoder, Located, Reading, invalid_json
from tracelens.ingest.segment_model import Node, convert_node, decode_node, schema_problem


def decode_text(text: str | bytes, position: str, reading: Reading) -> Node | None:
    """The document in ``text`` (JSON), or None when it is refused at ``position``."""
    try:
        return decode_node(text)
    except msgspec.ValidationError as exc:
        reading.refuse(position, schema_problem(exc))
    except msgspec.DecodeError as exc:
        reading.refuse(position, invalid_json(exc))
    return None


def _claims(value: Any) -> bool:
    return type(value) is dict and ("id" in value or "trace_id" in value or "name" in value)


def _decode(value: Any, position: str, reading: Reading) -> Iterator[Located]:
    try:
        yield position or "document", convert_node(value)
    except msgspec.ValidationError as exc:
        reading.refuse(position or "document", schema_problem(exc))


def _from_bytes(data: bytes) -> Node | None:
    try:
        return decode_node(data)
    except msgspec.DecodeError:
        return None  # not a valid document: see what else it holds, for the right reason


DOCUMENT = Decoder("X-Ray segment document", _claims, _decode, _from_bytes)
