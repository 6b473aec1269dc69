"""CloudWatch Logs Insights: Lambda platform lines, timeouts and DNS failures per window.

One query covers up to 50 ``/aws/lambda/<function>`` log groups and returns START, END,
REPORT, INIT_START and ``XRAY TraceId`` lines, timeouts and DNS failure signatures, in the text
and the JSON log format. A query that comes back with the 10,000-row cap (or with more records
matched than returned) is run again over each half of its window, down to ``min_span``, so
nothing is cut off.

Degraded endpoints: when the query language is rejected, a plain
``fields ... | sort ... | limit`` query is used (pages then hold every line; the parser keeps
the ones it knows). When StartQuery is not offered or not permitted, FilterLogEvents is used.
Pages are returned as received: GetQueryResults ``{"results", "statistics", "status"}`` with
``@log`` (``<account>:/aws/lambda/<name>``) in every row, or FilterLogEvents ``{"events"}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Unpack

from collectors.base import (
    AwsCollector,
    ClientOptions,
    CollectorResult,
    Failure,
    RawPage,
    Window,
    chunked,
    epoch_millis,
    epoch_seconds,
    floor_time,
    strip_metadata,
)
from collectors.contract import BuildContext, CollectRequest, Needs, Registration
from collectors.metering import (
    CALL_ERRORS,
    CallMeter,
    error_code,
    error_message,
    failure_from,
    is_access_denied,
    is_unsupported,
)
from collectors.paging import PAGE_ERRORS, Gathered

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

API_CALLS = frozenset(
    {"logs:StartQuery", "logs:GetQueryResults", "logs:StopQuery", "logs:FilterLogEvents"}
)

QUERY_RESULTS = "logs.get_query_results"
FILTERED_EVENTS = "logs.filter_log_events"
MAX_LOG_GROUPS_PER_QUERY = 50
ROW_CAP = 10_000

# Substrings of the lines the parser reads (tracelens/sideinputs/logs.py).
SIGNATURES: tuple[str, ...] = (
    "START RequestId",
    "END RequestId",
    "REPORT RequestId",
    "INIT_START",
    "XRAY TraceId",
    "Task timed out",
    "Status: timeout",
    "platform.start",
    "platform.report",
    "platform.initStart",
    "platform.initReport",
    "platform.restoreReport",
    "platform.runtimeDone",
    "EAI_AGAIN",
    "ENOTFOUND",
    "UnknownHostException",
    "Temporary failure in name resolution",
)
# The code of StartQuery and FilterLogEvents for a log group that does not exist.
MISSING_GROUP = "ResourceNotFoundException"

FIELDS = "fields @timestamp, @message, @log, @logStream"
FILTER_PATTERN = " ".join(f'?"{signature}"' for signature in SIGNATURES)

_TERMINAL = frozenset({"Complete", "Failed", "Cancelled", "Timeout", "Unknown"})
_QUERY_REJECTED = frozenset({"MalformedQueryException", "InvalidParameterException"})

Mode = Literal["insights", "insights-simple", "filter-log-events"]


def signature_query(window: Window, *, row_cap: int = ROW_CAP) -> str:
    """The Insights query for ``window``: matching lines, oldest first, at most ``row_cap``.

    The millisecond filter makes adjacent windows disjoint (StartQuery's own bounds are whole
    seconds, both inclusive).
    """
    pattern = "|".join(signature.replace(".", r"\.") for signature in SIGNATURES)
    return (
        f"{FIELDS}\n"
        f"| filter toMillis(@timestamp) >= {epoch_millis(window.start)}"
        f" and toMillis(@timestamp) < {epoch_millis(window.end)}\n"
        f"| filter @message like /{pattern}/\n"
        f"| sort @timestamp asc\n"
        f"| limit {row_cap}"
    )


def simple_query(*, row_cap: int = ROW_CAP) -> str:
    """The fallback query: every line, oldest first (endpoints with a minimal dialect)."""
    return f"{FIELDS} | sort @timestamp asc | limit {row_cap}"


def log_group(function_name: str) -> str:
    """The log group Lambda writes a function's logs to."""
    return f"/aws/lambda/{function_name}"


@dataclass(frozen=True, kw_only=True)
class LogsResult(CollectorResult):
    """A Logs run.

    Attributes
    ----------
    mode
        How the lines were read: ``"insights"``, ``"insights-simple"`` (query language
        rejected) or ``"filter-log-events"`` (StartQuery unavailable).
    truncated
        Windows still at the row cap at the minimum span: some lines there are missing.
    missing_log_groups
        Log groups that do not exist (a function that has never logged).
    """

    mode: Mode = "insights"
    truncated: tuple[Window, ...] = ()
    missing_log_groups: frozenset[str] = frozenset()


