"""Pure computations over normalized polars frames: no AWS, no plotting, no I/O.

Every public analysis takes ``spans`` first: the span rows of ``tracelens.schema.SPAN_SCHEMA``,
as ingest and the store give them (deduplicated, impossible times refused). Their docstrings
name only their other parameters and what they return.
"""
