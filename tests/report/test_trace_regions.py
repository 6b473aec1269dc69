"""Each trace linked in its own region: sample_traces/real_world/regions_mixed.json.

Four traces: one whose function ARN names eu-west-1, one whose ``AWS::Lambda`` segment's
``resource_arn`` names ap-southeast-2, one OpenTelemetry service with ``cloud.region``
us-west-2, and one client segment naming no region.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from analyses.trace_regions import trace_regions
from tracelens.analysis import run_analysis
from tracelens.inputs import Inputs, load_inputs
from tracelens.report import render_report
from tracelens.report.links import ConsoleLinks, console_links

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traces" / "real_world"
EU, AP, US, NONE = (
    "1-66324be0-aaaa00000000000000000001",
    "1-66324be1-aaaa00000000000000000002",
    "1-66324be2-aaaa00000000000000000003",
    "1-66324be3-aaaa00000000000000000004",
)


def links_of(inputs: Inputs, region: str | None = None) -> ConsoleLinks:
    """The report's console links for ``inputs``, each trace in its spans' region."""
    return console_links(inputs, trace_regions(inputs.traces.spans), region=region)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    loaded = load_inputs([SAMPLE / "regions_mixed.json"])
    assert loaded.rejected == 0
    return loaded


def test_each_trace_names_its_region(inputs: Inputs) -> None:
    assert trace_regions(inputs.traces.spans).per_trace == {
        EU: "eu-west-1",
        AP: "ap-southeast-2",
        US: "us-west-2",
    }


def test_each_trace_is_linked_in_its_own_region(inputs: Inputs) -> None:
    links = links_of(inputs)
    assert links.region_source == "traces"
    for trace, region in ((EU, "eu-west-1"), (AP, "ap-southeast-2"), (US, "us-west-2")):
        url = links.trace_url(trace)
        assert url is not None and f"region={region}#xray:traces/{trace}" in url
    # A trace naming no region goes to the commonest (here: ties, alphabetical) region.
    assert links.region_of(NONE) == "ap-southeast-2"
    # The store's region, when known, is the one for traces that name none.
    stored = links_of(dataclasses.replace(inputs, region="eu-central-1"))
    assert stored.region_of(NONE) == "eu-central-1"
    assert stored.region_of(US) == "us-west-2"
    # --region still wins for every trace.
    given = links_of(inputs, region="sa-east-1")
    assert given.region_of(EU) == "sa-east-1" and given.region_source == "given"


def test_the_report_never_says_no_region_when_an_arn_names_one(inputs: Inputs) -> None:
    page = render_report(run_analysis(inputs))
    assert "No region found" not in page
    assert "console regions ap-southeast-2, eu-west-1, us-west-2" in page
    only_eu = dataclasses.replace(
        inputs,
        traces=dataclasses.replace(inputs.traces, spans=inputs.traces.spans.filter(trace_id=EU)),
    )
    page = render_report(run_analysis(only_eu))
    assert "No region found" not in page
    assert "console region eu-west-1 (from the traces&#x27; ARNs)" in page


def test_aws_region_wins_and_an_odd_one_is_ignored(tmp_path: Path) -> None:
    import json

    lines = [
        {
            "trace_id": "1-66324be4-aaaa00000000000000000005",
            "id": "f500000000000001",
            "name": "client",
            "start_time": 1714572004.0,
            "end_time": 1714572004.1,
            "subsegments": [
                {
                    "id": "f500000000000002",
                    "name": "DynamoDB",
                    "namespace": "aws",
                    "start_time": 1714572004.01,
                    "end_time": 1714572004.02,
                    "aws": {"operation": "GetItem", "region": "eu-north-1", "table_name": "t"},
                },
                {
                    "id": "f500000000000003",
                    "name": "SQS",
                    "namespace": "aws",
                    "start_time": 1714572004.03,
                    "end_time": 1714572004.04,
                    "aws": {"operation": "SendMessage", "region": 42},
                },
            ],
        }
    ]
    path = tmp_path / "segments.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    loaded = load_inputs([path])
    assert loaded.rejected == 0
    assert loaded.traces.spans["region"].to_list() == [None, "eu-north-1", None]
