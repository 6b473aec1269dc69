"""Stage 1 of ingest, open: input paths -> ``Source`` bytes, each named for messages.

- sources.py: paths, directory walks, whole files, gzip and standard input;
- streams.py: a large newline-delimited input (plain, gzip or standard input) a piece at a time;
- file_parts.py: where a large newline-delimited file can be cut, at line starts;
- shards.py: how a large input is shared among reading processes (contiguous runs of files).

Opening knows nothing of documents and their formats (tests/test_architecture.py checks it).
"""
