"""CloudWatch: AWS/Lambda metrics per function and for the account, with GetMetricData.

Every query's ``Label`` is ``"<FunctionName> <MetricName> <Stat>"`` (account level:
``"(account) <MetricName> <Stat>"``) and its ``Id`` is ``m0``, ``m1``, ...: the metrics parser
relies on the label. Metrics are published minutes late, so the read window ends ``lag`` before
now and starts ``lag`` before the requested start: the trailing minutes read last time, which
may have grown since, are read again (the store keeps the latest value per datapoint).

Percentile statistics (p50/p95/p99) are queried in their own calls: an endpoint that cannot
compute them (moto) fails only those calls, which become warnings while the other statistics
are still collected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Unpack

from collectors.base import (
    AwsCollector,
    ClientOptions,
    CollectorResult,
    Failure,
    Window,
    floor_time,
)
from collectors.contract import BuildContext, CollectRequest, Needs, Registration
from collectors.metering import CallMeter, failure_from
from collectors.paging import PAGE_ERRORS, Gathered
from collectors.responses import INCOMPLETE_RESPONSE

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

API_CALLS = frozenset({"cloudwatch:GetMetricData"})

METRIC_DATA = "cloudwatch.get_metric_data"
NAMESPACE = "AWS/Lambda"
ACCOUNT_LABEL = "(account)"
MAX_QUERIES_PER_CALL = 500

FUNCTION_METRICS: tuple[tuple[str, str], ...] = (
    ("Invocations", "Sum"),
    ("Errors", "Sum"),
    ("Throttles", "Sum"),
    ("Duration", "p50"),
    ("Duration", "p95"),
    ("Duration", "p99"),
    ("Duration", "Average"),
    ("ConcurrentExecutions", "Maximum"),
    ("ProvisionedConcurrencyUtilization", "Maximum"),
    ("ProvisionedConcurrencySpilloverInvocations", "Sum"),
)
ACCOUNT_METRICS: tuple[tuple[str, str], ...] = (
    ("ConcurrentExecutions", "Maximum"),
    ("UnreservedConcurrentExecutions", "Maximum"),
    ("ClaimedAccountConcurrency", "Maximum"),
)
STANDARD_STATS = frozenset({"Sum", "Average", "Maximum", "Minimum", "SampleCount"})
PERCENTILE_STATS = frozenset(stat for _, stat in FUNCTION_METRICS if stat not in STANDARD_STATS)


def metric_label(function_name: str | None, metric: str, stat: str) -> str:
    """The query label the metrics parser reads: ``"<function|(account)> <metric> <stat>"``."""
    return f"{function_name or ACCOUNT_LABEL} {metric} {stat}"


@dataclass(frozen=True, kw_only=True)
class MetricsResult(CollectorResult):
    """A CloudWatch run.

    Attributes
    ----------
    query_window
        What was read: ``window`` widened back by ``lag`` (the re-read) and aligned to the
        period; None when the window ended too recently to read anything.
    degraded_stats
        Statistics that failed or returned nothing while the others worked (reported in
        ``warnings``; they do not make the result incomplete).
    """

    query_window: Window | None = None
    degraded_stats: frozenset[str] = frozenset()


class CloudWatchCollector(AwsCollector["CloudWatchClient"]):
    """Reads AWS/Lambda metrics for a window.

    Parameters
    ----------
    clock
        Returns the current time (UTC); the window is clamped to ``clock() - lag``.
    period_s
        The datapoint period in seconds (60 = one-minute datapoints).
    percentiles
        False: the Duration percentiles are not asked for (they stay unknown, and are
        reported in ``degraded_stats``), for an endpoint known not to compute them.
    **options
        ``client``, ``session``, ``retry`` and ``sleep``, as in ``AwsCollector``.
    """

    SERVICE = "cloudwatch"

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        period_s: int = 60,
        percentiles: bool = True,
        **options: Unpack[ClientOptions[CloudWatchClient]],
    ) -> None:
        super().__init__(**options)
        self._clock = clock
        self._period = timedelta(seconds=period_s)
        self._percentiles = percentiles

    def collect(
        self,
        window: Window,
        *,
        functions: Sequence[str],
        lag: timedelta = timedelta(minutes=10),
        account_level: bool = True,
    ) -> MetricsResult:
        """Metrics for ``functions`` (and the account) over ``window``, respecting ``lag``.

        Returns
        -------
        MetricsResult
            ``window`` is the requested window cut at ``now - lag`` (where a checkpoint may
            advance to); ``query_window`` adds the re-read trailing ``lag``.
        """
        read_end = floor_time(min(window.end, self._clock() - lag), self._period)
        read_start = floor_time(window.start - lag, self._period)
        meter = CallMeter(settings=self._retry, sleep=self._sleep)
        if read_end <= max(read_start, window.start):
            warning = f"nothing to read yet: {window} ends after now - lag ({lag})"
            return _nothing_yet(meter, warning)
        query_window = Window(read_start, read_end)
        queries = build_queries(functions, account_level=account_level, period=self._period)
        if not self._percentiles:
            queries = [query for query in queries if _stat_group(query) == "standard"]
        run = _Run(meter)
        with meter.watching(self.client):
            for stat_group, batch in _batches(queries):
                self._read(run, query_window, stat_group, batch)
        result = run.result(Window(window.start, read_end), query_window)
        if self._percentiles:
            return result
        return replace(result, degraded_stats=result.degraded_stats | PERCENTILE_STATS)

    def _read(self, run: _Run, window: Window, group: str, batch: list[dict[str, Any]]) -> None:
        params: dict[str, Any] = {
            "MetricDataQueries": batch,
            "StartTime": window.start,
            "EndTime": window.end,
            "ScanBy": "TimestampAscending",
        }
        api = "cloudwatch:GetMetricData"
        try:
            for page in run.keep_pages(METRIC_DATA, api, self.client, "get_metric_data", params):
                run.note_page(page)
        except PAGE_ERRORS as exc:
            run.group_failed(group, failure_from(api, group, exc))
            return
        run.succeeded.add(group)


def build_queries(
    functions: Iterable[str], *, account_level: bool, period: timedelta
) -> list[dict[str, Any]]:
    """GetMetricData queries with ids ``m0..`` and labels following :func:`metric_label`."""
    specs: list[tuple[str | None, str, str]] = [
        (name, metric, stat)
        for name in dict.fromkeys(functions)
        for metric, stat in FUNCTION_METRICS
    ]
    if account_level:
        specs.extend((None, metric, stat) for metric, stat in ACCOUNT_METRICS)
    return [
        {
            "Id": f"m{index}",
            "Label": metric_label(name, metric, stat),
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": name}] if name else [],
                },
                "Period": int(period.total_seconds()),
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for index, (name, metric, stat) in enumerate(specs)
    ]


def _stat_group(query: Mapping[str, Any]) -> str:
    stat = str(query["MetricStat"]["Stat"])
    return "standard" if stat in STANDARD_STATS else "percentile"


def _batches(queries: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Queries grouped by kind of statistic, then cut into calls of at most 500."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for query in queries:
        groups.setdefault(_stat_group(query), []).append(query)
    return [
        (group, members[offset : offset + MAX_QUERIES_PER_CALL])
        for group, members in groups.items()
        for offset in range(0, len(members), MAX_QUERIES_PER_CALL)
    ]


class _Run(Gathered):
    """The mutable state of one collection run."""

    def __init__(self, meter: CallMeter) -> None:
        super().__init__(meter)
        self.succeeded: set[str] = set()
        self.failed_groups: dict[str, Failure] = {}
        # label -> number of datapoints, to spot a statistic that returned nothing
        self.datapoints: dict[str, int] = {}

    def note_page(self, page: Mapping[str, Any]) -> None:
        for series in page.get("MetricDataResults", []):
            label = str(series.get("Label", series.get("Id")))
            self.datapoints[label] = self.datapoints.get(label, 0) + len(series.get("Values", []))
            status = series.get("StatusCode", "Complete")
            if status not in ("Complete", "PartialData"):
                self.warnings.append(f"{label}: status {status}")
        for message in page.get("Messages", []):
            self.warnings.append(f"GetMetricData: {message.get('Code')}: {message.get('Value')}")

    def group_failed(self, group: str, failure: Failure) -> None:
        self.failed_groups[group] = failure

    def result(self, window: Window, query_window: Window) -> MetricsResult:
        degraded: set[str] = set()
        for group, failure in self.failed_groups.items():
            # NOTE: an answer cut short is not an endpoint that cannot compute percentiles:
            # it stays a failure, so the window is read again.
            degradable = failure.code != INCOMPLETE_RESPONSE
            if group == "percentile" and "standard" in self.succeeded and degradable:
                degraded.update(PERCENTILE_STATS)
                self.warnings.append(
                    f"percentile statistics failed ({failure.code}: {failure.message}); "
                    "the other statistics were collected"
                )
            else:
                self.failures.append(failure)
        degraded.update(self._empty_percentiles())
        return MetricsResult(
            source="cloudwatch",
            window=window,
            complete=not self.failures,
            query_window=query_window,
            degraded_stats=frozenset(degraded),
            **self.fields(),
        )

    def _empty_percentiles(self) -> set[str]:
        """Duration percentiles with no datapoints where the Duration average has some."""
        empty: set[str] = set()
        for label, count in self.datapoints.items():
            subject, _, rest = label.partition(" Duration ")
            if not rest or rest in STANDARD_STATS or count:
                continue
            if self.datapoints.get(f"{subject} Duration Average", 0):
                empty.add(rest)
                self.warnings.append(
                    f"{label} returned no datapoints while the average did: the endpoint may "
                    "not support percentile statistics"
                )
        return empty


def _nothing_yet(meter: CallMeter, warning: str) -> MetricsResult:
    run = Gathered(meter)
    run.warnings.append(warning)
    return MetricsResult(
        source="cloudwatch", window=None, complete=True, query_window=None, **run.fields()
    )


class CloudWatchSource:
    """The CloudWatch collector under the collector contract.

    Its windows run up to now: it applies the lag itself (and re-reads the trailing lag,
    where late datapoints land), answering ``window=None`` while nothing is readable.
    """

    name = "cloudwatch"
    needs = Needs(window=True, functions=True, lag_in_window=False)

    def __init__(self, collector: CloudWatchCollector) -> None:
        self.collector = collector

    def collect(self, request: CollectRequest) -> CollectorResult:
        return self.collector.collect(
            request.window_for("CloudWatch"), functions=request.functions, lag=request.lag
        )


def _build(context: BuildContext) -> CloudWatchSource:
    collector = CloudWatchCollector(
        clock=context.clock,
        period_s=int(context.period.total_seconds()),
        percentiles=context.percentiles,
        **context.client_options(context.factory.cloudwatch()),
    )
    return CloudWatchSource(collector)


REGISTRATION = Registration(
    "cloudwatch", _build, API_CALLS, lag=timedelta(minutes=10), options=("period", "percentiles")
)
