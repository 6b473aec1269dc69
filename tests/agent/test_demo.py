"""``tracelens demo`` from start to report, as a user runs it (no AWS account)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.builders.agent import analyze_store, functions_by_name, run_tracelens, subprocess_env
from tracelens.agent.demo import fresh_store_dir
from tracelens.samples import generate


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
    assert document["input"]["duplicates"] == 0
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
