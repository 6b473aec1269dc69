"""AWS/Lambda CloudWatch metrics as an ``aws cloudwatch get-metric-data`` response.

1-minute periods over the window, newest first (GetMetricData's default order). Each query's
``Label`` is ``"<FunctionName> <MetricName> <Stat>"`` or ``"(account) <MetricName> <Stat>"``.
Sum statistics are ``SAMPLING_RATIO`` times the traced counts; Duration statistics come from
the traced durations; concurrency is the traced invocations' overlap, held at the reserved
limit in minutes where the function was throttled. A metric with no activity in a minute has
no datapoint there (legacy-export, never executed, has only ``Throttles``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tracelens.samples.app import FUNCTIONS, SAMPLING_RATIO, FunctionSpec
from tracelens.samples.world import InvocationRecord, ThrottleRecord

PERIOD_S = 60
ACCOUNT = "(account)"


def linear_percentile(values: list[float], q: float) -> float:
    """Percentile with linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def max_overlap(intervals: Iterable[tuple[float, float]], low_s: float, high_s: float) -> int:
    """Most intervals open at once within [low_s, high_s)."""
    edges: list[tuple[float, int]] = []
    for start, end in intervals:
        if end <= low_s or start >= high_s:
            continue
        edges += [(max(start, low_s), 1), (min(end, high_s), -1)]
    best = current = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        current += step
        best = max(best, current)
    return best


class _Series:
    """Datapoints of one query, keyed by minute index."""

    def __init__(self, subject: str, metric: str, stat: str) -> None:
        self.subject = subject
        self.metric = metric
        self.stat = stat
        self.points: dict[int, float] = {}

    def result(self, start_s: float) -> dict[str, Any]:
        slug = self.subject.strip("()").replace("-", "_")
        minutes = sorted(self.points, reverse=True)
        return {
            "Id": f"{slug}_{self.metric.lower()}_{self.stat.lower()}",
            "Label": f"{self.subject} {self.metric} {self.stat}",
            "Timestamps": [_stamp(start_s + m * PERIOD_S) for m in minutes],
            "Values": [self.points[m] for m in minutes],
            "StatusCode": "Complete",
        }


def _stamp(t_s: float) -> str:
    return datetime.fromtimestamp(t_s, UTC).isoformat()


