"""Every analysis output matches its declared schema, on real sample data and on nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analyses.bottlenecks import BOTTLENECK_SCHEMA, CRITICAL_PATH_SCHEMA
from analyses.cold_starts import COLD_START_SCHEMA
from analyses.dns import CONNECTION_SETUP_SCHEMA, DNS_SCHEMA
from analyses.finding_format import FINDING_SCHEMA
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.invocations import INVOCATION_SCHEMA
from analyses.service_map import EDGE_SCHEMA, NODE_SCHEMA
from analyses.throttles import (
    DOWNSTREAM_THROTTLE_SCHEMA,
    INVOCATION_THROTTLE_SCHEMA,
    THROTTLE_TIMELINE_SCHEMA,
)
from tracelens.analysis import AnalysisResult, run_analysis
from tracelens.ingest.loader import TraceInput
from tracelens.ingest.rejections import RejectionLog
from tracelens.inputs import Inputs, load_inputs
from tracelens.schema import SPAN_SCHEMA, empty_frame

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"

DECLARED = {
    "invocations": INVOCATION_SCHEMA,
    "functions": FUNCTION_TABLE_SCHEMA,
    "cold_starts": COLD_START_SCHEMA,
    "invocation_throttles": INVOCATION_THROTTLE_SCHEMA,
    "downstream_throttles": DOWNSTREAM_THROTTLE_SCHEMA,
    "throttle_timeline": THROTTLE_TIMELINE_SCHEMA,
    "dns": DNS_SCHEMA,
    "connection_setup": CONNECTION_SETUP_SCHEMA,
    "critical_path": CRITICAL_PATH_SCHEMA,
    "bottlenecks": BOTTLENECK_SCHEMA,
    "service_nodes": NODE_SCHEMA,
    "service_edges": EDGE_SCHEMA,
    "findings": FINDING_SCHEMA,
}


@pytest.fixture(scope="module")
def sample_result() -> AnalysisResult:
    return run_analysis(load_inputs([SAMPLES]))


@pytest.fixture(scope="module")
def empty_result() -> AnalysisResult:
    traces = TraceInput(empty_frame(SPAN_SCHEMA), 0, 0, 0, RejectionLog(), 0)
    return run_analysis(Inputs(traces=traces))


@pytest.mark.parametrize("field", sorted(DECLARED))
def test_sample_output_matches_declared_schema(sample_result: AnalysisResult, field: str) -> None:
    frame: pl.DataFrame = getattr(sample_result, field)
    assert dict(frame.schema) == DECLARED[field]
    assert frame.height > 0, f"{field} should have rows on the sample data"


@pytest.mark.parametrize("field", sorted(DECLARED))
def test_empty_input_gives_empty_frames_with_the_schema(
    empty_result: AnalysisResult, field: str
) -> None:
    frame: pl.DataFrame = getattr(empty_result, field)
    assert dict(frame.schema) == DECLARED[field]
    assert frame.height == 0
