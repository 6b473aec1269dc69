"""Normalize a raw run: its pages become rows of the store's tables, dated for partitioning.

X-Ray BatchGetTraces pages, ``aws/spans`` pages (Transaction Search span records, as
GetQueryResults or FilterLogEvents answers) and imported trace files go through the trace ingest
(``value_documents``/``iter_documents`` and ``SpanBuilder``), the other pages and imported
files through the side-input parsers, in memory. Every row gets the account,
region and time stored of its run, and a ``_date``: a span the date of its trace
(:func:`trace_days`: the time in its id, else its earliest start; a trace stays in one
partition), a datapoint or log line its own date, configuration the date stored.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import polars as pl

from collectors import cloudwatch, lambda_config, logs_insights, spans, xray
from collectors.base import RawPage
from tracelens.ingest.decoders.base import Reading, ReadStats
from tracelens.ingest.decoders.registry import decode_value
from tracelens.ingest.framing import iter_documents
from tracelens.ingest.normalize.spans import SpanBuilder
from tracelens.ingest.opening.sources import Source
from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import UTC_US, conform
from tracelens.sideinputs import (
    FunctionInventory,
    read_functions,
    read_logs,
    read_metrics,
)
from tracelens.store import filepages, tables
from tracelens.store.raw import RawRun

# API pages whose content the trace decoders recognize (BatchGetTraces, aws/spans records).
TRACE_KINDS = frozenset({xray.TRACES, spans.SPAN_RECORDS, spans.SPAN_EVENTS})
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
    after_midnight: pl.DataFrame | None = None
    """Traces (``trace_id``, ``_date``) dated by their earliest span, which starts within
    :data:`MIDNIGHT_MARGIN` after midnight: their start may be in the previous day's part."""

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
        Where the run is stored; rejections name ``<name> pages[<index>]`` (an imported file's
        page names the file itself, and the position inside it).
    """
    derived = Derived()
    named = [(f"{name} pages[{index}]", page) for index, page in enumerate(run.pages)]
    traced, paths = _spans(named, derived)
    log = derived.rejections
    metric_sources = _sources(named, {cloudwatch.METRIC_DATA}, filepages.METRICS)
    log_sources = _sources(named, LOG_KINDS, filepages.LOGS)
    function_sources = _sources(named, FUNCTION_KINDS, filepages.FUNCTIONS)
    metrics = read_metrics(metric_sources, rejections=log) if metric_sources else None
    logs = read_logs(log_sources, rejections=log) if log_sources else None
    functions = read_functions(function_sources, rejections=log) if function_sources else None
    frames: list[tuple[tables.Table, pl.DataFrame | None]] = [
        (tables.SPANS, _dated_by_trace(traced, derived) if traced is not None else None),
        (tables.METRICS, metrics),
        (tables.LOG_REPORTS, logs.reports if logs is not None else None),
        (tables.LOG_EVENTS, logs.events if logs is not None else None),
        (tables.FUNCTIONS, functions.functions if functions is not None else None),
        (tables.ACCOUNT_LIMITS, _limits(functions) if functions is not None else None),
        (tables.TRACE_READS, _trace_reads(run, paths, [page for _, page in named], traced)),
    ]
    for table, frame in frames:
        if frame is not None and frame.height:
            derived.frames[table.name] = _finish(frame, table, run)
    return derived


def _spans(
    named: Sequence[tuple[str, RawPage]], derived: Derived
) -> tuple[pl.DataFrame | None, dict[str, int]]:
    """The spans of trace pages and imported trace files (None when there are none), and the
    documents read per trace path."""
    builder = SpanBuilder()
    # NOTE: unprocessed and over-limit traces are already in the collector's result.
    stats = ReadStats()
    found = False
    for page_name, page in named:
        refusals = builder.in_order(derived.rejections)
        if page.kind in TRACE_KINDS:
            name = page_name
            reading = Reading(name, refusals, stats)
            documents = decode_value(dict(page.response), "", reading)
        elif page.kind == filepages.TRACES:
            source = filepages.source_of(page)
            name = source.name
            documents = iter_documents(source, refusals, stats)
        else:
            continue
        found = True
        for position, document in documents:
            builder.add(document, source=name, position=position, rejections=derived.rejections)
    return (builder.finish().spans if found else None), stats.paths


def _trace_reads(
    run: RawRun, paths: dict[str, int], pages: Sequence[RawPage], traced: pl.DataFrame | None
) -> pl.DataFrame | None:
    """A row per trace path the run read, and one per GetTraceSegmentDestination answer.

    They are timed by the end of the run's window; a run without one (an import) by the latest
    start among its spans, so that the rows are pruned with the traces they read, not kept
    with the day of the import.
    """
    moment = run.window.end if run.window is not None else run.stored_at
    if run.window is None and traced is not None and traced.height:
        latest = traced.get_column("start_time").max()
        moment = latest if isinstance(latest, datetime) else moment
    rows: list[dict[str, Any]] = [
        {"path": path, "timestamp": moment, "documents": count}
        for path, count in sorted(paths.items())
        if count
    ]
    percent = None
    for page in pages:
        if page.kind == spans.INDEXING_RULES:
            found = spans.default_indexed_percent(page.response)
            percent = found if found is not None else percent
    for page in pages:
        answer = page.response
        if page.kind == spans.DESTINATION and isinstance(answer.get("Destination"), str):
            status = answer.get("Status")
            rows.append(
                {
                    "path": None,
                    "timestamp": moment,
                    "destination": answer["Destination"],
                    "destination_status": status if isinstance(status, str) else None,
                    "indexed_percent": percent,
                }
            )
    return pl.DataFrame(rows, schema=tables.TRACE_READS.schema) if rows else None


ID_TIME_AFTER = timedelta(days=1)
"""How long after its trace id's time a trace's earliest span may start, for that time to date
it (an asynchronous consumer, a retried event: Lambda keeps an event up to 6 hours)."""
ID_TIME_BEFORE = timedelta(minutes=5)
"""How long before its trace id's time a span may start (clock skew between hosts)."""
MIDNIGHT_MARGIN = timedelta(hours=1)
"""A trace dated by its earliest span (no time in its id) that starts within this after
midnight is looked up in the previous day (:func:`tracelens.store.persisting.settle_days`)."""
_XRAY_ID = r"^1-([0-9a-fA-F]{8})-[0-9a-fA-F]{24}$"


