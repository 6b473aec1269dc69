"""Ingest: exported X-Ray data in, the span frame (SPAN_SCHEMA) out, one straight pipeline.

1. open (opening/): paths, directory walks, gzip, standard input, the pieces of a large file,
   and how a large input is shared among reading processes -> ``Source`` bytes;
2. frame (framing.py): a source's bytes -> candidate documents (the whole input, or each
   line of a newline-delimited one);
3. decode (decoders/): a candidate -> located segment documents (``segment_model.Node``) or
   refusals, one module per format, consulted through decoders/registry.py;
4. normalize (normalize/): documents -> rows of the span table, checked, deduplicated.

loader.py (``load_traces``) is the entry point; pipeline.py is the one place the stages meet,
for a run of inputs; worker.py reads the other runs of a large input in worker processes.
segment_model.py (the documents' types) and rejections.py (what is refused) are shared.
"""
