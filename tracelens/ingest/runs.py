"""Reading a run of input files, in order, into a span builder."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tracelens.ingest.documents import ReadStats, iter_documents
from tracelens.ingest.normalize import SpanBuilder
from tracelens.ingest.rejections import RejectionLog
from tracelens.ingest.sources import Item
from tracelens.ingest.streams import item_sources

ProgressCallback = Callable[[str, int], None]  # (source name, documents accepted so far)


def read_run(
    items: Sequence[Item],
    builder: SpanBuilder,
    rejections: RejectionLog,
    stats: ReadStats,
    progress: ProgressCallback | None = None,
) -> None:
    """Read every document of ``items`` into ``builder``, in order.

    Raises
    ------
    tracelens.ingest.sources.InputError
        When an item cannot be read at all.
    """
    refusals = builder.in_order(rejections)
    for item in items:
        # NOTE: a large newline-delimited file comes a piece at a time, so that memory holds
        # one piece of it rather than the whole file next to the spans built from it.
        for source in item_sources(item, refusals):
            for position, document in iter_documents(source, refusals, stats):
                builder.add(document, source=source.name, position=position, rejections=rejections)
            if progress is not None:
                progress(source.name, builder.accepted)
