"""Stage 4 of ingest, normalize: segment documents -> rows of the span table (SPAN_SCHEMA).

- spans.py: ``SpanBuilder`` (documents in, chunk frames, the span table out) and
  ``normalize_documents``;
- flatten.py: a chunk of documents -> columns (the only per-node Python);
- document_rules.py: the schema rules the types cannot express, explained per document;
- merge.py: passes over all chunk frames: deduplication, independent subsegments.

A new field of the span table: the struct field in segment_model.py, its column in flatten.py
(or a derivation in spans.py), and its place in tracelens/schema.py.
"""

from tracelens.ingest.normalize.spans import (
    Chunks,
    SpanBuilder,
    SpanTable,
    normalize_documents,
)

__all__ = ["Chunks", "SpanBuilder", "SpanTable", "normalize_documents"]
