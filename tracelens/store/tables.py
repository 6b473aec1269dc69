"""The normalized tables of a store: their columns, and which rows repeat which.

Every table holds its catalog schema (``tracelens.schema``) plus three private columns saying
where and when a row was read. Rows read again (an overlapping window, a re-run after a crash)
are told apart by each table's ``identity``: of the copies, the one stored last is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracelens.schema import (
    FUNCTION_SCHEMA,
    LOG_EVENT_SCHEMA,
    METRIC_SCHEMA,
    REPORT_SCHEMA,
    SPAN_SCHEMA,
    TRACE_READ_SCHEMA,
    UTC_US,
)

ACCOUNT, REGION, STORED_AT = "_account", "_region", "_stored_at"
PRIVATE_SCHEMA: dict[str, pl.DataType] = {
    ACCOUNT: pl.String(),
    REGION: pl.String(),
    STORED_AT: UTC_US,
}
DATE = "_date"  # the partition of a row, present only between deriving and writing
PART = "_part"  # the file a row was read from (its number), present only while reading
PART_TYPE = pl.UInt32()

# The account's concurrency limits from GetAccountSettings (one row per run that read them).
ACCOUNT_LIMITS_SCHEMA: dict[str, pl.DataType] = {
    "account_concurrency_limit": pl.Int32(),
    "unreserved_concurrency_limit": pl.Int32(),
}


@dataclass(frozen=True)
class Table:
    """One normalized table.

    Attributes
    ----------
    name
        Its directory in the store.
    schema
        The catalog columns (private columns come on top).
    identity
        Columns that identify a row across runs (account and region are added); None when a
        table has its own rule (spans: whole segment documents).
    """

    name: str
    schema: dict[str, pl.DataType]
    identity: tuple[str, ...] | None

    @property
    def stored_schema(self) -> dict[str, pl.DataType]:
        """The columns of its Parquet files."""
        return {**self.schema, **PRIVATE_SCHEMA}


SPANS = Table("spans", SPAN_SCHEMA, None)
METRICS = Table("metrics", METRIC_SCHEMA, ("function_name", "metric", "stat", "timestamp"))
# NOTE: a request has one REPORT; its timestamp keeps two REPORTs without a request id apart.
LOG_REPORTS = Table("log_reports", REPORT_SCHEMA, ("function_name", "request_id", "timestamp"))
LOG_EVENTS = Table("log_events", LOG_EVENT_SCHEMA, tuple(LOG_EVENT_SCHEMA))
FUNCTIONS = Table("functions", FUNCTION_SCHEMA, ("function_name",))
ACCOUNT_LIMITS = Table("account_limits", ACCOUNT_LIMITS_SCHEMA, ())
TRACE_READS = Table("trace_reads", TRACE_READ_SCHEMA, ("path", "timestamp"))

TABLES: tuple[Table, ...] = (
    SPANS,
    METRICS,
    LOG_REPORTS,
    LOG_EVENTS,
    FUNCTIONS,
    ACCOUNT_LIMITS,
    TRACE_READS,
)
TABLES_BY_NAME = {table.name: table for table in TABLES}