def id_time(trace_id: pl.Expr) -> pl.Expr:
    """The time in an X-Ray trace id (``1-<8 hex epoch seconds>-<24 hex>``; W3C ids of 32 hex
    digits are stored in that form), or null for an id of another form.

    A W3C id made by an X-Ray-compatible generator carries the time the same way; a random
    one does not: its first 8 digits are taken as a time only when plausible
    (:func:`trace_days`).
    """
    seconds = trace_id.str.extract(_XRAY_ID, 1).str.to_integer(base=16, strict=False)
    return (seconds.cast(pl.Int64) * 1_000_000).cast(UTC_US)


def trace_days(spans: pl.DataFrame) -> pl.DataFrame:
    """Per trace of ``spans``: its partition ``_date``, its ``earliest`` start among ``spans``
    and whether the date is its id's (``timed``).

    The date is the day of the time in the trace id when that time is plausible: the earliest
    span starts at most :data:`ID_TIME_BEFORE` before it and at most :data:`ID_TIME_AFTER`
    after it. That day depends on the id alone, so every run holding a piece of the trace
    files it under the same day. Otherwise (an id without a time, a random W3C id) the day is
    the earliest start's, among the spans of this run.

    A span that starts before the id's time (clock skew) dates the trace by its own start:
    a trace is never dated after its earliest span, so a reader of a window looks for its
    traces in the window's days and the day before only. NOTE: when that span and the id's
    time are either side of midnight and come in different runs, the trace is in two days.
    """
    per_trace = spans.group_by("trace_id").agg(pl.col("start_time").min().alias("earliest"))
    moment = id_time(pl.col("trace_id"))
    plausible = (moment >= pl.col("earliest") - ID_TIME_AFTER) & (
        moment <= pl.col("earliest") + ID_TIME_BEFORE
    )
    timed = plausible.fill_null(value=False)
    return per_trace.with_columns(
        pl.when(timed)
        .then(pl.min_horizontal(moment, pl.col("earliest")).dt.date())
        .otherwise(pl.col("earliest").dt.date())
        .alias(tables.DATE),
        timed.alias("timed"),
    )


def _dated_by_trace(spans: pl.DataFrame, derived: Derived) -> pl.DataFrame:
    days = trace_days(spans)
    midnight = pl.col("earliest").dt.truncate("1d")
    late = days.filter(~pl.col("timed") & (pl.col("earliest") - midnight < MIDNIGHT_MARGIN)).select(
        "trace_id", tables.DATE
    )
    derived.after_midnight = late if late.height else None
    dated = days.select("trace_id", tables.DATE)
    return spans.join(dated, on="trace_id", how="left", maintain_order="left", nulls_equal=True)


def _document(page: RawPage) -> dict[str, Any]:
    document: dict[str, Any] = dict(page.response)
    if page.kind == logs_insights.FILTERED_EVENTS:
        # NOTE: FilterLogEvents events do not name their log group; the request does, and
        # the logs parser takes the function from a document's `logGroupName`.
        document["logGroupName"] = page.request.get("logGroupName")
    return document


def _sources(
    named: Sequence[tuple[str, RawPage]], kinds: Collection[str], file_kind: str
) -> list[Source]:
    """The pages of ``kinds`` (API responses, as JSON named after the page) and imported files
    of ``file_kind``, as the side-input parsers read them."""
    sources: list[Source] = []
    for name, page in named:
        if page.kind in kinds:
            sources.append(Source(name, orjson.dumps(_document(page))))
        elif page.kind == file_kind:
            sources.append(filepages.source_of(page))
    return sources


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
