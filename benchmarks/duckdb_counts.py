"""The reference point of the speed target: DuckDB's JSON reader doing only the cold-start and
throttle counts per function, on the same files as the benchmark.

Run by bench_analyze.py --duckdb (in a fresh process, so its peak RSS is its own); prints one
JSON object: seconds, CPU seconds, peak RSS and the counts per function, which the benchmark
compares with tracelens' own answer. DuckDB is not a dependency of tracelens: install it to run
this (`.venv/bin/pip install duckdb`).

    .venv/bin/python benchmarks/duckdb_counts.py DIR batch|ndjson
"""

from __future__ import annotations

import json
import resource
import sys
import time

import duckdb

# Per function: invocations (function segments), cold starts (those with an Initialization or
# Restore subsegment) and throttled invocations (AWS::Lambda segments flagged throttle), the
# same definitions as tracelens' functions[] (analyses/cold_starts.py, analyses/throttles.py).
COUNTS = """
WITH s AS ({segments})
SELECT name,
  count(*) FILTER (WHERE origin = 'AWS::Lambda::Function') AS invocations,
  count(*) FILTER (WHERE origin = 'AWS::Lambda::Function'
     AND list_has_any(list_transform(subsegments, lambda x: x.name),
                      ['Initialization', 'Restore'])) AS cold_starts,
  count(*) FILTER (WHERE origin = 'AWS::Lambda' AND throttle) AS throttled
FROM s WHERE origin IN ('AWS::Lambda::Function', 'AWS::Lambda')
GROUP BY name ORDER BY name
"""

# Only the fields the counts need are declared: DuckDB skips the rest of each document.
NDJSON_SEGMENTS = """
SELECT name, origin, throttle, subsegments FROM read_json('{dir}/**/*.ndjson',
  format = 'newline_delimited',
  columns = {{name: 'VARCHAR', origin: 'VARCHAR', throttle: 'BOOLEAN',
             subsegments: 'STRUCT(name VARCHAR)[]'}})
"""

# BatchGetTraces pages: the documents are JSON strings inside the page, parsed with from_json.
BATCH_SEGMENTS = """
WITH pages AS (
  SELECT unnest(Traces) AS trace FROM read_json('{dir}/**/*.json',
    format = 'unstructured', records = true, maximum_object_size = 268435456,
    columns = {{Traces: 'STRUCT(Segments STRUCT(Document VARCHAR)[])[]'}})),
documents AS (SELECT unnest(trace.Segments).Document AS document FROM pages),
parsed AS (
  SELECT from_json(document, '{{"name": "VARCHAR", "origin": "VARCHAR", "throttle": "BOOLEAN",
                               "subsegments": [{{"name": "VARCHAR"}}]}}') AS doc
  FROM documents)
SELECT doc.name AS name, doc.origin AS origin, doc.throttle AS throttle,
       doc.subsegments AS subsegments
FROM parsed
"""


def main() -> None:
    directory, fmt = sys.argv[1], sys.argv[2]
    segments = (NDJSON_SEGMENTS if fmt == "ndjson" else BATCH_SEGMENTS).format(dir=directory)
    start = time.perf_counter()
    rows = duckdb.connect().execute(COUNTS.format(segments=segments)).fetchall()
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "worker_peak_rss_mb": 0.0,
                "tree_peak_rss_mb": usage.ru_maxrss / 1024,
                "functions": {
                    name: {"invocations": inv, "cold_starts": cold, "throttled": throttled}
                    for name, inv, cold, throttled in rows
                },
            }
        )
    )


if __name__ == "__main__":
    main()
