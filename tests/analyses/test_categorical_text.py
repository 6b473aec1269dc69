"""Analyses give the same answers whether span text columns are String or Categorical (a store
may load its low-cardinality text columns as Categorical)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from analyses.completeness import completeness
from analyses.loops import loop_edges
from analyses.node_examples import node_examples
from analyses.service_map import service_map_hops, service_map_nodes_and_edges
from tracelens.inputs import load_inputs

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces" / "xray"
# Text columns the span tree reads either way (its node names are derived from them).
TEXT = ["origin", "function_name", "resource_type", "resource_id", "aws_operation"]


def _nodes(spans: pl.DataFrame) -> pl.DataFrame:
    return service_map_nodes_and_edges(spans)[0]


def _edges(spans: pl.DataFrame) -> pl.DataFrame:
    return service_map_nodes_and_edges(spans)[1]


@pytest.mark.parametrize(
    "analysis", [loop_edges, node_examples, completeness, service_map_hops, _nodes, _edges]
)
def test_categorical_text_columns_give_the_same_rows(
    analysis: Callable[[pl.DataFrame], pl.DataFrame],
) -> None:
    spans = load_inputs([SAMPLES]).traces.spans
    coded = spans.with_columns(pl.col(TEXT).cast(pl.Categorical))
    plain = analysis(spans)
    assert not plain.is_empty()
    assert analysis(coded).equals(plain)
