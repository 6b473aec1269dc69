"""Side inputs: CloudWatch GetMetricData pages and their query labels."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.builders.sideinputs import (
    BAD,
    FIXTURES,
    LOGS,
    at,
    write,
)
from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import METRIC_SCHEMA
from tracelens.sideinputs import (
    load_metrics,
)
from tracelens.sideinputs.metrics import parse_label


def metrics_of(*paths: Path) -> tuple[pl.DataFrame, RejectionLog]:
    rejections = RejectionLog()
    return load_metrics(list(paths), rejections=rejections), rejections


def test_metric_pages_with_function_and_account_labels() -> None:
    frame, rejections = metrics_of(FIXTURES / "metrics")
    assert frame.schema == pl.Schema(METRIC_SCHEMA)
    assert frame.height == 9
    checkout = frame.filter(
        pl.col("function_name") == "checkout", pl.col("metric") == "Invocations"
    )
    assert checkout.sort("timestamp")["value"].to_list() == [101.0, 98.0, 120.0]
    account = frame.filter(pl.col("function_name").is_null())
    assert account.select("metric", "stat").unique().rows() == [("ConcurrentExecutions", "Maximum")]
    assert account.sort("timestamp")["value"].to_list() == [612.0, 940.0]
    p95 = frame.filter(pl.col("stat") == "p95").sort("timestamp")
    assert p95["value"].to_list() == [640.5, 812.44]
    assert p95["timestamp"].to_list() == [at("2026-11-20T09:00:00"), at("2026-11-20T09:01:00")]
    # Partial data is kept (both pages of the orders query) and noted.
    throttles = frame.filter(pl.col("function_name") == "orders")
    assert throttles["value"].sum() == 10.0
    assert rejections.reasons["incomplete result"] == 2
    assert rejections.reasons["result refused"] == 2
    listed = {(Path(r.source).name, r.position): r.reason for r in rejections.listed}
    default = listed[("page2.json", "MetricDataResults[1]")]
    assert "Id 'm1'" in default
    assert "CloudWatch's default" in default
    assert "'<FunctionName> <MetricName> <Stat>'" in default
    assert "Id 'thr_orders'" in listed[("page1.json", "MetricDataResults[3]")]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("checkout Duration p99", ("checkout", "Duration", "p99")),
        (
            "(account) ClaimedAccountConcurrency Maximum",
            (None, "ClaimedAccountConcurrency", "Maximum"),
        ),
        ("  orders   Errors  Sum ", ("orders", "Errors", "Sum")),
    ],
)
def test_label_convention(label: str, expected: tuple[str | None, str, str]) -> None:
    assert parse_label(label) == expected


@pytest.mark.parametrize(
    "label", ["Invocations", "checkout Duration", "a b c d", "bad/fn X Sum", 7]
)
def test_labels_off_convention_are_refused(label: object) -> None:
    assert isinstance(parse_label(label), str)


def test_bad_datapoints_are_refused_one_by_one(tmp_path: Path) -> None:
    page = """{"MetricDataResults": [
      {"Id": "a", "Label": "checkout Errors Sum",
       "Timestamps": ["2026-11-20T09:00:00+00:00", "2026-11-20T09:01:00+00:00",
                      "2026-11-20T09:02:00+00:00", "never"],
       "Values": [1.0, NaN, "3", 4.0], "StatusCode": "Complete"},
      {"Id": "b", "Label": "checkout Errors Sum", "Timestamps": ["2026-11-20T09:03:00Z"],
       "Values": [], "StatusCode": "Complete"},
      {"Id": "c", "Label": "checkout Errors Sum", "Timestamps": ["2026-11-20T09:00:00Z"],
       "Values": [9.0], "StatusCode": "Complete"},
      {"Id": "d", "Label": "checkout Throttles Sum",
       "Timestamps": [1e300, -5, 1795165200, 1795165260], "Values": [1, 1, 1.2e21, 2],
       "StatusCode": "Complete"}
    ], "Messages": true}"""
    frame, rejections = metrics_of(write(tmp_path, "errors.json", page))
    assert frame.rows() == [
        ("checkout", "Errors", "Sum", at("2026-11-20T09:00:00"), 1.0),
        ("checkout", "Throttles", "Sum", at("2026-11-20T09:01:00"), 2.0),
    ]
    listed = {r.position: r.reason for r in rejections.listed}
    assert listed == {
        "Messages": "incomplete result: Messages must be an array, got a boolean",
        "MetricDataResults[3].Values[0]": (
            "datapoint refused: time out of range: timestamp 1e+300 is outside [2000-01-01, 2100-01-01) UTC"
        ),
        "MetricDataResults[3].Values[1]": (
            "datapoint refused: time out of range: timestamp -5 is outside [2000-01-01, 2100-01-01) UTC"
        ),
        "MetricDataResults[3].Values[2]": (
            "datapoint refused: value 1.2e+21 is beyond any AWS/Lambda metric (over 2**53)"
        ),
        "MetricDataResults[0].Values[1]": ("datapoint refused: value is NaN, not a finite number"),
        "MetricDataResults[0].Values[2]": (
            "datapoint refused: value is a string, not a finite number"
        ),
        "MetricDataResults[0].Values[3]": (
            "datapoint refused: timestamp 'never' is not an ISO 8601 time"
        ),
        "MetricDataResults[1]": ("result refused: Id 'b': Timestamps and Values differ in length"),
        "MetricDataResults[2].Values[0]": "duplicate datapoint: already read",
    }


def test_concatenated_metric_pages_and_unknown_metric_files(tmp_path: Path) -> None:
    page = (FIXTURES / "metrics" / "page1.json").read_text()
    frame, rejections = metrics_of(write(tmp_path, "pages.json", page + "\n" + page))
    assert frame.height == 8
    assert rejections.reasons["duplicate datapoint"] == 8
    frame, rejections = metrics_of(BAD / "durations.csv", LOGS / "inventory.json")
    assert frame.height == 0
    assert frame.schema == pl.Schema(METRIC_SCHEMA)
    first, second = rejections.listed
    assert first.reason.startswith("unknown format: not JSON; accepted formats: `aws cloudwatch")
    assert "pass it with --logs" in second.reason
