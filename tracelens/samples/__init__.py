"""Deterministic sample telemetry of a small serverless application, with its ground truth.

``generate`` builds traces, Lambda logs, CloudWatch metrics and function configuration in the
shapes AWS returns them; ``write_sample_set`` writes them in the ``sample_traces/`` layout;
``iter_segment_documents``/``write_bulk`` produce many documents quickly for benchmarks.
"""

from tracelens.samples.bulk import iter_segment_documents, write_bulk
from tracelens.samples.generate import SampleConfig, SampleSet, generate
from tracelens.samples.logs import LogEvent
from tracelens.samples.truth import Truth
from tracelens.samples.writer import write_sample_set

__all__ = [
    "LogEvent",
    "SampleConfig",
    "SampleSet",
    "Truth",
    "generate",
    "iter_segment_documents",
    "write_bulk",
    "write_sample_set",
]
