"""Analyses give the same rows whether the span text columns a store loads as Categorical
(``tracelens.schema.CATEGORICAL_SPAN_COLUMNS``) are String or Categorical; the whole analysis
and the report on a real store load are compared in tests/store/test_analysed_columns.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analyses._calls import span_tree
from analyses.async_events import async_events
from analyses.cold_starts import cold_starts
from analyses.completeness import completeness
from analyses.downstream_throttles import downstream_throttles
from analyses.invocations import invocations
from analyses.loops import loop_edges
from analyses.node_examples import node_examples
from analyses.service_map import service_map_hops, service_map_nodes_and_edges
from analyses.throttles import invocation_throttles, throttle_timeline, throttled_attempts
from tracelens.inputs import Inputs, load_inputs
from tracelens.schema import CATEGORICAL_SPAN_COLUMNS

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"

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
    "loop_edges": lambda spans, _: loop_edges(spans),
    "node_examples": lambda spans, _: node_examples(spans),
    "completeness": lambda spans, _: completeness(spans),
    "service_map_hops": lambda spans, _: service_map_hops(spans),
    "service_nodes": lambda spans, _: service_map_nodes_and_edges(spans)[0],
    "service_edges": lambda spans, _: service_map_nodes_and_edges(spans)[1],
}


@pytest.fixture(scope="module")
def sample() -> Inputs:
    return load_inputs([str(SAMPLES)])


def _categorical(spans: pl.DataFrame) -> pl.DataFrame:
    return spans.with_columns(
        pl.col(name).cast(pl.Categorical) for name in CATEGORICAL_SPAN_COLUMNS
    )


@pytest.mark.parametrize("name", list(ANALYSES))
def test_analysis_is_the_same_with_categorical_span_text(sample: Inputs, name: str) -> None:
    spans = sample.traces.spans.with_columns(pl.col(CATEGORICAL_SPAN_COLUMNS).cast(pl.String))
    analysis = ANALYSES[name]
    assert_frame_equal(analysis(_categorical(spans), sample), analysis(spans, sample))


def test_span_tree_targets_and_node_types_stay_text(sample: Inputs) -> None:
    spans = sample.traces.spans.with_columns(pl.col(CATEGORICAL_SPAN_COLUMNS).cast(pl.String))
    tree, plain = span_tree(_categorical(spans)), span_tree(spans)
    for column in ("node_type", "target", "target_type"):
        assert tree.schema[column] == pl.String()
    as_text = {name: pl.String() for name in tree.columns if tree.schema[name] == pl.Categorical}
    assert_frame_equal(tree.cast(as_text), plain)
