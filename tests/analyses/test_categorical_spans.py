"""The invocation, throttle and span-tree analyses read span text as String or Categorical."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analyses._calls import span_tree
from analyses.async_events import async_events
from analyses.cold_starts import cold_starts
from analyses.downstream_throttles import downstream_throttles
from analyses.invocations import invocations
from analyses.throttles import invocation_throttles, throttle_timeline, throttled_attempts
from tracelens.inputs import Inputs, load_inputs

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"

# The span text columns with few distinct values (and kind, namespace: categorical already).
LOW_CARDINALITY = (
    "kind",
    "namespace",
    "name",
    "origin",
    "http_method",
    "http_url",
    "aws_operation",
    "aws_resource",
    "resource_type",
    "resource_id",
    "function_name",
    "host",
    "exception_type",
    "region",
    "trigger",
)

Analysis = Callable[[pl.DataFrame, Inputs], pl.DataFrame]

ANALYSES: dict[str, Analysis] = {
    "invocations": lambda spans, _: invocations(spans),
    "cold_starts": lambda spans, inputs: cold_starts(
        spans, reports=inputs.logs.reports if inputs.logs else None
    ),
    "throttled_attempts": lambda spans, _: throttled_attempts(spans),
    "invocation_throttles": lambda spans, inputs: invocation_throttles(
        spans,
        metrics=inputs.metrics,
        functions=inputs.functions.functions if inputs.functions else None,
    ),
    "downstream_throttles": lambda spans, _: downstream_throttles(spans),
    "throttle_timeline": lambda spans, inputs: throttle_timeline(spans, metrics=inputs.metrics),
    "async_events": lambda spans, _: async_events(spans),
}


@pytest.fixture(scope="module")
def sample() -> Inputs:
    return load_inputs([str(SAMPLES)])


def _categorical(spans: pl.DataFrame) -> pl.DataFrame:
    return spans.with_columns(pl.col(name).cast(pl.Categorical) for name in LOW_CARDINALITY)


@pytest.mark.parametrize("name", list(ANALYSES))
def test_analysis_is_the_same_with_categorical_span_text(sample: Inputs, name: str) -> None:
    spans = sample.traces.spans.with_columns(pl.col(LOW_CARDINALITY).cast(pl.String))
    analysis = ANALYSES[name]
    assert_frame_equal(analysis(_categorical(spans), sample), analysis(spans, sample))


def test_span_tree_targets_and_node_types_stay_text(sample: Inputs) -> None:
    spans = sample.traces.spans.with_columns(pl.col(LOW_CARDINALITY).cast(pl.String))
    tree, plain = span_tree(_categorical(spans)), span_tree(spans)
    for column in ("node_type", "target", "target_type"):
        assert tree.schema[column] == pl.String()
    as_text = {name: pl.String() for name in tree.columns if tree.schema[name] == pl.Categorical}
    assert_frame_equal(tree.cast(as_text), plain)
