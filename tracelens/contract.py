"""The JSON contract of ``tracelens analyze --json`` (schema_version 1).

Keys may be added; the documented ones keep their names and meanings (README, "The JSON
contract"). The contract is declared once, as the ``TypedDict`` types below: ``to_contract``
builds them (mypy checks every key it writes), ``contract_outline`` renders them as the README's
contract block, and a test checks both the block and the keys of real output against them.
This module only reshapes analysis frames: it computes nothing.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Literal, TypedDict, Union, cast

import orjson
import polars as pl

from analyses.rollups import EVIDENCE_SECTIONS, RELATIVE_ACCURACY, SECTIONS_NEEDING_SPANS
from tracelens.analysis import AnalysisResult
from tracelens.windowplan import SPAN_WINDOW

SCHEMA_VERSION: Literal[1] = 1


# --- The contract's types (percentiles in milliseconds; null where unknown) ---------------------


class Rejection(TypedDict):
    source: str
    position: str
    reason: str


class IncompleteIssue(TypedDict):
    count: int  # traces (missing_root) or spans (the other issues)
    traces: int
    example_trace_id: str | None
    example: str | None


class Window(TypedDict):
    since: str | None  # ISO 8601, UTC
    until: str | None


class TracePath(TypedDict):
    paths: list[str]  # xray, aws_spans, otlp, retrieved_traces: the forms traces were read in
    # documents read per path; from a store, each null (what its runs read is not what it keeps)
    documents: dict[str, int | None]
    label: str
    transaction_search: bool | None  # None: no GetTraceSegmentDestination answer was read
    indexed_sample: bool  # only X-Ray's indexed sample was read on a Transaction Search account
    indexed_percent: float | None


class Rollups(TypedDict):
    used: bool  # whether long_window was merged from hourly rollups
    mode: Literal["auto", "never"]  # --from-rollups
    span_window_s: float  # --span-window / [report] span_window, in seconds
    reason: str  # which data answered which section, and why, in words
    spans: Window  # every section except long_window is computed from the spans of this window
    rollups: Window | None  # long_window's window: whole hours, the asked one rounded out
    relative_accuracy: float  # of long_window's percentiles (DDSketch); its counts are exact
    days: list[str]  # days merged from stored rollups
    from_spans_days: list[str]  # days rolled up from their spans for this run (missing/stale)
    missing_days: list[str]  # of those, days without a rollup
    stale_days: list[str]  # of those, days whose span parts changed after their rollup
    unreadable: list[str]  # rollup files and span parts that could not be read
    # Per key of long_window added to rollups since (entry_points, nodes): the days whose
    # rollup predates it and whose spans are gone; that key covers the window's other days.
    lacking: dict[str, list[str]]
    from_rollups: list[str]  # the keys of long_window answered from rollups
    needs_spans: list[str]  # what rollups cannot answer (read from the spans window)


class Input(TypedDict):
    documents: int | None  # null from a store: it keeps accepted documents, not what was read
    segments: int
    traces: int
    duplicates: int | None  # null from a store: copies dropped on the way in are not kept
    rejected: int
    rejections: list[Rejection]
    rejected_documents: int
    rejected_side_records: int
    in_progress: int
    # missing_root, orphan_segment, in_progress_subsegment, child_before_parent
    incomplete: dict[str, IncompleteIssue]
    limit_exceeded_traces: int | None  # null from a store: the pages' lists are not kept
    unprocessed_trace_ids: list[str] | None  # null from a store, likewise
    skipped: list[str]
    sources: list[str]
    trace_path: TracePath
    window: Window
    rollups: Rollups


class PercentilesMaxMs(TypedDict):
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class LatencyMs(TypedDict):
    p50: float | None
    p95: float | None
    p99: float | None


class CloudWatch(TypedDict):
    invocations: int | None  # Sums of the metrics given; null when not given
    errors: int | None
    throttles: int | None
    duration_peak_ms: LatencyMs  # the highest per-period Duration percentiles


class ColdStartKinds(TypedDict):
    on_demand: int
    provisioned: int
    snapstart: int


class Located(TypedDict):
    # The target a row is of: its account label and region in a store written by targets
    # ([[targets]]); null for PATH inputs. Every row of the lists below has them (the long
    # window's too: rollups are kept per account and region).
    account: str | None
    region: str | None


class Function(Located):
    name: str
    invocations: int
    cold_starts: int
    cold_start_rate: float | None
    init_ms: PercentilesMaxMs
    throttled: int
    # Throttled calls whose Invoke subsegment has no `retries` field: their retries are
    # unknown, so `throttled` is a lower bound ("at least") when this is above 0.
    throttled_retries_unknown: int
    errors: int
    faults: int
    cold_start_kinds: ColdStartKinds
    cold_starts_from_logs: int | None
    # Invocations on the synchronous path of an entry request (invocation path "sync").
    sync_invocations: int
    user_facing_cold_starts: int
    # Cold starts nobody waited for: invocation paths "async" (Lambda's async invoke),
    # "event_source" (an SQS queue's event source mapping) and "after_response".
    off_path_cold_starts: int
    cloudwatch: CloudWatch
    sampling_ratio: float | None  # traced / CloudWatch invocations
    timeouts: int | None
    duration_ms: LatencyMs
    memory_size_mb: int | None
    vpc_attached: bool | None
    reserved_concurrency: int | None
    provisioned_concurrency: int | None


class InvocationThrottle(Located):
    kind: Literal["invocation"]
    source: str
    target: str
    operation: str
    count: int
    cause: str
    absorbed_by: str | None
    throttled_calls: int
    recovered_calls: int
    # Throttled calls whose Invoke subsegment has no `retries` field: their retries are
    # unknown, so `count` is a lower bound ("at least") when this is above 0.
    retries_unknown: int
    example_trace_id: str | None


class DownstreamThrottle(Located):
    kind: Literal["downstream"]
    source: str
    target: str
    service: str
    operation: str | None
    count: int
    cause: str
    calls: int
    retries: int | None
    retries_unknown: int
    exception_type: str | None
    example_trace_id: str | None


class DnsLatencyMs(TypedDict):
    p50: float | None
    p95: float | None
    max: float | None


class DnsSplit(TypedDict):
    lookups: int
    p50_ms: float | None


class DnsLookups(TypedDict):
    """A (service, host)'s lookups: the rows of ``dns`` and of ``long_window.dns``."""

    function: str | None  # null when the service is not a Lambda function
    service: str
    host: str
    lookups: int
    latency_ms: DnsLatencyMs
    failures: int
    invocation_share: float | None
    cold: DnsSplit
    warm: DnsSplit


