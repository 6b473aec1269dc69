from __future__ import annotations

import pytest

from tests.builders.scenario import GENERATED_AT, scenario_result
from tracelens.analysis import AnalysisResult
from tracelens.report import render_report


@pytest.fixture(scope="session")
def result() -> AnalysisResult:
    return scenario_result()


@pytest.fixture(scope="session")
def page(result: AnalysisResult) -> str:
    return render_report(result, title="orders <prod>", generated_at=GENERATED_AT)
