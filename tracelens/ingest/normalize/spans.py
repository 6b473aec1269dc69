"""Turn segment documents into the span frame (SPAN_SCHEMA), in bounded chunks.

The decoders hand documents over in input order (``SpanBuilder.add``); their refusals reach the
logs through ``SpanBuilder.in_order``, listed in input order with the documents refused here.

Documents are gathered into a chunk of nodes (flatten.py), turned into columns in bulk, and
every derivation that can run column-wise (parents and owners from the depth-first order,
timestamps, hosts, function names, the rules a document's types cannot express, id formats,
deduplication) runs on the frames.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import polars as pl

from tracelens.ingest.normalize.document_rules import MISSING_TRACE_ID, node_problem
from tracelens.ingest.normalize.flatten import NodeChunk, raw_frame
from tracelens.ingest.normalize.merge import attach_independent_subsegments, deduplicate
from tracelens.ingest.rejections import RejectionLog, RejectionSink
from tracelens.ingest.segment_model import Node, convert_node, schema_problem
from tracelens.limits import valid_seconds
from tracelens.schema import SPAN_SCHEMA, UTC_US, empty_frame

CHUNK_ROWS = 25_000
# Refusals held for their chunk at most; more end the chunk early.
PENDING_REFUSALS = 10_000

_URL_HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]+)"
_ARN_FUNCTION = r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)"
_ARN_REGION = r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):"
_REGION = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"


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
    """The first bad id of each document holding one: ``doc`` and ``reason``."""
    problems = [
        frame.filter(pl.col(column).is_not_null() & ~pl.col(column).str.contains(pattern)).select(
            "doc",
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
    return pl.concat(problems)


def _broken_rules(frame: pl.DataFrame, chunk: NodeChunk) -> pl.DataFrame:
    """Documents breaking a rule their types cannot express: ``doc`` and ``reason``."""
    broken = frame.filter(
        (pl.col("end_time").is_null() & ~pl.col("in_progress"))
        | pl.col("bad_status")
        | ~valid_seconds("start_time")
        | ~valid_seconds("end_time")
        | (pl.col("end_time") < pl.col("start_time")).fill_null(value=False)
    )
    docs = broken.get_column("doc").unique(maintain_order=True).to_list()
    reasons = [node_problem(chunk.roots[doc]) or "invalid document" for doc in docs]
    return pl.DataFrame(
        {"doc": docs, "reason": reasons}, schema={"doc": pl.UInt32, "reason": pl.String}
    )


def _owners_and_parents(max_depth: int) -> dict[str, pl.Expr]:
    """Each row's parent and owning segment, from the depth-first order of a chunk.

    A row's parent is the nearest row above it one level up; its owner is the nearest
    document root (depth 0) above it or itself.
    """
    depth = pl.col("depth")
    owner = pl.when(depth == 0).then(pl.col("id")).forward_fill()
    parent: Any = pl.when(depth == 0).then(pl.col("parent_id"))
    for level in range(1, max_depth + 1):
        parent = parent.when(depth == level).then(
            pl.when(depth == level - 1).then(pl.col("id")).forward_fill()
        )
    return {"segment_id": owner, "parent_id": parent}


def _function_name(ref: pl.Expr) -> pl.Expr:
    return (
        pl.when(ref.str.starts_with("arn:")).then(ref.str.extract(_ARN_FUNCTION, 1)).otherwise(ref)
    )


# Resource types of `resource_names` by the calling subsegment's (service's) name.
_SERVICE_RESOURCE_TYPES = {
    "s3": "AWS::S3::Bucket",
    "sqs": "AWS::SQS::Queue",
    "sns": "AWS::SNS::Topic",
    "dynamodb": "AWS::DynamoDB::Table",
    "lambda": "AWS::Lambda::Function",
}


def _resource_identity() -> dict[str, pl.Expr]:
    """``resource_type`` and ``resource_id`` (see ``SPAN_SCHEMA``) from the raw identity."""
    raw_type, raw_id = pl.col("raw_resource_type"), pl.col("raw_resource_id")
    by_service = (
        pl.col("name")
        .str.to_lowercase()
        .replace_strict(_SERVICE_RESOURCE_TYPES, default=None, return_dtype=pl.String())
    )
    kind = pl.coalesce(raw_type, by_service, pl.lit("AWS::") + pl.col("name"))
    name = (
        pl.when(kind == "AWS::SQS::Queue")
        .then(raw_id.str.extract(r"([^/:]+)/?$", 1))  # a queue URL's last path segment
        .when(kind == "AWS::SNS::Topic")
        .then(raw_id.str.extract(r"([^:]+)$", 1))  # a topic ARN's last field
        .when(kind == "AWS::Lambda::Function")
        .then(_function_name(raw_id))
        .otherwise(raw_id)
    )
    return {
        "resource_type": pl.when(raw_id.is_not_null()).then(kind),
        "resource_id": name,
    }


def _region() -> pl.Expr:
    """The region a span names: ``aws.region``, else that of its function or resource ARN,
    else a ``cloud.region`` attribute."""

    def of_arn(column: str) -> pl.Expr:
        return pl.col(column).str.extract(_ARN_REGION, 1)

    given = pl.col("aws_region")
    return pl.coalesce(
        pl.when(given.str.contains(_REGION)).then(given),
        of_arn("function_arn"),
        of_arn("resource_arn"),
        of_arn("function_ref"),
        of_arn("aws_resource"),
        pl.when(pl.col("attr_region").str.contains(_REGION)).then(pl.col("attr_region")),
    )


def _chunk_spans(frame: pl.DataFrame, first_doc: int, max_depth: int) -> pl.DataFrame:
    """The span columns of a raw chunk frame; ``doc_index`` counts documents from ``first_doc``."""
    start_us = (pl.col("start_time") * 1e6).round().cast(pl.Int64)
    end_us = (pl.col("end_time") * 1e6).round().cast(pl.Int64)
    is_root_segment = (pl.col("depth") == 0) & pl.col("type").ne_missing("subsegment")
    derived: dict[str, pl.Expr] = {
        **_owners_and_parents(max_depth),
        "kind": pl.when(is_root_segment).then(pl.lit("segment")).otherwise(pl.lit("subsegment")),
        "start_time": start_us.cast(UTC_US),
        "end_time": end_us.cast(UTC_US),
        "duration_ms": (end_us - start_us).cast(pl.Float64) / 1000.0,
        "function_name": _function_name(pl.coalesce("function_ref", "resource_arn")),
        **_resource_identity(),
        "host": pl.coalesce(
            pl.col("http_url").str.extract(_URL_HOST, 1).str.to_lowercase(), pl.col("attr_host")
        ),
        "region": _region(),
        "doc_index": (pl.col("doc") + first_doc).cast(pl.UInt32),
    }
    kept = [name for name in frame.columns if name in SPAN_SCHEMA and name not in derived]
    return frame.select(*kept, **derived)


@dataclass(frozen=True)
class Chunks:
    """Chunk frames of a builder, before deduplication, with its document counts."""

    frames: list[pl.DataFrame]
    documents: int  # documents numbered, including those refused late
    refused: int  # documents refused when their chunk became a frame


# A refusal waiting for its chunk: (documents numbered before it, 0 when found while reading
# or 1 when found with its chunk, source, position, reason, the log it goes to).
_Refusal = tuple[int, int, str, str, str, RejectionLog]


class _InOrder:
    """A rejection log seen through a builder: refusals reach the log in input order."""

    def __init__(self, builder: SpanBuilder, log: RejectionLog) -> None:
        self._builder, self._log = builder, log

    def add(self, source: str, position: str, reason: str) -> None:
        self._builder.refuse(source, position, reason, self._log)


class SpanBuilder:
    """Accumulates documents; :meth:`finish` returns the deduplicated span table.

    Documents are numbered in the order they are added; among copies of one document the
    first complete one is kept. Refusals reach their logs in input order whenever a chunk
    becomes a frame, so the listed (first) rejections do not depend on where chunks, files
    or processes begin and end.
    """

    def __init__(self) -> None:
        self._chunk = NodeChunk()
        self._frames: list[pl.DataFrame] = []
        self._documents = 0
        self._refused_late = 0
        # Where each document of the pending chunk came from, to name it if it is refused.
        self._chunk_start = 0
        self._located: list[tuple[str, str, RejectionLog]] = []
        self._refusals: list[_Refusal] = []

    def in_order(self, log: RejectionLog) -> RejectionSink:
        """``log`` for a reader feeding this builder: what it refuses is listed in input order
        with the documents this builder refuses later."""
        return _InOrder(self, log)

    def refuse(self, source: str, position: str, reason: str, log: RejectionLog) -> None:
        """Record an input refused before it became a document (see :meth:`in_order`)."""
        self._refusals.append((self._documents, 0, source, position, reason, log))
        if len(self._refusals) >= PENDING_REFUSALS:
            self._flush()  # input that is mostly refused must not pile up here

    def add(self, document: Node, *, source: str, position: str, rejections: RejectionLog) -> None:
        """Take one document; a refused document is recorded and leaves no rows behind.

        Most rules are checked column-wise when the pending chunk becomes a frame, so a
        document breaking one is recorded in ``rejections`` then, not during this call.
        """
        if document.trace_id is None:
            self.refuse(source, position, MISSING_TRACE_ID, rejections)
            return
        self._chunk.add(document)
        self._located.append((source, position, rejections))
        self._documents += 1
        if len(self._chunk.nodes) >= CHUNK_ROWS:
            self._flush()

    @property
    def accepted(self) -> int:
        """Documents accepted so far, duplicates included."""
        return self._documents - self._refused_late

    def _flush(self) -> None:
        chunk = self._chunk
        if chunk.roots:
            raw = raw_frame(chunk)
            refused = pl.concat([_broken_rules(raw, chunk), _invalid_ids(raw)]).unique(
                "doc", keep="first", maintain_order=True
            )
            if refused.height:
                for doc, reason in refused.iter_rows():  # only malformed documents
                    source, position, log = self._located[doc]
                    self._refusals.append(
                        (self._chunk_start + doc, 1, source, position, reason, log)
                    )
                raw = raw.join(refused.select("doc"), on="doc", how="anti")
                self._refused_late += refused.height
            self._frames.append(_chunk_spans(raw, self._chunk_start, max(chunk.depths)))
            self._chunk, self._located = NodeChunk(), []
            self._chunk_start = self._documents
        # A document refused with its chunk comes after what was refused before it was read
        # and before what was refused after it.
        self._refusals.sort(key=lambda refusal: refusal[:2])
        for _, _, source, position, reason, log in self._refusals:
            log.add(source, position, reason)
        self._refusals = []

    def take_chunks(self) -> Chunks:
        """Hand over the chunk frames built so far (not yet deduplicated), emptying the builder."""
        self._flush()
        chunks = Chunks(self._frames, self._documents, self._refused_late)
        self._frames, self._documents, self._refused_late, self._chunk_start = [], 0, 0, 0
        return chunks

    def absorb(self, chunks: Chunks) -> None:
        """Append chunks another builder made, as if their documents were added here next."""
        self._flush()
        offset = self._documents
        self._frames.extend(
            frame.with_columns(pl.col("doc_index") + offset) for frame in chunks.frames
        )
        self._documents += chunks.documents
        self._refused_late += chunks.refused
        self._chunk_start = self._documents

    def finish(self) -> SpanTable:
        """The deduplicated span table of every document added."""
        self._flush()
        frames, self._frames = self._frames, []
        accepted = self.accepted
        if not frames:
            return SpanTable(empty_frame(SPAN_SCHEMA), accepted, 0)
        unique = deduplicate(frames)
        attach_independent_subsegments(frames)
        return SpanTable(_one_chunk_per_column(frames), accepted, accepted - unique)


def _one_chunk_per_column(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The span columns of ``frames`` concatenated, each into one contiguous chunk.

    The columns are moved out of ``frames`` (emptying them) one at a time, so at most one
    column is held twice.
    """
    # NOTE: analyses gather rows all over the frame: from one chunk that is a plain index,
    # from ~100 chunk frames it is slower and copies long strings (see _tree.gather_views).
    # Copying also sheds the bytes that refused and duplicate rows left in string buffers.
    return pl.DataFrame(
        [
            pl.concat([frame.drop_in_place(name) for frame in frames], rechunk=True)
            for name in SPAN_SCHEMA
        ]
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
            builder.refuse("<documents>", position, schema_problem(exc), log)
            continue
        builder.add(node, source="<documents>", position=position, rejections=log)
    return builder.finish().spans
