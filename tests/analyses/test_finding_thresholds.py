"""Finding thresholds: declared once, with units, reasons and checked values."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from analyses.finding_thresholds import (
    THRESHOLD_NAMES,
    ThresholdError,
    Thresholds,
    describe_thresholds,
    parse_threshold,
    threshold_value,
)

ROOT = Path(__file__).resolve().parents[2]


def test_every_threshold_has_a_unit_and_a_reason() -> None:
    for field in dataclasses.fields(Thresholds):
        assert field.metadata["unit"], field.name
        assert len(field.metadata["reason"]) > 20, field.name
    lines = describe_thresholds()
    assert len(lines) == len(THRESHOLD_NAMES)
    assert lines[0] == "min_invocations = 5  (invocations)"
    assert describe_thresholds(reasons=True)[0].startswith("min_invocations = 5  (invocations): ")


def test_the_example_config_lists_every_threshold_with_its_default() -> None:
    table = tomllib.loads((ROOT / "tracelens.example.toml").read_text())["findings"]
    assert table.pop("silence") == []
    assert table == dataclasses.asdict(Thresholds())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cold_start_rate_critical=0.3", ("cold_start_rate_critical", 0.3)),
        (" min_invocations = 20 ", ("min_invocations", 20)),
        ("dns_p95_warning_ms=250", ("dns_p95_warning_ms", 250.0)),
    ],
)
def test_parse_threshold(text: str, expected: tuple[str, float]) -> None:
    name, value = parse_threshold(text)
    assert (name, value) == expected
    assert type(value) is type(getattr(Thresholds(), name))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cold_start_rate_critical", "is not NAME=VALUE"),
        ("cold_start_rate=0.3", "unknown threshold 'cold_start_rate'; known: min_invocations"),
        ("min_invocations=2.5", "must be a whole number"),
        ("dns_p95_warning_ms=fast", "must be a number"),
        ("dns_p95_warning_ms=-1", "must be 0 or more"),
        ("dns_p95_warning_ms=nan", "must be 0 or more"),
    ],
)
def test_bad_thresholds_are_named(text: str, problem: str) -> None:
    with pytest.raises(ThresholdError, match=problem):
        parse_threshold(text)


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(ThresholdError, match="must be a number"):
        threshold_value("min_invocations", True)
