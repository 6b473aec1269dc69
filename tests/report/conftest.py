from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.report.scenario import scenario_result
from tracelens.analysis import AnalysisResult
from tracelens.report import render_report

GENERATED_AT = datetime(2024, 5, 1, 13, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def result() -> AnalysisResult:
    return scenario_result()


@pytest.fixture(scope="session")
def page(result: AnalysisResult) -> str:
    return render_report(result, title="orders <prod>", generated_at=GENERATED_AT)
