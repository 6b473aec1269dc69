"""CloudWatch metrics as a side input: ``aws cloudwatch get-metric-data --output json`` output.

Any number of response pages, in one file or several (also concatenated one after the other),
are read. Each ``MetricDataResults`` entry is attributed through its ``Label``, which must follow
this convention, set by whoever writes the metric data queries:

- ``"<FunctionName> <MetricName> <Stat>"`` for a function's metric, e.g.
  ``"checkout Duration p95"`` (namespace ``AWS/Lambda``, dimension ``FunctionName``);
- ``"(account) <MetricName> <Stat>"`` for an account-level metric, e.g.
  ``"(account) ConcurrentExecutions Maximum"`` (no dimension).

A result whose label does not follow it is refused, naming its ``Id``. When a query has no
``Label``, CloudWatch labels the result with the metric name alone (the AWS CLI reference's
``get-metric-data`` example shows ``"Label": "EstimatedCharges"`` for a query with a dimension
and no label): that names neither the function nor the statistic, so such results are refused
too, with a reason saying how to label the queries.

A result whose ``StatusCode`` is not ``Complete`` (``PartialData``, ``InternalError``,
``Forbidden``) keeps its datapoints and adds one entry to the rejection log starting
"incomplete result", so the report shows that data may be missing; a response-level
``Messages`` entry is logged the same way. A datapoint that repeats one already read (same
function, metric, statistic and time) is dropped and logged as a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tracelens.ingest.opening.sources import Source
from tracelens.ingest.opening.streams import side_sources
from tracelens.ingest.rejections import RejectionLog
from tracelens.limits import EARLIEST_TIME, LATEST_TIME
from tracelens.schema import METRIC_SCHEMA, conform
from tracelens.sideinputs import _common as common

METRIC_FORMATS = "`aws cloudwatch get-metric-data --output json` responses"
ACCOUNT_LABEL = "(account)"
LABEL_CONVENTION = (
    "label each metric data query '<FunctionName> <MetricName> <Stat>' "
    "or '(account) <MetricName> <Stat>'"
)
_ROWS = {**METRIC_SCHEMA, "_source": pl.String(), "_position": pl.String()}


def parse_label(label: object) -> tuple[str | None, str, str] | str:
    """``(function name or None, metric, stat)`` from a label, or why it cannot be used."""
    if not isinstance(label, str):
        return f"Label must be a string, got {common.describe_json(label)}"
    words = label.split()
    if len(words) == 1:
        return (
            f"label {label!r} looks like CloudWatch's default (the metric name alone), which "
            f"names neither the function nor the statistic; {LABEL_CONVENTION}"
        )
    if len(words) != 3:
        return f"label {label!r} does not follow the convention; {LABEL_CONVENTION}"
    owner, metric, stat = words
    if owner == ACCOUNT_LABEL:
        return (None, metric, stat)
    if not common.is_function_name(owner):
        return f"label {label!r} starts with {owner!r}, not a function name; {LABEL_CONVENTION}"
    return (owner, metric, stat)


# NOTE: AWS/Lambda counts and durations stay far below this; beyond it a float no longer
# holds whole numbers exactly, and the analyses' integer counts could not hold the value.
MAX_VALUE = 2**53


def _timestamp(value: object) -> datetime | str:
    """An ISO 8601 time, or epoch seconds as the SDKs' JSON may print them, inside the one
    valid time range; else why not."""
    if common.is_number(value):
        seconds = float(value)  # type: ignore[arg-type]
        if not EARLIEST_TIME <= seconds < LATEST_TIME:
            return common.time_range_problem(f"timestamp {value!r}")
        return datetime.fromtimestamp(seconds, tz=UTC)
    moment = common.iso_to_datetime(value)
    if moment is None:
        return f"timestamp {value!r} is not an ISO 8601 time"
    if not common.in_time_range(moment):
        return common.time_range_problem(f"timestamp {value!r}")
    return moment


def _result_error(result: object) -> str | None:
    if not isinstance(result, dict):
        return f"a result must be an object, got {common.describe_json(result)}"
    for key in ("Timestamps", "Values"):
        if not isinstance(result.get(key), list):
            return f"{key} must be an array, got {common.describe_json(result.get(key))}"
    if len(result["Timestamps"]) != len(result["Values"]):
        return "Timestamps and Values differ in length"
    return None


class _Reader:
    """Rows and rejections of every response read."""

    def __init__(self, rejections: RejectionLog) -> None:
        self.rejections = rejections
        self.rows: dict[str, list[Any]] = {name: [] for name in _ROWS}

    def add_response(self, source: str, response: dict[str, Any], prefix: str) -> None:
        messages = response.get("Messages") or []
        if not isinstance(messages, list):
            reason = f"Messages must be an array, got {common.describe_json(messages)}"
            self.rejections.add(source, f"{prefix}Messages", f"incomplete result: {reason}")
            messages = []
        for idx, message in enumerate(messages):
            text = (
                f"{message.get('Code')}: {message.get('Value')}"
                if isinstance(message, dict)
                else str(message)
            )
            self.rejections.add(source, f"{prefix}Messages[{idx}]", f"incomplete result: {text}")
        for idx, result in enumerate(response["MetricDataResults"]):
            self._add_result(source, result, f"{prefix}MetricDataResults[{idx}]")

    def _add_result(self, source: str, result: Any, position: str) -> None:
        error = _result_error(result)
        label = parse_label(result.get("Label")) if error is None else error
        if isinstance(label, str):
            query = f"Id {result.get('Id')!r}: " if isinstance(result, dict) else ""
            self.rejections.add(source, position, f"result refused: {query}{label}")
            return
        status = result.get("StatusCode", "Complete")
        if status != "Complete":
            self.rejections.add(
                source,
                position,
                f"incomplete result: StatusCode {status!r} for Id {result.get('Id')!r}; its "
                f"{len(result['Values'])} datapoints are kept, others may be missing",
            )
        for point, (stamp, value) in enumerate(
            zip(result["Timestamps"], result["Values"], strict=True)
        ):
            self._add_point(source, f"{position}.Values[{point}]", label, stamp, value)

    def _add_point(
        self, source: str, position: str, label: tuple[str | None, str, str], stamp: Any, value: Any
    ) -> None:
        timestamp = _timestamp(stamp)
        reason = None
        if isinstance(timestamp, str):
            reason = timestamp
        elif not common.is_number(value):
            reason = f"value is {common.describe_json(value)}, not a finite number"
        elif abs(value) > MAX_VALUE:
            reason = f"value {value!r} is beyond any AWS/Lambda metric (over 2**53)"
        if reason is not None:
            self.rejections.add(source, position, f"datapoint refused: {reason}")
            return
        for name, item in zip(
            _ROWS, (*label, timestamp, float(value), source, position), strict=True
        ):
            self.rows[name].append(item)

    def frame(self) -> pl.DataFrame:
        frame = common.cut_strings(pl.DataFrame(self.rows, schema=_ROWS))
        repeat = ~pl.struct("function_name", "metric", "stat", "timestamp").is_first_distinct()
        for source, position in frame.filter(repeat).select("_source", "_position").iter_rows():
            self.rejections.add(source, position, "duplicate datapoint: already read")
        return conform(frame.filter(~repeat), METRIC_SCHEMA)


def _add_source(reader: _Reader, source: Source, text: str) -> None:
    name = source.name
    values = common.json_values(text, source.first_line) if common.looks_like_json(text) else []
    many = len(values) > 1 or source.lines
    for value in values:
        prefix = f"line {value.line}: " if many else ""
        if value.error is not None:
            reader.rejections.add(name, f"line {value.line}", value.error)
        elif isinstance(value.value, dict) and isinstance(
            value.value.get("MetricDataResults"), list
        ):
            reader.add_response(name, value.value, prefix)
        elif many:
            reader.rejections.add(name, f"line {value.line}", "not a get-metric-data response")
        else:
            what = common.wrong_input_hint(value.value) or "no MetricDataResults array"
            common.reject_unknown(reader.rejections, source, what, METRIC_FORMATS)
    if not values and text.strip():
        common.reject_unknown(reader.rejections, source, "not JSON", METRIC_FORMATS)


def load_metrics(paths: Iterable[str | Path], *, rejections: RejectionLog) -> pl.DataFrame:
    """Read CloudWatch ``get-metric-data`` responses (see the module docstring).

    Parameters
    ----------
    paths
        Files, directories, ``.gz`` files or ``-`` for standard input.
    rejections
        Receives refused results and datapoints, incomplete-result notes, and one entry per
        file in no accepted format.

    Returns
    -------
    pl.DataFrame
        One row per datapoint, with exactly ``METRIC_SCHEMA``; null ``function_name`` marks
        account-level metrics.

    Raises
    ------
    tracelens.ingest.opening.sources.InputError
        When a path does not exist or cannot be read.
    """
    return read_metrics(side_sources(paths, rejections), rejections=rejections)


def read_metrics(sources: Iterable[Source], *, rejections: RejectionLog) -> pl.DataFrame:
    """:func:`load_metrics` over sources already in memory (named for messages)."""
    reader = _Reader(rejections)
    for source in sources:
        text = common.decode_text(source, rejections, METRIC_FORMATS)
        if text is not None:
            _add_source(reader, source, text)
    return reader.frame()
