"""The sample application analyzed from its OpenTelemetry form gives the X-Ray form's answers.

The OpenTelemetry form (tracelens.samples.otel) holds what instrumentation records; segments
only AWS services write (the AWS::Lambda service segment, the API Gateway stage, X-Ray's
inferred segments) have no span there. So:

- against the X-Ray form reduced the same way (``instrumented_documents``), every section of
  the JSON contract is the same, for aws/spans records and for OTLP JSON alike;
- against the full X-Ray form, functions (invocations, cold starts, init durations, errors),
  DNS lookups and the throttled calls seen by instrumented callers are the same; what differs
  is what only the service segments show (docs/otel-mapping.md, "What the OpenTelemetry form
  cannot show").
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracelens.cli import main
from tracelens.ingest.loader import load_traces
from tracelens.samples.generate import SampleConfig, generate
from tracelens.samples.otel import instrumented_documents, write_otel

SECTIONS = ("functions", "throttles", "dns", "bottlenecks", "service_map", "findings")


def analyze(path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["analyze", str(path), "--json", "--strict", "-q"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def same(left: Any, right: Any) -> bool:
    """Equal, floats to 12 significant digits (sums of the same numbers in another order)."""
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


@pytest.fixture(scope="module")
def forms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("forms")
    sample = generate(SampleConfig())
    write_otel(sample.traces, root / "otel")
    full = [doc for _, docs in sample.traces for doc in docs]
    instrumented = [doc for _, docs in sample.traces for doc in instrumented_documents(docs)[0]]
    for name, documents in (("xray-full", full), ("xray-instrumented", instrumented)):
        (root / name).mkdir()
        (root / name / "documents.json").write_text(json.dumps(documents))
    return {
        "xray-full": analyze(root / "xray-full"),
        "xray-instrumented": analyze(root / "xray-instrumented"),
        "aws-spans": analyze(root / "otel" / "aws-spans"),
        "otlp": analyze(root / "otel" / "otlp"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("otel", ["aws-spans", "otlp"])
@pytest.mark.parametrize("section", SECTIONS)
def test_every_answer_matches_the_x_ray_form_on_the_same_information(
    forms: dict[str, dict[str, Any]], otel: str, section: str
) -> None:
    assert forms[otel][section], section  # the sample exercises every section
    assert same(forms[otel][section], forms["xray-instrumented"][section])


@pytest.mark.slow
def test_functions_cold_starts_and_dns_match_the_full_x_ray_form(
    forms: dict[str, dict[str, Any]],
) -> None:
    full, otel = forms["xray-full"], forms["aws-spans"]
    assert same(otel["dns"], full["dns"])
    ours = {row["name"]: row for row in otel["functions"]}
    for row in full["functions"]:
        if row["invocations"] == 0:
            # Every request to it was throttled by Lambda: only the AWS::Lambda segment shows
            # the function, so only the X-Ray form names it.
            assert row["name"] not in ours
            continue
        mine = ours[row["name"]]
        for key in row:
            if key == "throttled":
                # Throttles of invocations no instrumented caller made (API Gateway's) show on
                # the AWS::Lambda segment only.
                assert mine[key] <= row[key]
            else:
                assert same(mine[key], row[key]), (row["name"], key)


@pytest.mark.slow
def test_throttled_calls_of_instrumented_callers_match_the_full_x_ray_form(
    forms: dict[str, dict[str, Any]],
) -> None:
    def by_caller(contract: dict[str, Any]) -> dict[tuple[str, str, str], int]:
        return {
            (row["kind"], row["source"], row["target"]): row["count"]
            for row in contract["throttles"]
        }

    otel, full = by_caller(forms["aws-spans"]), by_caller(forms["xray-full"])
    assert otel
    for key, count in otel.items():
        assert full[key] == count
    # What is missing is refused before any instrumented code ran: API Gateway's invocations.
    assert all(source.endswith("/prod") for _, source, _ in set(full) - set(otel))


@pytest.mark.slow
def test_both_forms_of_the_same_traces_together_count_each_span_once(tmp_path: Path) -> None:
    sample = generate(SampleConfig(traces=60))
    write_otel(sample.traces, tmp_path / "otel")
    (tmp_path / "xray").mkdir()
    documents = [doc for _, docs in sample.traces for doc in docs]
    (tmp_path / "xray" / "documents.json").write_text(json.dumps(documents))
    xray = load_traces([tmp_path / "xray"], processes=1)
    both = load_traces([tmp_path / "xray", tmp_path / "otel" / "aws-spans"], processes=1)
    assert both.rejections.count == 0
    assert both.spans.height == xray.spans.height
    assert both.spans.sort("trace_id", "id").equals(xray.spans.sort("trace_id", "id"))
    assert both.duplicates == both.documents - xray.segments
