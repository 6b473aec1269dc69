"""Feed API pages to the side-input loaders, which read files.

The loaders of :mod:`tracelens.sideinputs` take paths; the pages are written to a private
temporary directory, one JSON file each, and the rejections are renamed after the pages so
that a message points into the store, not at a deleted temporary file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from tracelens.ingest.rejections import RejectionLog

T = TypeVar("T")
Loader = Callable[[Sequence[Path], RejectionLog], T]
NamedDocument = tuple[str, Mapping[str, Any]]  # (name for messages, JSON document)


def load_documents(loader: Loader[T], documents: Iterable[NamedDocument]) -> tuple[T, RejectionLog]:
    """Run ``loader`` over ``documents``; rejections name each document by its given name."""
    names: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tracelens-pages-") as directory:
        paths: list[Path] = []
        for index, (name, document) in enumerate(documents):
            path = Path(directory) / f"page-{index:06d}.json"
            path.write_bytes(orjson.dumps(document))
            names[str(path)] = name
            paths.append(path)
        log = RejectionLog()
        loaded = loader(paths, log)
    return loaded, _renamed(log, names)


def _renamed(log: RejectionLog, names: Mapping[str, str]) -> RejectionLog:
    renamed = RejectionLog(limit=log.limit, count=log.count, reasons=log.reasons.copy())
    renamed.listed = [
        replace(rejection, source=names.get(rejection.source, rejection.source))
        for rejection in log.listed
    ]
    return renamed
