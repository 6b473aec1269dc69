"""Turn segment documents into the span frame (SPAN_SCHEMA), in bounded chunks.

Rows are gathered as tuples for a chunk of documents, turned into a polars frame, and every
derivation that can run column-wise (timestamps, hosts, function names, deduplication) runs on
the frames, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import polars as pl

from tracelens.ingest.documents import schema_problem
from tracelens.ingest.flatten import ROW_FIELDS, DocumentError, Row, flatten_document
from tracelens.ingest.rejections import RejectionLog
from tracelens.ingest.segment_model import Node, convert_node
from tracelens.schema import SPAN_SCHEMA, UTC_US, empty_frame

CHUNK_ROWS = 100_000

_ROW_SCHEMA: dict[str, pl.DataType] = {
    **{name: SPAN_SCHEMA[name] for name in ROW_FIELDS if name in SPAN_SCHEMA},
    "start_s": pl.Float64(),
    "end_s": pl.Float64(),
    "function_ref": pl.String(),
    "attr_host": pl.String(),
    "doc_index": pl.UInt32(),
}

_URL_HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]+)"
_ARN_FUNCTION = r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)"


@dataclass(frozen=True)
class SpanTable:
    """The deduplicated spans and what deduplication found."""

    spans: pl.DataFrame
    documents: int  # documents accepted, duplicates included
    duplicates: int  # documents seen again (same trace id and id)


# NOTE: id formats are checked here, column-wise, rather than while decoding: a regex per
# field per node in the decoder costs more than the whole JSON parse.
_ID_CHECKS = (
    ("trace_id", r"^1-[0-9a-f]{8}-[0-9a-f]{24}$", "expected 1-<8 hex digits>-<24 hex digits>"),
    ("id", r"^[0-9a-f]{16}$", "expected 16 hex digits"),
    ("parent_id", r"^[0-9a-f]{16}$", "expected 16 hex digits"),
)


def _invalid_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """The first bad id of each document holding one: ``doc_index`` and ``reason``."""
    problems = [
        frame.filter(pl.col(column).is_not_null() & ~pl.col(column).str.contains(pattern)).select(
            "doc_index",
            reason=pl.format(
                "invalid {}: {} in {}: {}",
                pl.lit(column),
                pl.col(column).str.slice(0, 60),
                pl.col("name").str.slice(0, 60),
                pl.lit(expected),
            ),
        )
        for column, pattern, expected in _ID_CHECKS
    ]
    return pl.concat(problems).unique("doc_index", keep="first", maintain_order=True)


def _rows_to_frame(rows: list[Row]) -> pl.DataFrame:
    columns = list(zip(*rows, strict=True))
    frame = pl.DataFrame(
        {
            name: pl.Series(name, column, dtype=_ROW_SCHEMA[name], strict=False)
            for name, column in zip(ROW_FIELDS, columns, strict=True)
        }
    )
    start_us = (pl.col("start_s") * 1e6).round().cast(pl.Int64)
    end_us = (pl.col("end_s") * 1e6).round().cast(pl.Int64)
    return frame.with_columns(
        start_time=start_us.cast(UTC_US),
        end_time=end_us.cast(UTC_US),
        duration_ms=(end_us - start_us).cast(pl.Float64) / 1000.0,
        function_name=pl.when(pl.col("function_ref").str.starts_with("arn:"))
        .then(pl.col("function_ref").str.extract(_ARN_FUNCTION, 1))
        .otherwise(pl.col("function_ref")),
        host=pl.coalesce(
            pl.col("http_url").str.extract(_URL_HOST, 1).str.to_lowercase(), pl.col("attr_host")
        ),
    ).drop("start_s", "end_s", "function_ref", "attr_host")


class SpanBuilder:
    """Accumulates documents; :meth:`finish` returns the deduplicated span table.

    Documents are numbered in the order they are added; among copies of one document the
    first complete one is kept.
    """

    def __init__(self) -> None:
        self._rows: list[Row] = []
        self._frames: list[pl.DataFrame] = []
        self._documents = 0
        self._refused_late = 0
        # Where each document of the pending chunk came from, to name it if its ids are bad.
        self._chunk_start = 0
        self._located: list[tuple[str, str, RejectionLog]] = []

    def add(self, document: Node, *, source: str, position: str, rejections: RejectionLog) -> None:
        """Flatten one document; a refused document is recorded and leaves no rows behind.

        Id formats are checked when the pending chunk is turned into a frame, so a document
        with a malformed id is recorded in ``rejections`` then, not during this call.
        """
        try:
            rows = flatten_document(document, self._documents)
        except DocumentError as exc:
            rejections.add(source, position, str(exc))
            return
        self._rows.extend(rows)
        self._located.append((source, position, rejections))
        self._documents += 1
        if len(self._rows) >= CHUNK_ROWS:
            self._flush()

    @property
    def accepted(self) -> int:
        """Documents accepted so far, duplicates included."""
        return self._documents - self._refused_late

    def _flush(self) -> None:
        if not self._rows:
            return
        frame = _rows_to_frame(self._rows)
        invalid = _invalid_ids(frame)
        if invalid.height:
            for doc_index, reason in invalid.iter_rows():  # only malformed documents
                source, position, log = self._located[doc_index - self._chunk_start]
                log.add(source, position, reason)
            frame = frame.join(invalid.select("doc_index"), on="doc_index", how="anti")
            self._refused_late += invalid.height
        self._frames.append(frame)
        self._rows, self._located = [], []
        self._chunk_start = self._documents

    def finish(self) -> SpanTable:
        """The deduplicated span table of every document added."""
        self._flush()
        frames, self._frames = self._frames, []
        accepted = self.accepted
        if not frames:
            return SpanTable(empty_frame(SPAN_SCHEMA), accepted, 0)
        unique = _deduplicate(frames)
        _attach_independent_subsegments(frames)
        columns = list(SPAN_SCHEMA)
        spans = pl.concat([frame.select(columns) for frame in frames], rechunk=False)
        return SpanTable(spans, accepted, accepted - unique)


# NOTE: the two passes below rewrite the chunk frames one at a time, in place in the list, so
# at most one chunk is held twice: rewriting the concatenated frame would hold all of it twice.


def _deduplicate(frames: list[pl.DataFrame]) -> int:
    """Keep one copy of each document: a completed one over an in-progress one, else the first.

    Returns the number of unique documents.
    """
    roots = pl.concat(
        [
            frame.filter(pl.col("depth") == 0).select("trace_id", "id", "in_progress", "doc_index")
            for frame in frames
        ]
    )
    winners = roots.sort("in_progress", "doc_index").unique(["trace_id", "id"], keep="first")
    if winners.height < roots.height:
        keep = winners.select("doc_index")
        for index, frame in enumerate(frames):
            frames[index] = frame.join(keep, on="doc_index", how="semi")
    return winners.height


def _attach_independent_subsegments(frames: list[pl.DataFrame]) -> None:
    """Give rows of independent subsegment documents the segment that owns their parent."""
    independent = pl.concat(
        [
            frame.filter((pl.col("depth") == 0) & (pl.col("kind") == "subsegment")).select(
                "trace_id", "id", "parent_id"
            )
            for frame in frames
        ]
    )
    if independent.is_empty():
        return
    parents = independent.select("trace_id", "parent_id").unique()
    candidates = pl.concat(
        [
            frame.select(
                "trace_id",
                pl.col("id").alias("parent_id"),
                pl.col("segment_id").alias("owner_id"),
                (pl.col("depth") + 1).alias("depth_offset"),
            ).join(parents, on=["trace_id", "parent_id"], how="semi")
            for frame in frames
        ]
    ).unique(["trace_id", "parent_id"])
    mapping = independent.join(candidates, on=["trace_id", "parent_id"], how="inner").select(
        "trace_id", pl.col("id").alias("segment_id"), "owner_id", "depth_offset"
    )
    for index, frame in enumerate(frames):
        frames[index] = (
            frame.join(mapping, on=["trace_id", "segment_id"], how="left")
            .with_columns(
                segment_id=pl.coalesce("owner_id", "segment_id"),
                depth=(pl.col("depth") + pl.col("depth_offset").fill_null(0)).cast(pl.Int16),
            )
            .drop("owner_id", "depth_offset")
        )


def normalize_documents(
    documents: Iterable[Any], *, rejections: RejectionLog | None = None
) -> pl.DataFrame:
    """The span frame for already-parsed segment documents (deduplicated).

    Refused documents go to ``rejections`` (position: their index) when it is given.
    """
    builder = SpanBuilder()
    log = rejections if rejections is not None else RejectionLog()
    for index, document in enumerate(documents):
        position = f"[{index}]"
        try:
            node = document if isinstance(document, Node) else convert_node(document)
        except msgspec.ValidationError as exc:
            log.add("<documents>", position, schema_problem(exc))
            continue
        builder.add(node, source="<documents>", position=position, rejections=log)
    return builder.finish().spans
