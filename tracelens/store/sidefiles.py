"""Feed API pages to the side-input parsers, in memory.

Each page becomes one JSON source named after the page (``<raw object> pages[<index>]``), so a
message points into the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson

from tracelens.ingest.rejections import RejectionLog
from tracelens.ingest.sources import Source

T = TypeVar("T")
Loader = Callable[[Sequence[Source], RejectionLog], T]
NamedDocument = tuple[str, Mapping[str, Any]]  # (name for messages, JSON document)


def load_documents(loader: Loader[T], documents: Iterable[NamedDocument]) -> tuple[T, RejectionLog]:
    """Run ``loader`` over ``documents``; rejections name each document by its given name."""
    sources = [Source(name, orjson.dumps(document)) for name, document in documents]
    log = RejectionLog()
    return loader(sources, log), log