def _minute(t_s: float, start_s: float) -> int:
    return int((t_s - start_s) // PERIOD_S)


def _function_series(
    spec: FunctionSpec,
    records: list[InvocationRecord],
    throttles: list[ThrottleRecord],
    start_s: float,
) -> list[_Series]:
    by_minute: dict[int, list[InvocationRecord]] = defaultdict(list)
    for rec in records:
        by_minute[_minute(rec.lambda_start_s, start_s)].append(rec)
    throttled: dict[int, int] = defaultdict(int)
    for throttle in throttles:
        throttled[_minute(throttle.t_s, start_s)] += 1
    names = [
        "Invocations Sum",
        "Errors Sum",
        "Throttles Sum",
        "Duration p50",
        "Duration p95",
        "Duration p99",
        "Duration Average",
        "ConcurrentExecutions Maximum",
    ]
    if spec.provisioned_concurrency:
        names += [
            "ProvisionedConcurrencyInvocations Sum",
            "ProvisionedConcurrencySpilloverInvocations Sum",
            "ProvisionedConcurrencyUtilization Maximum",
        ]
    series = {name: _Series(spec.name, *name.split()) for name in names}
    intervals = [(r.lambda_start_s, r.lambda_end_s) for r in records]
    for minute in sorted(set(by_minute) | set(throttled)):
        series["Throttles Sum"].points[minute] = float(SAMPLING_RATIO * throttled[minute])
        if not records:
            continue
        executed = by_minute[minute]
        series["Invocations Sum"].points[minute] = float(SAMPLING_RATIO * len(executed))
        failed = sum(1 for r in executed if r.status != "success")
        series["Errors Sum"].points[minute] = float(SAMPLING_RATIO * failed)
        low_s = start_s + minute * PERIOD_S
        concurrency = max_overlap(intervals, low_s, low_s + PERIOD_S)
        limit = spec.reserved_concurrency
        if limit is not None:
            concurrency = limit if throttled[minute] else min(concurrency, limit)
        series["ConcurrentExecutions Maximum"].points[minute] = float(concurrency)
        if executed:
            _durations(series, minute, [r.duration_ms for r in executed])
        if spec.provisioned_concurrency:
            _provisioned(series, spec.provisioned_concurrency, minute, executed, records, low_s)
    return list(series.values())


def _durations(series: dict[str, _Series], minute: int, durations: list[float]) -> None:
    for q, stat in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        series[f"Duration {stat}"].points[minute] = round(linear_percentile(durations, q), 3)
    series["Duration Average"].points[minute] = round(sum(durations) / len(durations), 3)


def _provisioned(
    series: dict[str, _Series],
    allocated: int,
    minute: int,
    executed: list[InvocationRecord],
    records: list[InvocationRecord],
    low_s: float,
) -> None:
    on_pc = sum(1 for r in executed if r.provisioned_env)
    series["ProvisionedConcurrencyInvocations Sum"].points[minute] = float(SAMPLING_RATIO * on_pc)
    spill = len(executed) - on_pc
    series["ProvisionedConcurrencySpilloverInvocations Sum"].points[minute] = float(
        SAMPLING_RATIO * spill
    )
    busy = max_overlap(
        ((r.lambda_start_s, r.lambda_end_s) for r in records if r.provisioned_env),
        low_s,
        low_s + PERIOD_S,
    )
    series["ProvisionedConcurrencyUtilization Maximum"].points[minute] = round(
        min(busy, allocated) / allocated, 3
    )


def _account_series(
    records: list[InvocationRecord], throttles: list[ThrottleRecord], start_s: float
) -> list[_Series]:
    total = _Series(ACCOUNT, "ConcurrentExecutions", "Maximum")
    unreserved = _Series(ACCOUNT, "UnreservedConcurrentExecutions", "Maximum")
    claimed = _Series(ACCOUNT, "ClaimedAccountConcurrency", "Maximum")
    reserved_total = sum(f.reserved_concurrency or 0 for f in FUNCTIONS)
    provisioned_total = sum(
        f.provisioned_concurrency or 0 for f in FUNCTIONS if f.reserved_concurrency is None
    )
    all_spans = [(r.lambda_start_s, r.lambda_end_s) for r in records]
    free_spans = [
        (r.lambda_start_s, r.lambda_end_s)
        for r in records
        if r.function.reserved_concurrency is None
    ]
    on_demand_spans = [
        (r.lambda_start_s, r.lambda_end_s)
        for r in records
        if r.function.reserved_concurrency is None and not r.provisioned_env
    ]
    minutes = {_minute(r.lambda_start_s, start_s) for r in records}
    minutes |= {_minute(t.t_s, start_s) for t in throttles}
    for minute in sorted(minutes):
        low_s = start_s + minute * PERIOD_S
        total.points[minute] = float(max_overlap(all_spans, low_s, low_s + PERIOD_S))
        unreserved.points[minute] = float(max_overlap(free_spans, low_s, low_s + PERIOD_S))
        claimed.points[minute] = float(
            reserved_total
            + provisioned_total
            + max_overlap(on_demand_spans, low_s, low_s + PERIOD_S)
        )
    return [total, unreserved, claimed]


def get_metric_data(
    records: list[InvocationRecord], throttles: list[ThrottleRecord], start_s: float
) -> dict[str, Any]:
    """The GetMetricData response for every function and the account."""
    results: list[dict[str, Any]] = []
    for spec in FUNCTIONS:
        mine = [r for r in records if r.function.name == spec.name]
        refused = [t for t in throttles if t.function.name == spec.name]
        results += [s.result(start_s) for s in _function_series(spec, mine, refused, start_s)]
    results += [s.result(start_s) for s in _account_series(records, throttles, start_s)]
    return {"MetricDataResults": results, "Messages": []}
