"""The JSON contract of ``tracelens analyze --json`` (schema_version 1).

Keys may be added; the documented ones keep their names and meanings (README, "The JSON
contract"). This module only reshapes analysis frames: it computes nothing.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import polars as pl

from tracelens.analysis import AnalysisResult

SCHEMA_VERSION = 1


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


def _percentiles(row: dict[str, Any], prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: row.get(f"{prefix}{name}_ms") for name in names}


def _input(result: AnalysisResult) -> dict[str, Any]:
    inputs = result.inputs
    traces = inputs.traces
    rejections = inputs.all_rejections()
    return {
        "documents": traces.documents,
        "segments": traces.segments,
        "traces": traces.traces,
        "duplicates": traces.duplicates,
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
        "limit_exceeded_traces": traces.read_stats.limit_exceeded_traces,
        "unprocessed_trace_ids": traces.read_stats.unprocessed_trace_ids[:100],
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
    }


def _trace_path(result: AnalysisResult) -> dict[str, Any]:
    origin = result.trace_origin
    return {
        "paths": list(origin.paths),
        "documents": dict(origin.documents),
        "label": origin.label,
        "transaction_search": origin.transaction_search,
        "indexed_sample": origin.indexed_sample,
        "indexed_percent": origin.indexed_percent,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _functions(result: AnalysisResult) -> list[dict[str, Any]]:
    joined = result.functions.join(
        result.cold_starts.drop("invocations", "cold_starts"), on="function_name", how="left"
    ).join(result.metric_totals, on="function_name", how="left")
    out = []
    for row in _records(joined.sort("function_name")):
        invocations = row["invocations"] or 0
        out.append(
            {
                "name": row["function_name"],
                "invocations": invocations,
                "cold_starts": row["cold_starts"] or 0,
                # null: no traced invocation to take a rate over
                "cold_start_rate": row.get("cold_start_rate"),
                "init_ms": _percentiles(row, "init_", ("p50", "p95", "p99", "max")),
                "throttled": row["throttled"] or 0,
                "errors": row["errors"] or 0,
                "faults": row["faults"] or 0,
                "cold_start_kinds": {
                    kind: row.get(kind) or 0 for kind in ("on_demand", "provisioned", "snapstart")
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
                    "duration_peak_ms": _percentiles(
                        row, "metric_duration_", ("p50", "p95", "p99")
                    ),
                },
                "sampling_ratio": row.get("sampling_ratio"),
                "timeouts": row["timeouts"],
                "duration_ms": _percentiles(row, "duration_", ("p50", "p95", "p99")),
                "memory_size_mb": row["memory_size_mb"],
                "vpc_attached": row["vpc_attached"],
                "reserved_concurrency": row["reserved_concurrency"],
                "provisioned_concurrency": row["provisioned_concurrency"],
            }
        )
    return out


def _throttles(result: AnalysisResult) -> list[dict[str, Any]]:
    invocation = [
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
            "example_trace_id": row["example_trace_id"],
        }
        for row in _records(result.invocation_throttles)
    ]
    throttled = result.downstream_throttles.filter(pl.col("throttled_calls") > 0)
    downstream = [
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
        }
        for row in _records(throttled)
    ]
    return invocation + downstream


def _dns(result: AnalysisResult) -> list[dict[str, Any]]:
    return [
        {
            "function": row["function_name"],
            "service": row["service"],
            "host": row["host"],
            "lookups": row["lookups"],
            "latency_ms": _percentiles(row, "", ("p50", "p95", "max")),
            "failures": row["failures"],
            "invocation_share": row["invocation_share"],
            "cold": {"lookups": row["cold_lookups"], "p50_ms": row["cold_p50_ms"]},
            "warm": {"lookups": row["warm_lookups"], "p50_ms": row["warm_p50_ms"]},
            "vpc_attached": row["vpc_attached"],
        }
        for row in _records(result.dns)
    ]


def _bottlenecks(result: AnalysisResult) -> list[dict[str, Any]]:
    columns = (
        "entry",
        "node",
        "node_type",
        "node_kind",
        "critical_path_share",
        "slow_share",
        "traces",
    )
    return [
        {key: row[key] for key in columns} | {"example_trace_id": row["example_trace_id"]}
        for row in _records(result.bottlenecks)
    ]


def _service_map(result: AnalysisResult) -> dict[str, Any]:
    edges = [
        {
            "source": row["source"],
            "source_type": row["source_type"],
            "target": row["target"],
            "target_type": row["target_type"],
            "calls": row["calls"],
            "errors": row["errors"],
            "faults": row["faults"],
            "throttles": row["throttles"],
            "latency_ms": _percentiles(row, "", ("p50", "p95", "p99")),
        }
        for row in _records(result.service_edges)
    ]
    return {
        "nodes": _records(result.service_nodes),
        "edges": edges,
        "cycles": result.cycles,
        "loops": _records(result.loops),
    }


def _entry_points(result: AnalysisResult) -> list[dict[str, Any]]:
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
            "latency_ms": _percentiles(row, "", ("p50", "p95", "p99")),
            "in_progress": row["in_progress"],
            "cold_start_requests": row["cold_start_requests"],
            "cold_start_share": row["cold_start_share"],
            "slowest_trace_id": row["slowest_trace_id"],
            "failed_trace_id": row["failed_trace_id"],
        }
        for row in _records(result.entry_points)
    ]


def _findings(result: AnalysisResult) -> list[dict[str, Any]]:
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
        }
        for row in _records(result.findings)
    ]


def _async(result: AnalysisResult) -> list[dict[str, Any]]:
    return [
        {
            "function": row["function_name"],
            "events": row["events"],
            "events_with_attempts": row["events_with_attempts"],
            "attempts": row["attempts"],
            "retried_events": row["retried_events"],
            "max_attempt": row["max_attempt"],
            "event_age_ms": _percentiles(row, "event_age_", ("p50", "p95", "p99", "max")),
            "example_trace_id": row["example_trace_id"],
        }
        for row in _records(result.async_events)
    ]


def _finding_settings(result: AnalysisResult) -> dict[str, Any]:
    settings = result.finding_settings
    return {
        "thresholds": dataclasses.asdict(settings.thresholds),
        "silenced": list(settings.silence),
    }


def to_contract(result: AnalysisResult) -> dict[str, Any]:
    """The analysis as plain JSON-ready data (times as ISO 8601 strings)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "input": _input(result),
        "entry_points": _entry_points(result),
        "functions": _functions(result),
        "throttles": _throttles(result),
        "dns": _dns(result),
        "bottlenecks": _bottlenecks(result),
        "service_map": _service_map(result),
        "findings": _findings(result),
        "async_invocations": _async(result),
        "finding_settings": _finding_settings(result),
    }