class Dns(Located, DnsLookups):
    vpc_attached: bool | None


class Bottleneck(Located):
    entry: str
    node: str
    node_type: str | None
    node_kind: str  # lambda_service, initialization, function_code, downstream, service
    critical_path_share: float
    slow_share: float
    traces: int
    example_trace_id: str | None


class ServiceNode(Located):
    name: str
    type: str
    requests: int
    errors: int
    faults: int
    throttles: int
    service_requests: int | None  # the Lambda service in front of a function
    service_throttles: int | None
    service_p50_ms: float | None
    service_p95_ms: float | None
    failed: int  # requests with an error, fault or throttle, each counted once


class Edge(TypedDict):
    source: str
    source_type: str
    target: str
    target_type: str
    calls: int
    errors: int
    faults: int
    throttles: int
    latency_ms: LatencyMs


class ServiceEdge(Edge, Located):
    pass


class Loop(Located):
    path: str
    closing_resource: str
    functions: int
    calls: int
    confirmed: bool
    example_trace_id: str | None


class Cycle(Located):
    nodes: list[str]  # as in cycles: node keys "<type>:<name>", from the closing resource


class ServiceMap(TypedDict):
    nodes: list[ServiceNode]
    edges: list[ServiceEdge]
    # Node keys "<type>:<name>", from the closing resource; a cycle lies within one target,
    # which located_cycles (the same cycles, in the same order) names.
    cycles: list[list[str]]
    located_cycles: list[Cycle]
    loops: list[Loop]


class Finding(Located):
    severity: Literal["critical", "warning", "info"]
    kind: str
    subject: str
    message: str
    recommendation: str | None
    evidence: dict[str, Any]
    trace_id: str | None
    key: str  # <kind>:<subject>, what --silence takes
    affected: int | None
    share: float | None


class AsyncInvocation(Located):
    function: str
    events: int
    events_with_attempts: int
    attempts: int | None
    retried_events: int | None
    max_attempt: int | None
    event_age_ms: PercentilesMaxMs
    example_trace_id: str | None


class FindingSettings(TypedDict):
    thresholds: dict[str, float]
    silenced: list[str]


class EntryPointCounts(Located):
    """An entry point's requests and latency: ``entry_points[]``, and ``long_window``'s
    (which has no example traces: they need the spans)."""

    entry: str
    type: str
    requests: int
    errors: int
    faults: int
    throttled: int
    failed: int
    error_rate: float | None
    fault_rate: float | None
    throttle_rate: float | None
    latency_ms: LatencyMs
    in_progress: int
    cold_start_requests: int
    cold_start_share: float | None