class _Run(Gathered):
    """The mutable state of one collection run."""

    def __init__(self, meter: CallMeter) -> None:
        super().__init__(meter)
        self.mode: Mode = "insights"
        self.truncated: list[Window] = []
        self.missing: set[str] = set()

    def result(self, window: Window | None) -> LogsResult:
        return LogsResult(
            source="logs",
            window=window,
            complete=not self.failures,
            mode=self.mode,
            truncated=tuple(self.truncated),
            missing_log_groups=frozenset(self.missing),
            **self.fields(),
        )


class LogsInsightsCollector(AwsCollector["CloudWatchLogsClient"]):
    """Reads Lambda log lines for a window with Logs Insights.

    Parameters
    ----------
    monotonic
        A monotonic clock in seconds, for the polling deadline.
    poll_interval_s
        Wait between GetQueryResults polls.
    query_timeout_s
        Give up on (and stop) a query still running after this long.
    row_cap
        Rows per query at which the window is split (Insights returns at most 10,000).
    min_span
        The shortest window a capped query is split into.
    query
        The Insights query for a window and a row cap (default: :func:`signature_query`).
    filter_pattern
        The FilterLogEvents pattern of the fallback ("": every event).
    kinds
        The page kinds of GetQueryResults and FilterLogEvents pages.
    **options
        ``client``, ``session``, ``retry`` and ``sleep``, as in ``AwsCollector``.
    """

    SERVICE = "logs"

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 1.0,
        query_timeout_s: float = 600.0,
        row_cap: int = ROW_CAP,
        min_span: timedelta = timedelta(seconds=1),
        query: Callable[[Window, int], str] | None = None,
        filter_pattern: str = FILTER_PATTERN,
        kinds: tuple[str, str] = (QUERY_RESULTS, FILTERED_EVENTS),
        **options: Unpack[ClientOptions[CloudWatchLogsClient]],
    ) -> None:
        if not 1 <= row_cap <= ROW_CAP:
            msg = f"row_cap must be between 1 and {ROW_CAP} (got {row_cap})"
            raise ValueError(msg)
        super().__init__(**options)
        self._monotonic = monotonic
        self._poll_interval_s = poll_interval_s
        self._query_timeout_s = query_timeout_s
        self._row_cap = row_cap
        self._min_span = max(min_span, timedelta(seconds=1))
        self._query_for = query or (lambda window, cap: signature_query(window, row_cap=cap))
        self._filter_pattern = filter_pattern
        self._kinds = kinds

    def collect(self, window: Window, *, functions: Sequence[str]) -> LogsResult:
        """Lines of ``functions``' log groups in ``window``.

        Returns
        -------
        LogsResult
            As :meth:`collect_groups`.
        """
        return self.collect_groups(window, [log_group(name) for name in functions])

    def collect_groups(self, window: Window, groups: Sequence[str]) -> LogsResult:
        """Lines of the log groups ``groups`` in ``window``.

        Returns
        -------
        LogsResult
            ``window`` is ``window`` rounded down to whole seconds at both ends; ``complete``
            is False when a query failed, timed out or was throttled throughout.
        """
        run = _Run(CallMeter(settings=self._retry, sleep=self._sleep))
        # NOTE: StartQuery takes whole seconds. Whole-second windows (and so whole-second
        # halves) keep consecutive windows disjoint even where the millisecond filter of the
        # query is not applied (a minimal dialect, the fallback query).
        second = timedelta(seconds=1)
        start, end = floor_time(window.start, second), floor_time(window.end, second)
        if end <= start:
            run.warnings.append(f"{window} is shorter than a whole second; nothing read")
            return run.result(None)
        aligned = Window(start, end)
        with run.meter.watching(self.client):
            for batch in chunked(list(dict.fromkeys(groups)), MAX_LOG_GROUPS_PER_QUERY):
                self._query(run, batch, aligned)
        return run.result(aligned)

    def _query(self, run: _Run, groups: list[str], window: Window) -> None:
        if run.mode == "filter-log-events":
            for group in groups:
                self._filter_events(run, group, window)
            return
        params = self._start_params(run, groups, window)
        try:
            query_id = run.meter.call(self.client.start_query, **params)["queryId"]
        except CALL_ERRORS as exc:
            self._on_start_error(run, groups, window, exc)
            return
        page = self._poll(run, query_id, params)
        if page is None:
            return
        request = {"queryId": query_id, **params}
        if _capped(page, self._row_cap):
            if window.span >= 2 * self._min_span:
                for half in window.halves(resolution=timedelta(seconds=1)):
                    self._query(run, groups, half)
                return
            run.truncated.append(window)
            run.warnings.append(f"{window} still returns {self._row_cap} rows: lines missing")
        run.pages.append(RawPage(self._kinds[0], "logs:GetQueryResults", request, page))

    def _start_params(self, run: _Run, groups: list[str], window: Window) -> dict[str, Any]:
        if run.mode == "insights":
            query = self._query_for(window, self._row_cap)
        else:
            query = simple_query(row_cap=self._row_cap)
        return {
            "logGroupNames": groups,
            "startTime": epoch_seconds(window.start),
            # NOTE: endTime is inclusive and in whole seconds: round up, the query's own
            # millisecond filter cuts the window exactly.
            "endTime": -(-epoch_millis(window.end) // 1000),
            "queryString": query,
            "limit": self._row_cap,
        }

    def _on_start_error(
        self, run: _Run, groups: list[str], window: Window, exc: BaseException
    ) -> None:
        code = error_code(exc)
        if code == MISSING_GROUP:
            self._without_missing_groups(run, groups, window)
        elif code in _QUERY_REJECTED and run.mode == "insights":
            run.mode = "insights-simple"
            run.warnings.append(
                f"the endpoint rejected the Insights query ({code}: {error_message(exc)}); "
                "reading every line with a plain fields/sort/limit query"
            )
            self._query(run, groups, window)
        elif is_unsupported(exc) or is_access_denied(exc) or code in _QUERY_REJECTED:
            run.mode = "filter-log-events"
            run.warnings.append(f"StartQuery unavailable ({code}); using FilterLogEvents")
            self._query(run, groups, window)
        else:
            run.failures.append(failure_from("logs:StartQuery", ",".join(groups), exc))

    def _without_missing_groups(self, run: _Run, groups: list[str], window: Window) -> None:
        """Bisect a batch rejected for a missing log group until the missing ones are known."""
        if len(groups) == 1:
            run.missing.add(groups[0])
            run.warnings.append(f"log group {groups[0]} does not exist (no logs yet)")
            return
        middle = len(groups) // 2
        self._query(run, groups[:middle], window)
        self._query(run, groups[middle:], window)

    def _poll(
        self, run: _Run, query_id: str, start_params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The final GetQueryResults page, or None (recorded as a failure)."""
        deadline_s = self._monotonic() + self._query_timeout_s
        key = f"{query_id} {','.join(start_params['logGroupNames'])}"
        while True:
            try:
                response = run.meter.call(self.client.get_query_results, queryId=query_id)
            except CALL_ERRORS as exc:
                run.failures.append(failure_from("logs:GetQueryResults", key, exc))
                return None
            status = response.get("status", "Unknown")
            if status == "Complete":
                return strip_metadata(response)
            if status in _TERMINAL:
                message = f"query ended with status {status}"
                run.failures.append(Failure("logs:GetQueryResults", key, status, message, True))
                return None
            if self._monotonic() >= deadline_s:
                self._stop(run, query_id)
                message = f"still {status} after {self._query_timeout_s:.0f} s; stopped"
                failure = Failure("logs:GetQueryResults", key, "PollTimeout", message, True)
                run.failures.append(failure)
                return None
            self._sleep(self._poll_interval_s)

    def _stop(self, run: _Run, query_id: str) -> None:
        try:
            run.meter.call(self.client.stop_query, queryId=query_id)
        except CALL_ERRORS as exc:
            # NOTE: the query may have finished meanwhile; stopping is best effort.
            run.warnings.append(f"StopQuery {query_id}: {error_code(exc)}")

    def _filter_events(self, run: _Run, group: str, window: Window) -> None:
        params: dict[str, Any] = {
            "logGroupName": group,
            "startTime": epoch_millis(window.start),
            # NOTE: FilterLogEvents' endTime is inclusive: stop one millisecond short.
            "endTime": epoch_millis(window.end) - 1,
        }
        if self._filter_pattern:
            params["filterPattern"] = self._filter_pattern
        api = "logs:FilterLogEvents"
        try:
            for _ in run.keep_pages(self._kinds[1], api, self.client, "filter_log_events", params):
                pass
        except PAGE_ERRORS as exc:
            if error_code(exc) == MISSING_GROUP:
                run.missing.add(group)
                run.warnings.append(f"log group {group} does not exist (no logs yet)")
            else:
                run.failures.append(failure_from(api, group, exc))


def _capped(page: Mapping[str, Any], row_cap: int) -> bool:
    rows = len(page.get("results", []))
    matched = page.get("statistics", {}).get("recordsMatched")
    return rows >= row_cap or (matched is not None and matched > rows)


class LogsSource:
    """The Logs Insights collector under the collector contract: windows, per function."""

    name = "logs"
    needs = Needs(window=True, functions=True)

    def __init__(self, collector: LogsInsightsCollector) -> None:
        self.collector = collector

    def collect(self, request: CollectRequest) -> CollectorResult:
        return self.collector.collect(request.window_for("Logs"), functions=request.functions)


def _build(context: BuildContext) -> LogsSource:
    collector = LogsInsightsCollector(
        query_timeout_s=context.timeout.total_seconds(),
        **context.client_options(context.factory.logs()),
    )
    return LogsSource(collector)


REGISTRATION = Registration("logs", _build, API_CALLS, lag=timedelta(minutes=5))
