"""The ingest pipeline for a run of input files, in order: open -> frame -> decode ->
normalize (see tracelens/ingest/__init__.py). The one place the stages meet."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tracelens.ingest.decoders.base import ReadStats
from tracelens.ingest.framing import iter_documents
from tracelens.ingest.normalize.spans import SpanBuilder
from tracelens.ingest.opening.sources import Item
from tracelens.ingest.opening.streams import item_sources
from tracelens.ingest.rejections import RejectionLog

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
    tracelens.ingest.opening.sources.InputError
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
