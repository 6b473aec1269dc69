"""Spans from CloudWatch Transaction Search: where X-Ray sends spans, then ``aws/spans``.

Transaction Search is an account-wide, per-region setting. For each window the collector asks
X-Ray where trace segments go (GetTraceSegmentDestination: ``XRay`` or ``CloudWatchLogs``,
``PENDING`` or ``ACTIVE``) and what share X-Ray still indexes as trace summaries
(GetIndexingRules: the ``Default`` rule's sampling percentage). When spans go to CloudWatch
Logs, every span of the window is in the log group ``aws/spans``, one OpenTelemetry span
record per log event; the collector reads them with Logs Insights and stores the pages as
received (page kind ``spans.get_query_results``, each row's ``@message`` one span record).
When they go to X-Ray, the X-Ray collector reads them and this one reads nothing; when the
destination cannot be read (an endpoint without the API, a policy without the action) it reads
nothing either and says so. When every span goes to ``aws/spans`` (ACTIVE, or declared) and the
log group does not exist or may not be read, the window fails with what to do: X-Ray creates
the group when Transaction Search is turned on, so a missing one is a configuration that would
read traces from nowhere, not "no logs yet".

Why Logs Insights: one query covers the window whatever the number of log streams, returns up
to 10,000 rows, and a window that hits the cap is read again in halves (down to one second),
as for Lambda logs; it is billed by the data scanned. FilterLogEvents (the fallback when
StartQuery is unavailable) pages through every event with one call per page.
StartTraceRetrieval + ListRetrievedTraces fetches chosen trace ids only (at most 100 a
retrieval, five traces a page), so it cannot list a window: it is not used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from collectors.base import (
    CollectorResult,
    Failure,
    RawPage,
    RetrySettings,
    Window,
    epoch_millis,
    strip_metadata,
)
from collectors.contract import BuildContext, CollectRequest, Needs, Registration
from collectors.logs_insights import (
    FIELDS,
    MISSING_GROUP,
    ROW_CAP,
    LogsInsightsCollector,
    LogsResult,
)
from collectors.metering import (
    ACCESS_DENIED_ERROR_CODES,
    CALL_ERRORS,
    CallMeter,
    error_code,
    failure_from,
    is_access_denied,
    is_unsupported,
)
from collectors.paging import PAGE_ERRORS, Gathered

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_xray import XRayClient

API_CALLS = frozenset(
    {
        "xray:GetTraceSegmentDestination",
        "xray:GetIndexingRules",
        "logs:StartQuery",
        "logs:GetQueryResults",
        "logs:StopQuery",
        "logs:FilterLogEvents",
    }
)

SPANS_LOG_GROUP = "aws/spans"
DESTINATION = "xray.get_trace_segment_destination"
INDEXING_RULES = "xray.get_indexing_rules"
SPAN_RECORDS = "spans.get_query_results"
SPAN_EVENTS = "spans.filter_log_events"

Mode = Literal["cloudwatch-logs", "xray", "unknown"]
CLOUDWATCH_LOGS = "CloudWatchLogs"
# What ``[collectors.spans] destination`` may declare (None: read it from X-Ray).
DESTINATIONS: tuple[str | None, ...] = (None, CLOUDWATCH_LOGS, "XRay")


def spans_query(window: Window, row_cap: int) -> str:
    """Every span record logged in ``window``, oldest first, at most ``row_cap``."""
    return (
        f"{FIELDS}\n"
        f"| filter toMillis(@timestamp) >= {epoch_millis(window.start)}"
        f" and toMillis(@timestamp) < {epoch_millis(window.end)}\n"
        f"| sort @timestamp asc\n"
        f"| limit {row_cap}"
    )


# What reading aws/spans takes (the spans collector falls back to FilterLogEvents when StartQuery
# is not permitted); collectors/iam_policy.json allows both on it.
READ_ACTIONS = "logs:StartQuery, logs:FilterLogEvents"


def unreadable_fix(code: str) -> str:
    """What to do when reading ``aws/spans`` ended with the error ``code``."""
    if code == MISSING_GROUP:
        return "turn Transaction Search on"  # NOTE: X-Ray creates aws/spans when it is turned on
    if code in ACCESS_DENIED_ERROR_CODES:
        return f"allow {READ_ACTIONS} on {SPANS_LOG_GROUP}"
    return "checked again next cycle"


def spans_group_problem(
    logs: CloudWatchLogsClient, meter: CallMeter, *, at: datetime
) -> str | None:
    """Why ``aws/spans`` cannot be read (the error code), or None when it can.

    One FilterLogEvents call for at most one event of the second before ``at``: it fails with
    ``ResourceNotFoundException`` when the log group does not exist and ``AccessDeniedException``
    when the credentials may not read it (DescribeLogGroups would tell the first only, with an
    action the policy does not otherwise need). The event, if any, is not kept.
    """
    end_ms = epoch_millis(at)
    params = {"logGroupName": SPANS_LOG_GROUP, "startTime": end_ms - 1000, "endTime": end_ms}
    try:
        meter.call(logs.filter_log_events, limit=1, **params)
    except CALL_ERRORS as exc:
        return error_code(exc)
    return None


@dataclass(frozen=True)
class Destination:
    """Where X-Ray sends trace segments in one account and region.

    Attributes
    ----------
    mode
        ``"cloudwatch-logs"`` (Transaction Search: spans in ``aws/spans``), ``"xray"``, or
        ``"unknown"`` (the endpoint lacks the API or the credentials may not call it).
    status
        ``"ACTIVE"`` or ``"PENDING"`` (a change not yet in effect); None when unknown.
    indexed_percent
        The share of spans X-Ray indexes as trace summaries (the ``Default`` indexing rule's
        desired sampling percentage); None when unknown.
    reason
        Why the mode is unknown.
    declared
        True when the mode was declared in the configuration (``[collectors.spans]
        destination``), not read from X-Ray.
    """

    mode: Mode
    status: str | None = None
    indexed_percent: float | None = None
    reason: str | None = None
    declared: bool = False

    def describe(self) -> str:
        """One line for ``collect --once`` and ``config check``."""
        if self.declared:
            where = "CloudWatch Logs" if self.mode == "cloudwatch-logs" else "X-Ray"
            return (
                f"traces go to {where} as declared in the configuration ([collectors.spans] "
                "destination): xray:GetTraceSegmentDestination not called"
            )
        if self.mode == "unknown":
            return (
                f"trace destination unknown ({self.reason}): {SPANS_LOG_GROUP} not read; "
                "allow xray:GetTraceSegmentDestination to detect Transaction Search"
            )
        status = f", {self.status}" if self.status else ""
        if self.mode == "xray":
            return (
                f"traces go to X-Ray{status} (Transaction Search off): the xray collector "
                "reads them"
            )
        indexed = (
            f"; X-Ray indexes {self.indexed_percent:g}% of them as trace summaries"
            if self.indexed_percent is not None
            else ""
        )
        return (
            f"Transaction Search on{status}: spans go to CloudWatch Logs "
            f"({SPANS_LOG_GROUP}){indexed}"
        )


@dataclass(frozen=True, kw_only=True)
class SpansResult(CollectorResult):
    """A spans run: the destination, and the ``aws/spans`` pages when spans go there.

    Attributes
    ----------
    destination
        Where spans go (read at the start of the run).
    truncated
        Windows still at the row cap at the minimum span: some spans there are missing.
    """

    destination: Destination = Destination("unknown", reason="not read")
    truncated: tuple[Window, ...] = ()


class SpansCollector:
    """Reads the trace destination and, under Transaction Search, the spans of a window.

    Parameters
    ----------
    xray
        An X-Ray client (GetTraceSegmentDestination, GetIndexingRules).
    logs
        A CloudWatch Logs client (the Insights queries over ``aws/spans``).
    retry
        Retry settings.
    sleep
        Called with seconds to wait (polling, retries; tests pass a no-op).
    poll_interval_s, query_timeout_s
        Polling of the Insights queries.
    row_cap
        Rows per query at which a window is split (Insights returns at most 10,000).
    destination
        ``"CloudWatchLogs"`` or ``"XRay"`` declared in the configuration, for endpoints
        without GetTraceSegmentDestination (a local test endpoint): the destination is not
        read and nothing about it is stored. None (the default): it is read from X-Ray.
    """

    def __init__(
        self,
        *,
        xray: XRayClient,
        logs: CloudWatchLogsClient,
        retry: RetrySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval_s: float = 1.0,
        query_timeout_s: float = 600.0,
        row_cap: int = ROW_CAP,
        destination: str | None = None,
    ) -> None:
        if destination not in DESTINATIONS:
            raise ValueError(f"destination {destination!r} is not one of {DESTINATIONS[1:]}")
        self._declared = destination
        self._xray = xray
        self._retry = retry or RetrySettings()
        self._sleep = sleep
        self._records = LogsInsightsCollector(
            client=logs,
            retry=self._retry,
            sleep=sleep,
            poll_interval_s=poll_interval_s,
            query_timeout_s=query_timeout_s,
            row_cap=row_cap,
            query=spans_query,
            filter_pattern="",
            kinds=(SPAN_RECORDS, SPAN_EVENTS),
        )

    def collect(self, window: Window) -> SpansResult:
        """The destination, then the spans of ``window`` when they go to ``aws/spans``.

        Returns
        -------
        SpansResult
            ``complete`` is False when the destination or a query failed; under X-Ray mode it
            holds the destination page only and is complete.
        """
        meter = CallMeter(settings=self._retry, sleep=self._sleep)
        if self._declared is not None:
            mode: Mode = "cloudwatch-logs" if self._declared == CLOUDWATCH_LOGS else "xray"
            read = DestinationRead(meter, Destination(mode, declared=True))
        else:
            with meter.watching(self._xray):
                read = read_destination(self._xray, meter)
        records = None
        if not read.failures and read.destination.mode == "cloudwatch-logs":
            records = self._records.collect_groups(window, [SPANS_LOG_GROUP])
        return _result(window, read, records)


class DestinationRead(Gathered):
    """What reading the destination gave: the destination, its pages, what went wrong."""

    def __init__(self, meter: CallMeter, destination: Destination) -> None:
        super().__init__(meter)
        self.destination = destination


def read_destination(xray: XRayClient, meter: CallMeter) -> DestinationRead:
    """GetTraceSegmentDestination, and under Transaction Search the indexing rules.

    An API the endpoint lacks or the credentials may not call leaves the mode unknown with a
    warning; any other error is a failure (the window is read again later).
    """
    api = "xray:GetTraceSegmentDestination"
    read = DestinationRead(meter, Destination("unknown"))
    try:
        answer = strip_metadata(meter.call(xray.get_trace_segment_destination))
    except CALL_ERRORS as exc:
        if is_unsupported(exc) or is_access_denied(exc):
            why = "not permitted" if is_access_denied(exc) else "not offered by the endpoint"
            read.warnings.append(f"{api} {why} ({error_code(exc)})")
            read.destination = Destination("unknown", reason=read.warnings[-1])
        else:
            read.failures.append(failure_from(api, "destination", exc))
            read.destination = Destination("unknown", reason=f"{api} failed ({error_code(exc)})")
        return read
    read.pages.append(RawPage(DESTINATION, api, {}, answer))
    mode: Mode = "cloudwatch-logs" if answer["Destination"] == CLOUDWATCH_LOGS else "xray"
    percent = _indexed_percent(xray, read) if mode == "cloudwatch-logs" else None
    read.destination = Destination(mode, str(answer["Status"]), percent)
    return read


def _indexed_percent(xray: XRayClient, read: DestinationRead) -> float | None:
    api, method = "xray:GetIndexingRules", "get_indexing_rules"
    percent: float | None = None
    try:
        tokens = ("NextToken", "NextToken")
        for page in read.keep_pages(INDEXING_RULES, api, xray, method, {}, token_names=tokens):
            found = default_indexed_percent(page)
            percent = found if found is not None else percent
    except PAGE_ERRORS as exc:
        # NOTE: the share only words the report: not knowing it loses no data.
        read.warnings.append(f"{api}: {error_code(exc)}; the indexed share is unknown")
    return percent


def default_indexed_percent(page: Mapping[str, Any]) -> float | None:
    """The ``Default`` indexing rule's sampling percentage in one GetIndexingRules page, or
    None when the page holds no such rule (or one without a number)."""
    for rule in page.get("IndexingRules") or ():
        if not isinstance(rule, Mapping) or rule.get("Name") != "Default":
            continue
        sampling = (rule.get("Rule") or {}).get("Probabilistic") or {}
        value = sampling.get("DesiredSamplingPercentage")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def leaves_traces_to_spans(destination: Destination) -> bool:
    """Whether every span goes to ``aws/spans`` for sure: Transaction Search ACTIVE, or
    declared. A PENDING change may still send spans to X-Ray, and an unknown destination is
    not Transaction Search."""
    return destination.mode == "cloudwatch-logs" and (
        destination.declared or destination.status == "ACTIVE"
    )


def _unread(destination: Destination, records: LogsResult) -> LogsResult:
    """``records`` with ``aws/spans`` unread named as a failure with its fix, when every span
    goes there: a missing log group is then no "no logs yet" (Transaction Search creates it)
    but a configuration that reads traces from nowhere."""
    if not leaves_traces_to_spans(destination):
        return records
    how = "as declared" if destination.declared else destination.status or ""
    failures = [
        replace(f, message=f"{unreadable_fix(f.code)} ({f.message})")
        if f.key == SPANS_LOG_GROUP and f.code in ACCESS_DENIED_ERROR_CODES
        else f
        for f in records.failures
    ]
    warnings = list(records.warnings)
    if SPANS_LOG_GROUP in records.missing_log_groups:
        warnings = [w for w in warnings if SPANS_LOG_GROUP not in w]
        failures.append(
            Failure(
                "logs:StartQuery",
                SPANS_LOG_GROUP,
                MISSING_GROUP,
                f"no such group though traces go to CloudWatch Logs ({how}): "
                f"{unreadable_fix(MISSING_GROUP)}, "
                'or declare [collectors.spans] destination = "XRay"',
                retryable=False,
            )
        )
    return replace(records, failures=tuple(failures), warnings=tuple(warnings))


def _result(window: Window, read: DestinationRead, records: LogsResult | None) -> SpansResult:
    fields = read.fields()
    read_window: Window | None = window
    truncated: tuple[Window, ...] = ()
    if records is not None:
        records = _unread(read.destination, records)
        fields["pages"] += records.pages
        fields["failures"] += records.failures
        fields["warnings"] += records.warnings
        fields["stats"] += records.stats
        read_window, truncated = records.window, records.truncated
    return SpansResult(
        source="spans",
        window=read_window,
        complete=not fields["failures"],
        notes=(read.destination.describe(),),
        destination=read.destination,
        truncated=truncated,
        **fields,
    )


class SpansSource:
    """The spans collector under the collector contract: windows, nothing else."""

    name = "spans"
    needs = Needs(window=True)

    def __init__(self, collector: SpansCollector) -> None:
        self.collector = collector

    def collect(self, request: CollectRequest) -> CollectorResult:
        return self.collector.collect(request.window_for("spans"))


def _build(context: BuildContext) -> SpansSource:
    collector = SpansCollector(
        xray=context.factory.xray(),
        logs=context.factory.logs(),
        retry=context.retry,
        sleep=context.sleep,
        query_timeout_s=context.timeout.total_seconds(),
        destination=context.trace_destination,
    )
    return SpansSource(collector)


REGISTRATION = Registration(
    "spans", _build, API_CALLS, lag=timedelta(minutes=5), options=("destination",)
)


def describe_destination(xray: XRayClient, *, retry: RetrySettings | None = None) -> str:
    """One line saying where an account and region sends its traces (``config check``)."""
    meter = CallMeter(settings=retry or RetrySettings(), sleep=time.sleep)
    with meter.watching(xray):
        read = read_destination(xray, meter)
    return read.destination.describe()