class EntryPoint(EntryPointCounts):
    slowest_trace_id: str | None
    failed_trace_id: str | None


class LongWindowDay(Located):
    day: str  # YYYY-MM-DD (UTC), the traces' start
    traces: int
    segments: int
    invocations: int
    errors: int
    faults: int
    cold_starts: int


class LongWindowFunction(Located):
    name: str
    invocations: int
    errors: int
    faults: int
    cold_starts: int
    duration_ms: LatencyMs
    init_ms: PercentilesMaxMs  # user-facing inits seen in traces


class LongWindowDns(DnsLookups, Located):
    """From the target's rows of the rollups."""


class LongWindowBottleneck(Located):
    entry: str
    node: str
    node_type: str | None
    node_kind: str
    critical_path_share: float
    traces: int


class LongWindowAsync(Located):
    function: str
    events: int
    events_with_attempts: int
    attempts: int | None
    retried_events: int | None
    max_attempt: int | None
    event_age_ms: PercentilesMaxMs


class LongWindow(TypedDict):
    # Over input.rollups.rollups (the whole window), merged from hourly rollups: counts exact,
    # percentiles within input.rollups.relative_accuracy; null when rollups were not used.
    # Its rows say their account and region like every list's: each target's long window is
    # merged from its own rows of the rollups (several targets: their rows joined, counts
    # summed).
    traces: int
    segments: int
    daily: list[LongWindowDay]
    entry_points: list[EntryPointCounts]
    functions: list[LongWindowFunction]
    edges: list[ServiceEdge]
    nodes: list[ServiceNode]  # service_map.nodes[]
    dns: list[LongWindowDns]
    bottlenecks: list[LongWindowBottleneck]
    async_invocations: list[LongWindowAsync]
    # The findings over the whole window, of every kind, from the rollups' counts and
    # sketches; trace_id null (example traces are in `findings`, of the span window). A kind
    # whose evidence some day's rollup lacks is left out (named in findings_left_out, and
    # input.rollups.lacking).
    findings: list[Finding]
    findings_left_out: list[str]


class Target(TypedDict):
    account: str  # the account label of a store's target
    region: str


class Contract(TypedDict):
    schema_version: Literal[1]
    input: Input
    entry_points: list[EntryPoint]
    functions: list[Function]
    throttles: list[InvocationThrottle | DownstreamThrottle]
    dns: list[Dns]
    bottlenecks: list[Bottleneck]
    service_map: ServiceMap
    findings: list[Finding]
    async_invocations: list[AsyncInvocation]
    finding_settings: FindingSettings
    long_window: LongWindow | None
    # The store's targets analyzed, each on its own data (empty for PATH inputs)
    targets: list[Target]


# --- The README's contract block, from the types ------------------------------------------------


