"""``tracelens demo`` from start to report, as a user runs it (no AWS account)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.builders.agent import analyze_store, functions_by_name, run_tracelens, subprocess_env
from tracelens.agent.demo import fresh_store_dir
from tracelens.cli import main
from tracelens.samples import generate
from tracelens.samples.otel import span_records, write_otel


@pytest.mark.integration
@pytest.mark.slow
def test_the_demo_collects_the_simulated_account_and_writes_the_full_report(
    tmp_path: Path, aws_home: Path
) -> None:
    out = tmp_path / "demo"

    result = run_tracelens(
        "demo", "--out", str(out), "--cycles", "2", env=subprocess_env(aws_home), timeout_s=90
    )

    assert result.returncode == 0, result.stderr
    report = out / "tracelens-report.html"
    assert result.stdout.strip() == f"report: {report}"
    for collector in ("lambda", "xray", "cloudwatch", "logs"):
        assert re.search(rf"cycle 2/2 +{collector} +ok ", result.stderr), collector
    # What tracelens did and found only: not the endpoint's 500 for percentiles (the demo does
    # not ask for them), not the scheduler's skipped runs, no cycle past the last.
    assert "percentile" not in result.stderr
    assert "maximum number of running instances" not in result.stderr
    assert not re.search(r"cycle [3-9]/2", result.stderr)
    assert re.findall(r"cycle \d/2", result.stderr).count("cycle 2/2") == 4
    assert re.search(r"^found: \d+ finding\(s\) \(\d+ critical", result.stderr, re.MULTILINE)
    assert "[critical] legacy-export" in result.stderr
    page = report.read_text()
    truth = generate().truth
    document = analyze_store(out / "demo-store")
    assert document["input"]["traces"] == truth.traces
    assert document["input"]["duplicates"] is None  # from a store: unknown
    assert set(document["input"]["sources"]) == {"traces", "logs", "metrics", "configuration"}
    rows = functions_by_name(document)
    for name, expected in truth.to_dict()["functions"].items():
        assert rows[name]["invocations"] == expected["invocations"], name
        assert rows[name]["cold_start_kinds"] == expected["cold_starts"], name
        assert rows[name]["throttled"] == expected["throttled"], name
        assert name in page
    causes = {
        (row["target"], row["cause"])
        for row in document["throttles"]
        if row["kind"] == "invocation"
    }
    assert ("legacy-export", "reserved_concurrency_zero") in causes


@pytest.mark.integration
@pytest.mark.slow
def test_the_transaction_search_demo_reads_aws_spans_into_the_report(
    tmp_path: Path, aws_home: Path
) -> None:
    # moto lacks GetTraceSegmentDestination: the demo declares the destination in its config
    # ([collectors.spans] destination), and the spans collector reads aws/spans from moto.
    out = tmp_path / "demo"
    sample = generate()
    records = [record for _, documents in sample.traces for record in span_records(documents)]

    result = run_tracelens(
        "demo",
        "--out",
        str(out),
        "--cycles",
        "2",
        "--transaction-search",
        env=subprocess_env(aws_home),
        timeout_s=90,
    )

    assert result.returncode == 0, result.stderr
    assert f"({len(records):,} span records in aws/spans)" in result.stderr
    assert re.search(rf"cycle 1/2 +spans +ok +{len(records):,} items", result.stderr)
    assert " xray " not in result.stderr  # the X-Ray collector is not run
    page = (out / "tracelens-report.html").read_text()
    assert "Traces came from aws/spans span records (CloudWatch Transaction Search)." in page
    document = analyze_store(out / "demo-store")
    assert document["input"]["trace_path"]["paths"] == ["aws_spans"]
    assert document["input"]["trace_path"]["documents"] == {"aws_spans": None}
    assert document["input"]["rejected"] == 0
    # The same answers as the same records read offline, and the functions of the X-Ray
    # form (tests/test_otel_parity.py: what differs is what only service segments show).
    write_otel(sample.traces, tmp_path / "otel")
    offline = CliRunner().invoke(
        main, ["analyze", str(tmp_path / "otel" / "aws-spans"), "--json", "-q"]
    )
    assert offline.exit_code == 0, offline.output
    expected = json.loads(offline.stdout)
    assert document["input"]["traces"] == expected["input"]["traces"]
    rows = functions_by_name(document)
    for name, row in functions_by_name(expected).items():
        assert rows[name]["invocations"] == row["invocations"], name
        assert rows[name]["cold_start_kinds"] == row["cold_start_kinds"], name
    for name, truth in sample.truth.to_dict()["functions"].items():
        if truth["invocations"]:  # a function only ever throttled has no span of its own
            assert rows[name]["invocations"] == truth["invocations"], name
            assert name in page


@pytest.mark.integration
def test_a_second_demo_starts_from_a_fresh_store_and_never_deletes_foreign_data(
    tmp_path: Path, aws_home: Path
) -> None:
    out = tmp_path / "demo"
    (out / "demo-store").mkdir(parents=True)
    (out / "demo-store" / "precious.parquet").write_text("not the demo's")

    refused = run_tracelens(
        "demo", "--out", str(out), "--cycles", "1", env=subprocess_env(aws_home)
    )

    assert refused.returncode == 1
    assert "was not made by `tracelens demo`" in refused.stderr
    assert (out / "demo-store" / "precious.parquet").exists()


def test_the_demo_store_is_emptied_only_when_the_demo_made_it(tmp_path: Path) -> None:
    first = fresh_store_dir(tmp_path)
    (first / "raw").mkdir()
    (first / "raw" / "old.json.gz").write_bytes(b"from the last demo")

    again = fresh_store_dir(tmp_path)

    assert again == first
    assert sorted(path.name for path in again.iterdir()) == [".tracelens-demo"]
