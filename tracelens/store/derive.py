"""Normalize a raw run: its pages become rows of the store's tables, dated for partitioning.

X-Ray BatchGetTraces pages go through the trace ingest (``iter_documents`` and
``SpanBuilder``), the other pages through the side-input loaders. Every row gets the account,
region and time stored of its run, and a ``_date``: a span the start date of its trace (a trace
stays in one partition), a datapoint or log line its own date, configuration the date stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from collectors import cloudwatch, lambda_config, logs_insights, xray
from collectors.base import RawPage
from tracelens.ingest.decoders.base import Reading, ReadStats
from tracelens.ingest.decoders.registry import decode_value
from tracelens.ingest.normalize.spans import SpanBuilder
from tracelens.ingest.opening.sources import Source
from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import UTC_US, conform
from tracelens.sideinputs import (
    FunctionInventory,
    LambdaLogs,
    read_functions,
    read_logs,
    read_metrics,
)
from tracelens.store import tables
from tracelens.store.raw import RawRun
from tracelens.store.sidefiles import NamedDocument, load_documents

LOG_KINDS = frozenset({logs_insights.QUERY_RESULTS, logs_insights.FILTERED_EVENTS})
FUNCTION_KINDS = frozenset(
    {
        lambda_config.LIST_FUNCTIONS,
        lambda_config.GET_FUNCTION,
        lambda_config.PROVISIONED,
        lambda_config.ACCOUNT_SETTINGS,
    }
)


@dataclass
class Derived:
    """A run's rows per table (with private columns and ``_date``) and what was refused."""

    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    rejections: RejectionLog = field(default_factory=RejectionLog)

    def rows(self) -> dict[str, int]:
        """Rows per table."""
        return {name: frame.height for name, frame in self.frames.items()}


def derive(run: RawRun, *, name: str) -> Derived:
    """The rows of every table that ``run``'s pages hold.

    Parameters
    ----------
    run
        The stored run.
    name
        Where the run is stored; rejections name ``<name> pages[<index>]``.
    """
    derived = Derived()
    named = [(f"{name} pages[{index}]", page) for index, page in enumerate(run.pages)]
    spans = _spans([item for item in named if item[1].kind == xray.TRACES], derived)
    metrics = _metrics([item for item in named if item[1].kind == cloudwatch.METRIC_DATA], derived)
    logs = _logs([item for item in named if item[1].kind in LOG_KINDS], derived)
    functions = _functions([item for item in named if item[1].kind in FUNCTION_KINDS], derived)
    frames: list[tuple[tables.Table, pl.DataFrame | None]] = [
        (tables.SPANS, _dated_by_trace(spans) if spans is not None else None),
        (tables.METRICS, metrics),
        (tables.LOG_REPORTS, logs.reports if logs is not None else None),
        (tables.LOG_EVENTS, logs.events if logs is not None else None),
        (tables.FUNCTIONS, functions.functions if functions is not None else None),
        (tables.ACCOUNT_LIMITS, _limits(functions) if functions is not None else None),
    ]
    for table, frame in frames:
        if frame is not None and frame.height:
            derived.frames[table.name] = _finish(frame, table, run)
    return derived


def _spans(pages: Sequence[tuple[str, RawPage]], derived: Derived) -> pl.DataFrame | None:
    if not pages:
        return None
    builder = SpanBuilder()
    # NOTE: unprocessed and over-limit traces are already in the collector's result.
    stats = ReadStats()
    for name, page in pages:
        refusals = builder.in_order(derived.rejections)
        reading = Reading(name, refusals, stats)
        for position, document in decode_value(dict(page.response), "", reading):
            builder.add(document, source=name, position=position, rejections=derived.rejections)
    return builder.finish().spans


def _dated_by_trace(spans: pl.DataFrame) -> pl.DataFrame:
    trace_start = pl.col("start_time").min().over("trace_id")
    return spans.with_columns(trace_start.dt.date().alias(tables.DATE))


def _metrics(pages: Sequence[tuple[str, RawPage]], derived: Derived) -> pl.DataFrame | None:
    if not pages:
        return None

    def load(sources: Sequence[Source], log: RejectionLog) -> pl.DataFrame:
        return read_metrics(sources, rejections=log)

    frame, log = load_documents(load, [(name, page.response) for name, page in pages])
    derived.rejections.extend(log)
    return frame


def _log_document(name: str, page: RawPage) -> NamedDocument:
    if page.kind == logs_insights.FILTERED_EVENTS:
        # NOTE: FilterLogEvents events do not name their log group; the request does, and
        # the logs parser takes the function from a document's `logGroupName`.
        document: dict[str, Any] = dict(page.response)
        document["logGroupName"] = page.request.get("logGroupName")
        return name, document
    return name, page.response


def _logs(pages: Sequence[tuple[str, RawPage]], derived: Derived) -> LambdaLogs | None:
    if not pages:
        return None

    def load(sources: Sequence[Source], log: RejectionLog) -> LambdaLogs:
        return read_logs(sources, rejections=log)

    logs, log = load_documents(load, [_log_document(name, page) for name, page in pages])
    derived.rejections.extend(log)
    return logs


def _functions(pages: Sequence[tuple[str, RawPage]], derived: Derived) -> FunctionInventory | None:
    if not pages:
        return None

    def load(sources: Sequence[Source], log: RejectionLog) -> FunctionInventory:
        return read_functions(sources, rejections=log)

    inventory, log = load_documents(load, [(name, page.response) for name, page in pages])
    derived.rejections.extend(log)
    return inventory


def _limits(inventory: FunctionInventory) -> pl.DataFrame | None:
    if inventory.account_concurrency_limit is None:
        return None
    return pl.DataFrame(
        {
            "account_concurrency_limit": [inventory.account_concurrency_limit],
            "unreserved_concurrency_limit": [inventory.unreserved_concurrency_limit],
        },
        schema=tables.ACCOUNT_LIMITS_SCHEMA,
    )


def _finish(frame: pl.DataFrame, table: tables.Table, run: RawRun) -> pl.DataFrame:
    """Catalog columns, private columns and ``_date`` (own time, else the run's date)."""
    fallback = pl.lit(run.reference_time.date(), pl.Date())
    if tables.DATE in frame.columns:
        day = pl.col(tables.DATE)
    elif "timestamp" in frame.columns:
        day = pl.col("timestamp").dt.date().fill_null(fallback)
    else:
        day = fallback
    dated = frame.with_columns(day.alias(tables.DATE))
    return conform(dated, table.schema).with_columns(
        pl.lit(run.account, pl.String()).alias(tables.ACCOUNT),
        pl.lit(run.region, pl.String()).alias(tables.REGION),
        pl.lit(run.stored_at).cast(UTC_US).alias(tables.STORED_AT),
        dated.get_column(tables.DATE),
    )
