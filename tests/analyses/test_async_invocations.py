"""Asynchronous invocations and the invocation path: sample_traces/real_world/async_*.

The sample holds three functions, as BatchGetTraces returns them:

* ``thumbnailer``, triggered by S3 (asynchronous): its ``AWS::Lambda`` segments hold
  ``Dwell Time`` and ``Attempt #N`` subsegments, each function segment is the child of its
  attempt; 12 events, one retried twice and one once, two cold starts;
* ``resizer``, behind API Gateway (synchronous): 1 cold start in 10 invocations;
* ``archiver``, a Step Functions task of a workflow the API started and answered for before the
  task ran: 3 cold starts in 6 invocations, none user-facing.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analyses.async_events import ASYNC_SCHEMA, async_events
from analyses.cold_starts import cold_starts
from analyses.findings import findings
from analyses.functions import function_table
from analyses.invocations import invocations
from tests.builders.spans import SpanBuilder
from tracelens.analysis import run_analysis
from tracelens.contract import to_contract
from tracelens.inputs import load_inputs
from tracelens.report import render_report

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traces" / "real_world"


@pytest.fixture(scope="module")
def spans() -> pl.DataFrame:
    inputs = load_inputs([SAMPLE / "async_invocations.json"])
    assert inputs.rejected == 0
    return inputs.traces.spans


def test_invocation_paths(spans: pl.DataFrame) -> None:
    inv = invocations(spans)
    paths = dict(
        inv.group_by("function_name")
        .agg(pl.col("invocation_path").unique().sort().str.join(","))
        .iter_rows()
    )
    assert paths == {"thumbnailer": "async", "resizer": "sync", "archiver": "after_response"}
    # Each attempt's execution is joined to the AWS::Lambda segment owning its attempt.
    thumbs = inv.filter(pl.col("function_name") == "thumbnailer")
    assert thumbs.height == 15  # 12 events, 3 retries
    assert thumbs["request_id"].null_count() == 0
    assert thumbs["fault"].sum() == 3  # the failed first and second attempts


def test_event_age_and_attempts(spans: pl.DataFrame) -> None:
    table = async_events(spans)
    assert dict(table.schema) == ASYNC_SCHEMA
    row = table.row(0, named=True)
    assert table.height == 1
    assert row["function_name"] == "thumbnailer"
    assert (row["events"], row["events_with_attempts"], row["attempts"]) == (12, 12, 15)
    assert (row["retried_events"], row["max_attempt"]) == (2, 3)
    assert row["event_age_max_ms"] == pytest.approx(1250.0)
    assert row["event_age_p50_ms"] == pytest.approx(45.5)
    assert row["example_trace_id"] == "1-66322f04-00a5c0000000000000000004"  # 3 attempts
    # Both retried events succeeded in the end: their 3 faulted attempts were recovered.
    assert (row["recovered_events"], row["failed_events"]) == (2, 0)
    assert (row["recovered_faults"], row["recovered_errors"]) == (3, 0)


def test_cold_starts_count_only_waiting_callers(spans: pl.DataFrame) -> None:
    cold = {r["function_name"]: r for r in cold_starts(spans).iter_rows(named=True)}
    assert {
        k: (r["user_facing_cold_starts"], r["off_path_cold_starts"]) for k, r in cold.items()
    } == {
        "archiver": (0, 3),
        "resizer": (1, 0),
        "thumbnailer": (0, 2),
    }
    assert cold["resizer"]["user_facing_cold_start_rate"] == pytest.approx(0.1)
    assert cold["resizer"]["init_p95_ms"] == pytest.approx(380.0, abs=0.01)
    # Nobody waited for archiver's inits: no user-facing rate, no user-facing percentiles.
    assert cold["archiver"]["user_facing_cold_start_rate"] is None
    assert cold["archiver"]["init_p95_ms"] is None


def test_findings_follow_the_path(spans: pl.DataFrame) -> None:
    result = run_analysis(load_inputs([SAMPLE / "async_invocations.json"]))
    rows = {r["key"]: r for r in result.findings.iter_rows(named=True)}
    # 50% of archiver's invocations were cold, but after the API had answered: info only.
    archiver = rows["cold_start:archiver"]
    assert archiver["severity"] == "info"
    assert "none user-facing" in archiver["message"]
    assert (archiver["affected"], archiver["share"]) == (3, 0.5)
    # resizer: 1 user-facing cold start in 10 synchronous invocations (10%): a warning.
    assert rows["cold_start:resizer"]["severity"] == "warning"
    assert "thumbnailer" not in {
        r["subject"]
        for r in result.findings.iter_rows(named=True)
        if r["kind"] == "cold_start" and r["severity"] != "info"
    }
    retried = rows["async_events:thumbnailer"]
    assert retried["severity"] == "warning"
    assert retried["message"].startswith(
        "2 of 12 asynchronous events needed a retry (up to attempt #3, 15 attempts in all)"
    )
    assert (retried["affected"], retried["share"]) == (2, pytest.approx(2 / 12))
    assert "No caller waited" in archiver["recommendation"]
    # 3 of thumbnailer's 15 executions faulted, but every one was an attempt of an event that
    # succeeded on Lambda's retries: nobody saw a failure, so no critical finding.
    assert result.findings.filter(pl.col("severity") == "critical").is_empty()
    failures = rows["failures:thumbnailer"]
    assert failures["severity"] == "warning"
    assert failures["message"].startswith(
        "3 attempts failed, all events eventually succeeded (2 events, on Lambda's retries): "
        "3 faults (20.0%) and 0 errors (0.0%) in 15 traced invocations"
    )
    assert failures["affected"] == 3
    assert "idempotent" in failures["recommendation"]
    contract = to_contract(result)
    assert contract["async_invocations"][0]["event_age_ms"]["max"] == pytest.approx(1250.0)
    page = render_report(result)
    table = page[page.index("<h3>Asynchronous invocations</h3>") :]
    assert "thumbnailer" in table[: table.index("</table>")]
    functions = {f["name"]: f for f in contract["functions"]}
    assert functions["archiver"]["off_path_cold_starts"] == 3
    assert functions["resizer"]["user_facing_cold_starts"] == 1


def test_queue_root_and_dwell_without_attempts() -> None:
    # A function whose trace starts at a queue is not on a caller's path; an event with a
    # Dwell Time and no Attempt subsegment has an unknown attempt count, not one attempt.
    b = SpanBuilder()
    queue = b.caller("jobs", origin="AWS::SQS::Queue", duration_ms=5.0)
    inv = b.lambda_invocation(
        "worker",
        start_s=0.01,
        duration_ms=20.0,
        parent_id=queue.segment_id,
        trace_id=queue.trace_id,
        init="on_demand",
        init_ms=300.0,
    )
    b.span(
        trace_id=queue.trace_id,
        segment_id=inv.service_id,
        parent_id=inv.service_id,
        name="Dwell Time",
        start_s=0.0,
        duration_ms=4.0,
    )
    spans = b.frame()
    assert invocations(spans)["invocation_path"].to_list() == ["async"]
    row = async_events(spans).row(0, named=True)
    assert (row["events"], row["events_with_attempts"], row["max_attempt"]) == (1, 0, None)
    assert row["retried_share"] is None


def test_silenced_findings_are_left_out(spans: pl.DataFrame) -> None:
    cold = cold_starts(spans)
    queued = async_events(spans)
    every = findings(cold_starts=cold, async_events=queued)
    assert "async_events:thumbnailer" in every["key"].to_list()
    quiet = findings(
        cold_starts=cold, async_events=queued, silence=["async_events:thumbnailer", "x:y"]
    )
    assert quiet["key"].to_list() == [k for k in every["key"] if k != "async_events:thumbnailer"]


def _retried_spans() -> pl.DataFrame:
    """thumbs: 4 clean events and 2 that succeeded on a retry; marks: 4 clean, 1 recovered,
    1 that failed all three attempts."""
    b = SpanBuilder()
    for k in range(4):
        b.async_event("thumbs", start_s=10.0 * k, failed=[False])
        b.async_event("marks", start_s=10.0 * k + 5, failed=[False])
    b.async_event("thumbs", start_s=100.0, failed=[True, False])
    b.async_event("thumbs", start_s=110.0, failed=[True, True, False])
    b.async_event("marks", start_s=120.0, failed=[True, False])
    b.async_event("marks", start_s=130.0, failed=[True, True, True])
    return b.frame()


def test_event_outcomes_tell_recovered_from_exhausted_events() -> None:
    rows = {r["function_name"]: r for r in async_events(_retried_spans()).iter_rows(named=True)}
    outcome = ("recovered_events", "failed_events", "recovered_faults", "recovered_errors")
    assert {name: tuple(row[c] for c in outcome) for name, row in rows.items()} == {
        "marks": (1, 1, 1, 0),
        "thumbs": (2, 0, 3, 0),
    }


def test_failures_all_recovered_by_retries_are_no_critical_finding() -> None:
    spans = _retried_spans()
    table = function_table(spans)
    queued = async_events(spans)
    rows = {
        r["subject"]: r
        for r in findings(functions=table, async_events=queued).rows(named=True)
        if r["kind"] == "failures"
    }
    # thumbs: 3 of 9 attempts faulted (33%: critical by rate), every event succeeded: warning.
    assert rows["thumbs"]["severity"] == "warning"
    assert rows["thumbs"]["message"].startswith(
        "3 attempts failed, all events eventually succeeded (2 events, on Lambda's retries)"
    )
    assert json.loads(rows["thumbs"]["evidence"])["recovered_failures"] == 3
    # marks: 1 failure recovered, 3 attempts of an event that exhausted its retries: critical.
    assert rows["marks"]["severity"] == "critical"
    assert rows["marks"]["message"].endswith(
        "Lambda's retries recovered 1 of these failures (attempts of events that eventually "
        "succeeded); 3 were not recovered."
    )
    # Without the asynchronous view the traced rates stand as they are.
    plain = findings(functions=table)
    assert set(plain.filter(pl.col("kind") == "failures")["severity"]) == {"critical"}