def contract_outline(width: int = 100) -> str:
    """The README's contract block: every key of ``Contract``, one top-level key a line
    (wrapped at ``width``).

    An object is ``{"key", ...}``; a key holding an object or a list of objects shows it after a
    colon; a fixed value shows as ``"key": value`` (alternatives joined by ``|``); a map keyed by
    data (``input.incomplete``) shows its key as ``"<key>"``; throttles are of two kinds, both
    shown.
    """
    entries = []
    for key, hint in typing.get_type_hints(Contract).items():
        shown = _outline(hint)
        entries.append(f'"{key}": {shown}' if shown else f'"{key}"')
    lines: list[str] = []
    for number, entry in enumerate(entries):
        text = ("{" if number == 0 else " ") + entry + ("}" if number == len(entries) - 1 else ",")
        lines += _wrapped(text, width)
    return "\n".join(lines)


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` broken after ", " so no line passes ``width`` (where it can)."""
    lines: list[str] = []
    current = ""
    for piece in text.split(", "):
        candidate = f"{current}, {piece}" if current else piece
        if current and len(candidate) + 1 > width:
            lines.append(current + ",")
            current = "   " + piece
        else:
            current = candidate
    return [*lines, current]


def _outline(hint: Any) -> str:
    """How a value of type ``hint`` shows in the outline ("" for a plain value)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " | ".join(orjson.dumps(value).decode() for value in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        options = [_outline(arg) for arg in typing.get_args(hint) if arg is not type(None)]
        return " | ".join(option for option in options if option)
    if origin is list:
        inner = _outline(typing.get_args(hint)[0])
        return f"[{inner}]" if inner.startswith("{") else ""
    if origin is dict:
        inner = _outline(typing.get_args(hint)[1])
        return '{"<key>": ' + inner + "}" if inner.startswith("{") else ""
    if typing.is_typeddict(hint):
        parts = []
        for key, value in typing.get_type_hints(hint).items():
            shown = _outline(value)
            parts.append(f'"{key}": {shown}' if shown else f'"{key}"')
        return "{" + ", ".join(parts) + "}"
    return ""


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def _with_max(row: dict[str, Any], prefix: str) -> PercentilesMaxMs:
    return {
        "p50": row.get(f"{prefix}p50_ms"),
        "p95": row.get(f"{prefix}p95_ms"),
        "p99": row.get(f"{prefix}p99_ms"),
        "max": row.get(f"{prefix}max_ms"),
    }


def _latency(row: dict[str, Any], prefix: str = "") -> LatencyMs:
    return {
        "p50": row.get(f"{prefix}p50_ms"),
        "p95": row.get(f"{prefix}p95_ms"),
        "p99": row.get(f"{prefix}p99_ms"),
    }


def _input(result: AnalysisResult) -> Input:
    inputs = result.inputs
    traces = inputs.traces
    rejections = inputs.all_rejections()
    return {
        "documents": traces.read_documents,
        "segments": traces.segments,
        "traces": traces.traces,
        "duplicates": traces.read_duplicates,
        "rejected": rejections.count,
        "rejections": [
            {"source": r.source, "position": r.position, "reason": r.reason}
            for r in rejections.listed
        ],
        "rejected_documents": traces.rejections.count,
        "rejected_side_records": inputs.side_rejections.count,
        "in_progress": traces.in_progress,
        # Incomplete traces: per issue (missing_root, orphan_segment, in_progress_subsegment,
        # child_before_parent) its count, the traces affected and an example.
        "incomplete": {
            row["issue"]: {
                "count": row["count"],
                "traces": row["traces"],
                "example_trace_id": row["example_trace_id"],
                "example": row["example"],
            }
            for row in _records(result.completeness)
        },
        "limit_exceeded_traces": traces.read_limit_exceeded,
        "unprocessed_trace_ids": _listed(traces.read_unprocessed),
        # Inputs passed over, each with why (special files in directories, files that are
        # not trace data): not rejections, and --strict does not fail on them.
        "skipped": traces.read_stats.skipped[:100],
        "sources": inputs.sources_used(),
        # Where the traces came from, and whether they are only X-Ray's indexed sample.
        "trace_path": _trace_path(result),
        # Traces kept: those starting inside [since, until); `traces` counts them, the
        # document counts above are of everything read.
        "window": {
            "since": _iso(inputs.window.start),
            "until": _iso(inputs.window.end),
        },
        # Which data answered which section: the spans of `spans`, or (long_window) rollups.
        "rollups": _rollups(result),
    }


def _day(day: date) -> str:
    return day.isoformat()


def _rollups(result: AnalysisResult) -> Rollups:
    plan, merged = result.window_plan, result.long_window
    window = result.inputs.window
    used = merged is not None
    return {
        "used": used,
        "mode": plan.mode if plan is not None else "auto",
        "span_window_s": (plan.span_window if plan is not None else SPAN_WINDOW).total_seconds(),
        "reason": plan.reason
        if plan is not None
        else "the input is files: every section is from the spans",
        "spans": (
            {"since": _iso(plan.span_since), "until": _iso(plan.span_until)}
            if plan is not None
            else {"since": _iso(window.start), "until": _iso(window.end)}
        ),
        "rollups": (
            {"since": _iso(merged.plan.rollup_since), "until": _iso(merged.plan.rollup_until)}
            if merged is not None
            else None
        ),
        "relative_accuracy": RELATIVE_ACCURACY,
        "days": [_day(d) for d in merged.days] if merged else [],
        "from_spans_days": [_day(d) for d in merged.from_spans_days] if merged else [],
        "missing_days": [_day(d) for d in merged.missing_days] if merged else [],
        "stale_days": [_day(d) for d in merged.stale_days] if merged else [],
        "unreadable": list(merged.unreadable) if merged else [],
        "lacking": lacking_keys(merged.lacking, LACKING_KEYS) if merged else {},
        "from_rollups": list(LONG_WINDOW_KEYS) if used else [],
        "needs_spans": list(SECTIONS_NEEDING_SPANS),
    }


LONG_WINDOW_KEYS = (
    "long_window.traces",
    "long_window.segments",
    "long_window.daily",
    "long_window.entry_points",
    "long_window.functions",
    "long_window.edges",
    "long_window.nodes",
    "long_window.dns",
    "long_window.bottlenecks",
    "long_window.async_invocations",
    "long_window.findings",
)
LACKING_KEYS = {
    "entry": "long_window.entry_points",
    "node": "long_window.nodes",
    **{section: "long_window.findings" for section in EVIDENCE_SECTIONS},
}
"""The key in ``LONG_WINDOW_KEYS`` of each section added to rollups (``rollups.lacking``)."""


def lacking_keys(
    lacking: Mapping[str, list[date]], keys: Mapping[str, str]
) -> dict[str, list[str]]:
    """Days whose rollup lacks a section (per section of ``analyses.rollups.ADDED_SECTIONS``)
    under the caller's key of that section (``keys``: ``LACKING_KEYS`` here, the store's
    summary its own), days as ISO dates."""
    return {
        keys.get(section, section): [d.isoformat() for d in days]
        for section, days in sorted(lacking.items())
    }


def _located(rows: list[dict[str, Any]], where: Located) -> list[Any]:
    """``rows`` saying their target: ``account`` and ``region`` after each row's first key."""
    out = []
    for row in rows:
        first, *rest = row.items()
        out.append(dict([first, *where.items(), *rest]))
    return out


def _long_window(result: AnalysisResult, where: Located) -> LongWindow | None:
    merged = result.long_window
    if merged is None:
        return None
    held = merged.held
    daily: list[LongWindowDay] = [
        {
            "day": _day(row["day"]),
            **where,
            "traces": row["traces"],
            "segments": row["segments"],
            "invocations": row["invocations"],
            "errors": row["errors"],
            "faults": row["faults"],
            "cold_starts": row["cold_starts"],
        }
        for row in _records(merged.daily)
    ]
    # NOTE: tracelens.rollup.sections builds these lists in the shapes declared above.
    return {
        "traces": held["traces"],
        "segments": held["segments"],
        "daily": daily,
        "entry_points": _located(held["entry_points"], where),
        "functions": _located(held["functions"], where),
        "edges": _located(held["edges"], where),
        "nodes": _located(held["nodes"], where),
        "dns": _located(held["dns"], where),
        "bottlenecks": _located(held["bottlenecks"], where),
        "async_invocations": _located(held["async_invocations"], where),
        "findings": _finding_rows(merged.findings, where),
        "findings_left_out": list(merged.findings_left_out),
    }


def _merged_long_window(parts: list[LongWindow | None]) -> LongWindow | None:
    """Several targets' long windows (each its own rows of the rollups): rows joined in the
    targets' order (each saying its target), traces and segments summed."""
    windows = [part for part in parts if part is not None]
    if not windows:
        return None
    return {
        "traces": sum(w["traces"] for w in windows),
        "segments": sum(w["segments"] for w in windows),
        "daily": [row for w in windows for row in w["daily"]],
        "entry_points": [row for w in windows for row in w["entry_points"]],
        "functions": [row for w in windows for row in w["functions"]],
        "edges": [row for w in windows for row in w["edges"]],
        "nodes": [row for w in windows for row in w["nodes"]],
        "dns": [row for w in windows for row in w["dns"]],
        "bottlenecks": [row for w in windows for row in w["bottlenecks"]],
        "async_invocations": [row for w in windows for row in w["async_invocations"]],
        "findings": [row for w in windows for row in w["findings"]],
        "findings_left_out": sorted({kind for w in windows for kind in w["findings_left_out"]}),
    }


def _merged_rollups(parts: list[Rollups]) -> Rollups:
    """Several targets' ``input.rollups``: the first's windows and reason; used when any
    target's long window was merged; the days named by any target."""

    def days(key: Literal["days", "from_spans_days", "missing_days", "stale_days"]) -> list[str]:
        return sorted({day for part in parts for day in part[key]})

    first = parts[0]
    used = [part for part in parts if part["used"]]
    return {
        **(used[0] if used else first),
        "days": days("days"),
        "from_spans_days": days("from_spans_days"),
        "missing_days": days("missing_days"),
        "stale_days": days("stale_days"),
        "unreadable": list(dict.fromkeys(u for part in parts for u in part["unreadable"])),
        "lacking": {
            key: sorted({day for part in parts for day in part["lacking"].get(key, [])})
            for key in dict.fromkeys(key for part in parts for key in part["lacking"])
        },
    }


def _trace_path(result: AnalysisResult) -> TracePath:
    origin = result.trace_origin
    known = origin.counted
    return {
        "paths": list(origin.paths),
        "documents": {path: count if known else None for path, count in origin.documents.items()},
        "label": origin.label,
        "transaction_search": origin.transaction_search,
        "indexed_sample": origin.indexed_sample,
        "indexed_percent": origin.indexed_percent,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _functions(result: AnalysisResult, where: Located) -> list[Function]:
    joined = result.functions.join(
        result.cold_starts.drop("invocations", "cold_starts"), on="function_name", how="left"
    ).join(result.metric_totals, on="function_name", how="left")
    out: list[Function] = []
    for row in _records(joined.sort("function_name")):
        invocations = row["invocations"] or 0
        out.append(
            {
                "name": row["function_name"],
                **where,
                "invocations": invocations,
                "cold_starts": row["cold_starts"] or 0,
                # null: no traced invocation to take a rate over
                "cold_start_rate": row.get("cold_start_rate"),
                "init_ms": _with_max(row, "init_"),
                "throttled": row["throttled"] or 0,
                "throttled_retries_unknown": row["throttled_retries_unknown"] or 0,
                "errors": row["errors"] or 0,
                "faults": row["faults"] or 0,
                "cold_start_kinds": {
                    "on_demand": row.get("on_demand") or 0,
                    "provisioned": row.get("provisioned") or 0,
                    "snapstart": row.get("snapstart") or 0,
                },
                # null (unknown) when no Lambda logs were given
                "cold_starts_from_logs": row.get("cold_starts_from_logs"),
                "sync_invocations": row.get("sync_invocations") or 0,
                "user_facing_cold_starts": row.get("user_facing_cold_starts") or 0,
                "off_path_cold_starts": row.get("off_path_cold_starts") or 0,
                "cloudwatch": {
                    "invocations": row.get("metric_invocations"),
                    "errors": row.get("metric_errors"),
                    "throttles": row.get("metric_throttles"),
                    "duration_peak_ms": _latency(row, "metric_duration_"),
                },
                "sampling_ratio": row.get("sampling_ratio"),
                "timeouts": row["timeouts"],
                "duration_ms": _latency(row, "duration_"),
                "memory_size_mb": row["memory_size_mb"],
                "vpc_attached": row["vpc_attached"],
                "reserved_concurrency": row["reserved_concurrency"],
                "provisioned_concurrency": row["provisioned_concurrency"],
            }
        )
    return out


def _throttles(
    result: AnalysisResult, where: Located
) -> list[InvocationThrottle | DownstreamThrottle]:
    invocation: list[InvocationThrottle] = [
        {
            "kind": "invocation",
            "source": row["source"],
            "target": row["target"],
            "operation": "Invoke",
            "count": row["throttled_attempts"],
            "cause": row["cause"],
            "absorbed_by": row["absorbed_by"],
            "throttled_calls": row["throttled_calls"],
            "recovered_calls": row["recovered_calls"],
            "retries_unknown": row["retries_unknown"],
            "example_trace_id": row["example_trace_id"],
            **where,
        }
        for row in _records(result.invocation_throttles)
    ]
    throttled = result.downstream_throttles.filter(pl.col("throttled_calls") > 0)
    downstream: list[DownstreamThrottle] = [
        {
            "kind": "downstream",
            "source": row["source"],
            "target": row["resource"] or row["service"],
            "service": row["service"],
            "operation": row["operation"],
            "count": row["throttled_calls"],
            "cause": row["cause"],
            "calls": row["calls"],
            "retries": row["retries"],
            "retries_unknown": row["retries_unknown"],
            "exception_type": row["exception_type"],
            "example_trace_id": row["example_trace_id"],
            **where,
        }
        for row in _records(throttled)
    ]
    return [*invocation, *downstream]


def _dns(result: AnalysisResult, where: Located) -> list[Dns]:
    return [
        {
            "function": row["function_name"],
            "service": row["service"],
            "host": row["host"],
            "lookups": row["lookups"],
            "latency_ms": {
                "p50": row.get("p50_ms"),
                "p95": row.get("p95_ms"),
                "max": row.get("max_ms"),
            },
            "failures": row["failures"],
            "invocation_share": row["invocation_share"],
            "cold": {"lookups": row["cold_lookups"], "p50_ms": row["cold_p50_ms"]},
            "warm": {"lookups": row["warm_lookups"], "p50_ms": row["warm_p50_ms"]},
            "vpc_attached": row["vpc_attached"],
            **where,
        }
        for row in _records(result.dns)
    ]


def _bottlenecks(result: AnalysisResult, where: Located) -> list[Bottleneck]:
    return [
        {
            "entry": row["entry"],
            "node": row["node"],
            "node_type": row["node_type"],
            "node_kind": row["node_kind"],
            "critical_path_share": row["critical_path_share"],
            "slow_share": row["slow_share"],
            "traces": row["traces"],
            "example_trace_id": row["example_trace_id"],
            **where,
        }
        for row in _records(result.bottlenecks)
    ]


def _service_map(result: AnalysisResult, where: Located) -> ServiceMap:
    edges: list[ServiceEdge] = [
        {
            "source": row["source"],
            "source_type": row["source_type"],
            "target": row["target"],
            "target_type": row["target_type"],
            "calls": row["calls"],
            "errors": row["errors"],
            "faults": row["faults"],
            "throttles": row["throttles"],
            "latency_ms": _latency(row),
            **where,
        }
        for row in _records(result.service_edges)
    ]
    # NOTE: nodes and loops are their frames' rows (NODE_SCHEMA, LOOP_SCHEMA): a test checks
    # their keys against ServiceNode and Loop.
    return {
        "nodes": cast(
            "list[ServiceNode]", [{**row, **where} for row in _records(result.service_nodes)]
        ),
        "edges": edges,
        "cycles": result.cycles,
        "located_cycles": [{**where, "nodes": cycle} for cycle in result.cycles],
        "loops": cast("list[Loop]", [{**row, **where} for row in _records(result.loops)]),
    }


def _entry_points(result: AnalysisResult, where: Located) -> list[EntryPoint]:
    return [
        {
            "entry": row["entry"],
            "type": row["entry_type"],
            "requests": row["requests"],
            "errors": row["errors"],
            "faults": row["faults"],
            "throttled": row["throttled"],
            "failed": row["failed"],
            "error_rate": row["error_rate"],
            "fault_rate": row["fault_rate"],
            "throttle_rate": row["throttle_rate"],
            "latency_ms": _latency(row),
            "in_progress": row["in_progress"],
            "cold_start_requests": row["cold_start_requests"],
            "cold_start_share": row["cold_start_share"],
            "slowest_trace_id": row["slowest_trace_id"],
            "failed_trace_id": row["failed_trace_id"],
            **where,
        }
        for row in _records(result.entry_points)
    ]


def _findings(result: AnalysisResult, where: Located) -> list[Finding]:
    return _finding_rows(result.findings, where)


def _finding_rows(frame: pl.DataFrame, where: Located) -> list[Finding]:
    return [
        {
            "severity": row["severity"],
            "kind": row["kind"],
            "subject": row["subject"],
            "message": row["message"],
            "recommendation": row["recommendation"],
            "evidence": orjson.loads(row["evidence"]) if row["evidence"] else {},
            "trace_id": row["trace_id"],
            "key": row["key"],
            "affected": row["affected"],
            "share": row["share"],
            **where,
        }
        for row in _records(frame)
    ]


def _async(result: AnalysisResult, where: Located) -> list[AsyncInvocation]:
    return [
        {
            "function": row["function_name"],
            "events": row["events"],
            "events_with_attempts": row["events_with_attempts"],
            "attempts": row["attempts"],
            "retried_events": row["retried_events"],
            "max_attempt": row["max_attempt"],
            "event_age_ms": _with_max(row, "event_age_"),
            "example_trace_id": row["example_trace_id"],
            **where,
        }
        for row in _records(result.async_events)
    ]


def _finding_settings(result: AnalysisResult) -> FindingSettings:
    settings = result.finding_settings
    return {
        "thresholds": dataclasses.asdict(settings.thresholds),
        "silenced": list(settings.silence),
    }


def to_contract(result: AnalysisResult, *, target: tuple[str, str] | None = None) -> Contract:
    """The analysis as plain JSON-ready data (times as ISO 8601 strings); ``target``: the
    (account label, region) of a store's target it is of, which every row of its lists says."""
    where: Located = {
        "account": target[0] if target else None,
        "region": target[1] if target else None,
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "input": _input(result),
        "entry_points": _entry_points(result, where),
        "functions": _functions(result, where),
        "throttles": _throttles(result, where),
        "dns": _dns(result, where),
        "bottlenecks": _bottlenecks(result, where),
        "service_map": _service_map(result, where),
        "findings": _findings(result, where),
        "async_invocations": _async(result, where),
        "finding_settings": _finding_settings(result),
        "long_window": _long_window(result, where),
        "targets": [{"account": target[0], "region": target[1]}] if target else [],
    }


_LISTED = 100  # unprocessed_trace_ids and skipped list at most this many


def merge_contracts(parts: list[Contract]) -> Contract:
    """One contract of several targets' (each from :func:`to_contract` with its target).

    Lists are joined in the targets' order, every row saying its target (account, region; the
    service map's cycles in located_cycles); the input's counts are summed. Every number stays
    one target's: nothing is recomputed across targets.
    """
    first = parts[0]
    if len(parts) == 1:
        return first
    merged: Contract = {
        "schema_version": SCHEMA_VERSION,
        "input": _merged_input([part["input"] for part in parts]),
        "entry_points": [row for part in parts for row in part["entry_points"]],
        "functions": [row for part in parts for row in part["functions"]],
        "throttles": [row for part in parts for row in part["throttles"]],
        "dns": [row for part in parts for row in part["dns"]],
        "bottlenecks": [row for part in parts for row in part["bottlenecks"]],
        "service_map": {
            "nodes": [row for part in parts for row in part["service_map"]["nodes"]],
            "edges": [row for part in parts for row in part["service_map"]["edges"]],
            "cycles": [row for part in parts for row in part["service_map"]["cycles"]],
            "located_cycles": [
                row for part in parts for row in part["service_map"]["located_cycles"]
            ],
            "loops": [row for part in parts for row in part["service_map"]["loops"]],
        },
        "findings": [row for part in parts for row in part["findings"]],
        "async_invocations": [row for part in parts for row in part["async_invocations"]],
        "finding_settings": first["finding_settings"],
        "long_window": _merged_long_window([part["long_window"] for part in parts]),
        "targets": [t for part in parts for t in part["targets"]],
    }
    return merged


def _merged_input(inputs: list[Input]) -> Input:
    first = inputs[0]
    incomplete: dict[str, IncompleteIssue] = {}
    for each in inputs:
        for issue, seen in each["incomplete"].items():
            known = incomplete.get(issue)
            incomplete[issue] = (
                dict(seen)  # type: ignore[assignment]
                if known is None
                else {
                    **known,
                    "count": known["count"] + seen["count"],
                    "traces": known["traces"] + seen["traces"],
                }
            )
    documents: dict[str, int | None] = {}
    for each in inputs:
        for path, count in each["trace_path"]["documents"].items():
            documents[path] = _sum_known([documents.get(path, 0), count])
    paths = list(dict.fromkeys(p for each in inputs for p in each["trace_path"]["paths"]))
    labels = list(dict.fromkeys(each["trace_path"]["label"] for each in inputs))
    searches = {each["trace_path"]["transaction_search"] for each in inputs}
    return {
        "documents": _sum_known([each["documents"] for each in inputs]),
        "segments": sum(each["segments"] for each in inputs),
        "traces": sum(each["traces"] for each in inputs),
        "duplicates": _sum_known([each["duplicates"] for each in inputs]),
        "rejected": sum(each["rejected"] for each in inputs),
        "rejections": [r for each in inputs for r in each["rejections"]],
        "rejected_documents": sum(each["rejected_documents"] for each in inputs),
        "rejected_side_records": sum(each["rejected_side_records"] for each in inputs),
        "in_progress": sum(each["in_progress"] for each in inputs),
        "incomplete": incomplete,
        "limit_exceeded_traces": _sum_known([each["limit_exceeded_traces"] for each in inputs]),
        "unprocessed_trace_ids": _joined_known([each["unprocessed_trace_ids"] for each in inputs]),
        "skipped": [s for each in inputs for s in each["skipped"]][:_LISTED],
        "sources": list(dict.fromkeys(s for each in inputs for s in each["sources"])),
        "trace_path": {
            "paths": paths,
            "documents": documents,
            "label": "; ".join(labels),
            # NOTE: unknown unless every target says the same
            "transaction_search": searches.pop() if len(searches) == 1 else None,
            "indexed_sample": any(each["trace_path"]["indexed_sample"] for each in inputs),
            "indexed_percent": None,  # several targets: no one percentage holds
        },
        "window": first["window"],
        "rollups": _merged_rollups([each["rollups"] for each in inputs]),
    }


def _listed(values: list[str] | None) -> list[str] | None:
    return None if values is None else values[:_LISTED]


def _joined_known(lists: list[list[str] | None]) -> list[str] | None:
    """The lists joined (at most ``_LISTED``), or None when one is unknown."""
    if any(each is None for each in lists):
        return None
    return [item for each in lists if each is not None for item in each][:_LISTED]


def _sum_known(counts: list[int | None]) -> int | None:
    """The sum of ``counts``; None (unknown) when one of them is."""
    known = [count for count in counts if count is not None]
    return sum(known) if len(known) == len(counts) else None
