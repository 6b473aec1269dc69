from __future__ import annotations

import dataclasses

import pytest

from analyses.trace_regions import trace_regions
from tests.builders.scenario import scenario_inputs
from tracelens.inputs import Inputs
from tracelens.report.links import ConsoleLinks, console_links

TRACE = "1-5759e988-bd862e3fe1be46a994272793"


def links_of(inputs: Inputs, region: str | None = None) -> ConsoleLinks:
    """The report's console links for ``inputs``, each trace in its spans' region."""
    return console_links(inputs, trace_regions(inputs.traces.spans), region=region)


def test_trace_url_is_the_cloudwatch_xray_route() -> None:
    links = ConsoleLinks("eu-west-1", "given")
    assert links.trace_url(TRACE) == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        f"#xray:traces/{TRACE}"
    )


def test_only_xray_trace_ids_are_linked() -> None:
    links = ConsoleLinks("us-east-1", "default")
    assert links.trace_url("javascript:alert(1)") is None
    assert links.trace_url(None) is None
    assert links.trace_link('"><script>') == "&quot;&gt;&lt;script&gt;"
    assert 'rel="noopener noreferrer"' in links.trace_link(TRACE)


def test_region_preference_order() -> None:
    inputs = scenario_inputs(10)
    assert links_of(inputs, region="ap-south-1") == ConsoleLinks("ap-south-1", "given")
    with_region = dataclasses.replace(inputs, region="us-west-2")
    assert links_of(with_region) == ConsoleLinks("us-west-2", "inputs")
    assert links_of(inputs) == ConsoleLinks("eu-west-1", "function ARN")
    bare = dataclasses.replace(inputs, functions=None)
    assert links_of(bare) == ConsoleLinks("us-east-1", "default")


def test_region_from_a_resource_arn_in_the_traces() -> None:
    inputs = dataclasses.replace(scenario_inputs(10), functions=None)
    spans = inputs.traces.spans
    spans = spans.with_columns(
        spans["aws_resource"].set(
            spans["aws_resource"] == "orders", "arn:aws:sns:ca-central-1:123456789012:topic"
        )
    )
    inputs = dataclasses.replace(inputs, traces=dataclasses.replace(inputs.traces, spans=spans))
    assert links_of(inputs) == ConsoleLinks("ca-central-1", "resource ARN")


def test_bad_region_is_refused_with_an_example() -> None:
    with pytest.raises(ValueError, match="eu-west-1"):
        links_of(scenario_inputs(10), region="<script>")
