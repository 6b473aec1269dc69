"""X-Ray: trace summaries over a window, then the full traces in batches of five.

GetTraceSummaries is read in windows of at most an hour (shrunk further when X-Ray rejects a
range), following NextToken. Each summary's ``Revision`` and ``IsPartial`` decide whether the
trace is fetched: a trace already stored complete at the same revision is never fetched again;
a partial one is fetched again when its revision grows. BatchGetTraces takes at most five
distinct ids; its NextToken is followed and ``UnprocessedTraceIds`` retried a few rounds before
they are reported as failed.

Under CloudWatch Transaction Search, X-Ray indexes only a sample of the spans as trace
summaries (1% by default) and BatchGetTraces finds only those traces, while the spans collector
reads every span from ``aws/spans``. When the spans collector runs for the same target and the
trace destination is CloudWatch Logs (ACTIVE, or declared in ``[collectors.spans]
destination``) and ``[collectors.xray] fetch_indexed = false``, the traces are left to it: the
summaries are still read and stored as before, BatchGetTraces is skipped, and a note says why
and how to fetch them again. The destination is asked (and ``aws/spans`` checked) only when the
summaries name traces to fetch. A pending or unknown destination fetches as before; so does an
``aws/spans`` that cannot be read (it does not exist, or the credentials may not read it:
checked with one FilterLogEvents call), with a warning naming the log group, the target and
what to do. Fetching is the default: a window from before Transaction Search was turned on has
its traces in X-Ray only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Unpack

from collectors.base import (
    AwsCollector,
    ClientOptions,
    CollectorResult,
    Failure,
    Window,
    chunked,
    floor_time,
)
from collectors.contract import BuildContext, CollectRequest, Needs, Registration
from collectors.metering import CallMeter, error_code, failure_from
from collectors.paging import PAGE_ERRORS, Gathered
from collectors.spans import (
    CLOUDWATCH_LOGS,
    SPANS_LOG_GROUP,
    Destination,
    Mode,
    leaves_traces_to_spans,
    read_destination,
    spans_group_problem,
    unreadable_fix,
)
from collectors.xray_state import XRayState, trace_start_s

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_xray import XRayClient

API_CALLS = frozenset(
    {
        "xray:GetTraceSummaries",
        "xray:BatchGetTraces",
        # Only when the spans collector runs for the same target (see the module docstring).
        "xray:GetTraceSegmentDestination",
        "xray:GetIndexingRules",
        "logs:FilterLogEvents",
    }
)

SUMMARIES = "xray.get_trace_summaries"
TRACES = "xray.batch_get_traces"
BATCH_SIZE = 5  # BatchGetTraces accepts 1-5 ids per call

# NOTE: a partial trace is looked at again while it is younger than this; after that what
# was stored is kept as it is (X-Ray completes traces within minutes).
PARTIAL_HORIZON = timedelta(hours=1)
# How long a GetTraceSegmentDestination answer (and whether aws/spans can be read) decides
# whether traces are left to the spans collector (see SpansAlongside).
DESTINATION_TTL = timedelta(minutes=5)

_RANGE_ERROR = re.compile(r"time|range|hour|window|StartTime|EndTime", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class XRayResult(CollectorResult):
    """An X-Ray run: pages of both APIs and the fate of every trace id seen.

    Attributes
    ----------
    trace_ids
        Ids whose trace is in a ``xray.batch_get_traces`` page of this result (each once).
    revisions
        Revision from the summaries for every id seen in them (0 when the endpoint omits it).
    partial_ids
        Ids whose latest summary says ``IsPartial``: fetched, but to be fetched again later.
    skipped_ids
        Ids not fetched because the caller already holds them (``known``/``partial``).
    failed_ids
        Ids that could not be fetched (throttled, unprocessed after retries, not returned).
    limit_exceeded_ids
        Ids whose trace came back with ``LimitExceeded`` (over the size limit, incomplete).
    left_to_spans_ids
        Ids not fetched because the spans collector reads every span of the target from
        ``aws/spans`` (Transaction Search on); they are not recorded as stored.
    """

    trace_ids: frozenset[str] = frozenset()
    revisions: Mapping[str, int] = field(default_factory=dict)
    partial_ids: frozenset[str] = frozenset()
    skipped_ids: frozenset[str] = frozenset()
    failed_ids: frozenset[str] = frozenset()
    limit_exceeded_ids: frozenset[str] = frozenset()
    left_to_spans_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Handover:
    """Whether the traces can be left to the spans collector.

    Attributes
    ----------
    destination
        Where traces go (declared, or read from X-Ray).
    unreadable
        Under Transaction Search (:func:`collectors.spans.leaves_traces_to_spans`): the error
        code checking ``aws/spans`` ended with (``ResourceNotFoundException``,
        ``AccessDeniedException``, ...); None when it can be read, or was not checked.
    """

    destination: Destination
    unreadable: str | None = None

    @property
    def leaves(self) -> bool:
        """True when every span goes to ``aws/spans`` and it can be read."""
        return leaves_traces_to_spans(self.destination) and self.unreadable is None


@dataclass(frozen=True)
class SpansAlongside:
    """The spans collector runs for the same target: where traces go, and whether ``aws/spans``
    can be read, decide whether BatchGetTraces runs.

    Attributes
    ----------
    xray
        The X-Ray client GetTraceSegmentDestination (and GetIndexingRules) are read with.
    logs
        The CloudWatch Logs client ``aws/spans`` is checked with
        (:func:`collectors.spans.spans_group_problem`).
    declared
        ``[collectors.spans] destination`` (``"CloudWatchLogs"`` or ``"XRay"``), declared for
        endpoints without GetTraceSegmentDestination: not read then. None: read it.
    fetch_indexed
        ``[collectors.xray] fetch_indexed``: fetch the indexed traces even so.
    clock
        With a clock, an answer is used for ``DESTINATION_TTL`` (a catch-up cycle reads many
        windows; the setting changes rarely). None: read and checked for every window.
    target
        ``<label>/<region>``, named in the warning when ``aws/spans`` cannot be read.
    """

    xray: XRayClient
    logs: CloudWatchLogsClient
    declared: str | None = None
    fetch_indexed: bool = False
    clock: Callable[[], datetime] | None = None
    target: str = ""
    _cached: list[tuple[datetime, Handover]] = field(default_factory=list, compare=False)

    def destination(self, meter: CallMeter) -> Destination:
        """Where traces go: declared, else read (unknown when the read fails)."""
        if self.declared is not None:
            mode: Mode = "cloudwatch-logs" if self.declared == CLOUDWATCH_LOGS else "xray"
            return Destination(mode, declared=True)
        with meter.watching(self.xray):
            return read_destination(self.xray, meter).destination

    def handover(self, meter: CallMeter, *, at: datetime) -> Handover:
        """Where traces go, and under Transaction Search whether ``aws/spans`` can be read
        (checked over the second before ``at``)."""
        now = self.clock() if self.clock is not None else None
        if now is not None and self._cached and now - self._cached[0][0] < DESTINATION_TTL:
            return self._cached[0][1]
        destination = self.destination(meter)
        unreadable = None
        if leaves_traces_to_spans(destination):
            with meter.watching(self.logs):
                unreadable = spans_group_problem(self.logs, meter, at=at)
        handover = Handover(destination, unreadable)
        if now is not None:
            self._cached[:] = [(now, handover)]
        return handover


def skip_note(destination: Destination, traces: int) -> str:
    """The status line of a run whose BatchGetTraces was skipped: why, and how to undo it (one
    line of at most 200 characters, as ``collect`` shows notes)."""
    how = "as declared" if destination.declared else (destination.status or "").strip()
    indexed = (
        f" (X-Ray indexes {destination.indexed_percent:g}%)"
        if destination.indexed_percent is not None
        else ""
    )
    return (
        f"BatchGetTraces skipped for {traces} traces: Transaction Search on ({how}), the spans "
        f"collector reads all spans in {SPANS_LOG_GROUP}{indexed}; to fetch them: "
        "[collectors.xray] fetch_indexed = true"
    )


def unreadable_note(code: str, target: str) -> str:
    """The warning of a run that fetched the traces because ``aws/spans`` cannot be read
    (``code``): what to do about it, or how to fetch them without checking (one line of at
    most 200 characters, as ``collect`` shows warnings)."""
    where = f" in {target}" if target else ""
    return (
        f"{SPANS_LOG_GROUP} unreadable{where} ({code}): indexed traces fetched; "
        f"{unreadable_fix(code)}, or set [collectors.xray] fetch_indexed = true"
    )


@dataclass(frozen=True)
class _Seen:
    revision: int
    partial: bool


class _Run(Gathered):
    """The mutable state of one collection run (never outlives it)."""

    def __init__(self, meter: CallMeter) -> None:
        super().__init__(meter)
        self.seen: dict[str, _Seen] = {}
        self.fetched: dict[str, None] = {}
        self.limit_exceeded: set[str] = set()
        self.failed: dict[str, None] = {}
        self.scan_complete = True

    def note_summary(self, summary: Mapping[str, Any]) -> None:
        trace_id = str(summary["Id"])
        seen = _Seen(int(summary.get("Revision", 0)), bool(summary.get("IsPartial", False)))
        previous = self.seen.get(trace_id)
        if previous is None or seen.revision >= previous.revision:
            self.seen[trace_id] = seen


class XRayCollector(AwsCollector["XRayClient"]):
    """Fetches X-Ray trace summaries and traces for a window.

    Parameters
    ----------
    max_span
        Longest window per GetTraceSummaries call.
    min_span
        Shortest window a rejected range is shrunk to before giving up.
    time_range_type
        ``"TraceId"`` (the trace's start, X-Ray's default), ``"Event"`` or ``"Service"``.
    filter_expression
        An optional X-Ray filter expression (e.g. ``'service("orders")'``).
    unprocessed_rounds
        How many times ``UnprocessedTraceIds`` are requested again.
    spans_alongside
        Set when the spans collector runs for the same target: under Transaction Search the
        traces are left to it (see the module docstring).
    **options
        ``client``, ``session``, ``retry`` and ``sleep``, as in ``AwsCollector``.
    """

    SERVICE = "xray"

    def __init__(
        self,
        *,
        max_span: timedelta = timedelta(hours=1),
        min_span: timedelta = timedelta(minutes=1),
        time_range_type: str = "TraceId",
        filter_expression: str | None = None,
        unprocessed_rounds: int = 3,
        spans_alongside: SpansAlongside | None = None,
        **options: Unpack[ClientOptions[XRayClient]],
    ) -> None:
        super().__init__(**options)
        self._spans_alongside = spans_alongside
        self._max_span = max_span
        self._min_span = min_span
        self._time_range_type = time_range_type
        self._filter_expression = filter_expression
        self._unprocessed_rounds = unprocessed_rounds

    def collect(
        self,
        window: Window,
        *,
        known: Mapping[str, int] | None = None,
        partial: Mapping[str, int] | None = None,
    ) -> XRayResult:
        """Summaries and traces for ``window``.

        Parameters
        ----------
        window
            The time window (by ``time_range_type``) to read.
        known
            Trace id -> revision already stored complete: not fetched again unless the
            summary shows a higher revision.
        partial
            Trace id -> revision already stored while partial: fetched again only when the
            revision grows or the trace is complete.

        Returns
        -------
        XRayResult
            ``complete`` is False when a summaries window or a trace could not be fetched.
        """
        run = _Run(CallMeter(settings=self._retry, sleep=self._sleep))
        with run.meter.watching(self.client):
            for part in window.split(self._max_span):
                self._scan(run, part)
        wanted, skipped = _select(run.seen, known or {}, partial or {})
        # Whether the traces are left to the spans collector is asked only when there are
        # traces to fetch: a quiet window, or one whose traces are all held, asks nothing.
        destination = self._left_to_spans(run, window) if wanted else None
        left: frozenset[str] = frozenset()
        if destination is None:
            with run.meter.watching(self.client):
                self._fetch(run, wanted)
        else:
            left = frozenset(wanted)
        result = _result(run, window, skipped)
        if destination is None:
            return result
        return replace(
            result,
            left_to_spans_ids=left,
            notes=(*result.notes, skip_note(destination, len(left))),
        )

    def _left_to_spans(self, run: _Run, window: Window) -> Destination | None:
        """The destination when the traces are left to the spans collector, else None (with a
        warning when only ``aws/spans`` being unreadable keeps them here)."""
        alongside = self._spans_alongside
        if alongside is None or alongside.fetch_indexed:
            return None
        handover = alongside.handover(run.meter, at=window.end)
        if handover.unreadable is not None:
            run.warnings.append(unreadable_note(handover.unreadable, alongside.target))
        return handover.destination if handover.leaves else None

    def fetch(self, trace_ids: Iterable[str]) -> XRayResult:
        """The traces for ``trace_ids`` (e.g. the ``failed_ids`` of an earlier run)."""
        run = _Run(CallMeter(settings=self._retry, sleep=self._sleep))
        with run.meter.watching(self.client):
            self._fetch(run, list(dict.fromkeys(trace_ids)))
        return _result(run, None, frozenset())

    def _scan(self, run: _Run, window: Window) -> None:
        params: dict[str, Any] = {
            "StartTime": window.start,
            "EndTime": window.end,
            "TimeRangeType": self._time_range_type,
        }
        if self._filter_expression:
            params["FilterExpression"] = self._filter_expression
        try:
            api, method = "xray:GetTraceSummaries", "get_trace_summaries"
            for page in run.keep_pages(SUMMARIES, api, self.client, method, params):
                for summary in page["TraceSummaries"]:
                    run.note_summary(summary)
        except PAGE_ERRORS as exc:
            self._on_scan_error(run, window, exc)

    def _on_scan_error(self, run: _Run, window: Window, exc: BaseException) -> None:
        rejected_range = error_code(exc) == "InvalidRequestException" and _RANGE_ERROR.search(
            str(exc)
        )
        if rejected_range and window.span >= 2 * self._min_span:
            run.warnings.append(f"X-Ray rejected the range {window}; reading it in halves")
            for half in window.halves():
                self._scan(run, half)
            return
        run.scan_complete = False
        run.failures.append(failure_from("xray:GetTraceSummaries", str(window), exc))

    def _fetch(self, run: _Run, trace_ids: list[str]) -> None:
        pending = trace_ids
        for round_number in range(self._unprocessed_rounds + 1):
            unprocessed: list[str] = []
            for chunk in chunked(pending, BATCH_SIZE):
                unprocessed.extend(self._fetch_chunk(run, chunk))
            pending = [tid for tid in dict.fromkeys(unprocessed) if tid not in run.fetched]
            if not pending:
                return
            if round_number < self._unprocessed_rounds:
                self._sleep(self._retry.backoff_s(round_number + 1))
        for trace_id in pending:
            run.failed[trace_id] = None
            run.failures.append(
                Failure(
                    api="xray:BatchGetTraces",
                    key=trace_id,
                    code="UnprocessedTraceId",
                    message=f"still unprocessed after {self._unprocessed_rounds} retries",
                    retryable=True,
                )
            )

    def _fetch_chunk(self, run: _Run, chunk: list[str]) -> list[str]:
        """Fetch up to five ids; return those X-Ray reported as unprocessed."""
        params: dict[str, Any] = {"TraceIds": chunk}
        returned: set[str] = set()
        unprocessed: list[str] = []
        try:
            api, method = "xray:BatchGetTraces", "batch_get_traces"
            for page in run.keep_pages(TRACES, api, self.client, method, params):
                returned.update(_note_traces(run, page))
                unprocessed.extend(page.get("UnprocessedTraceIds", []))
        except PAGE_ERRORS as exc:
            _fail_ids(run, [t for t in chunk if t not in returned], exc)
            return []
        missing = [t for t in chunk if t not in returned and t not in unprocessed]
        for trace_id in missing:
            run.failed[trace_id] = None
            run.failures.append(
                Failure("xray:BatchGetTraces", trace_id, "NotReturned", "no trace", True)
            )
        return unprocessed


def _note_traces(run: _Run, page: Mapping[str, Any]) -> set[str]:
    returned: set[str] = set()
    for trace in page.get("Traces", []):
        trace_id = trace.get("Id")
        if not trace_id:
            run.warnings.append("BatchGetTraces returned a trace without an Id; ignored")
            continue
        returned.add(trace_id)
        run.fetched[trace_id] = None
        run.failed.pop(trace_id, None)
        if trace.get("LimitExceeded"):
            run.limit_exceeded.add(trace_id)
    return returned


def _fail_ids(run: _Run, trace_ids: list[str], exc: BaseException) -> None:
    for trace_id in trace_ids:
        run.failed[trace_id] = None
        run.failures.append(failure_from("xray:BatchGetTraces", trace_id, exc))


def _select(
    seen: Mapping[str, _Seen], known: Mapping[str, int], partial: Mapping[str, int]
) -> tuple[list[str], frozenset[str]]:
    """Ids to fetch (in the order seen) and ids skipped because the caller holds them."""
    wanted: list[str] = []
    skipped: set[str] = set()
    for trace_id, state in seen.items():
        if _held(trace_id, state, known, partial):
            skipped.add(trace_id)
        else:
            wanted.append(trace_id)
    return wanted, frozenset(skipped)


def _held(
    trace_id: str, state: _Seen, known: Mapping[str, int], partial: Mapping[str, int]
) -> bool:
    """True when the caller already stores this trace at this revision."""
    stored_complete = known.get(trace_id)
    if stored_complete is not None and stored_complete >= state.revision:
        return True
    stored_partial = partial.get(trace_id)
    return state.partial and stored_partial is not None and stored_partial >= state.revision


def _result(run: _Run, window: Window | None, skipped: frozenset[str]) -> XRayResult:
    return XRayResult(
        source="xray",
        window=window,
        complete=run.scan_complete and not run.failed,
        trace_ids=frozenset(run.fetched),
        revisions={tid: seen.revision for tid, seen in run.seen.items()},
        partial_ids=frozenset(tid for tid, seen in run.seen.items() if seen.partial),
        skipped_ids=skipped,
        failed_ids=frozenset(run.failed),
        limit_exceeded_ids=frozenset(run.limit_exceeded),
        **run.fields(),
    )


def scan_window(window: Window, *, lag: timedelta, state: XRayState, now: datetime) -> Window:
    """The window to scan for trace summaries when ``window`` is next.

    The scan reaches back ``lag`` before ``window`` (a trace whose segments arrived after the
    last scan ended is found; traces already stored are skipped by their revision), and back to
    the oldest recent partial trace, so that it is fetched again once complete.
    """
    start = window.start - lag
    horizon_s = (now - PARTIAL_HORIZON).timestamp()
    partial_starts = [s for s in _starts(state.partial) if s >= horizon_s]
    if partial_starts:
        oldest = datetime.fromtimestamp(min(partial_starts), UTC)
        start = min(start, floor_time(oldest, timedelta(seconds=1)))
    return Window(start, window.end)


def _starts(trace_ids: Iterable[str]) -> list[int]:
    return [s for s in (trace_start_s(trace_id) for trace_id in trace_ids) if s is not None]


class XRaySource:
    """The X-Ray collector under the collector contract: windows and the traces it holds.

    Its state (:class:`collectors.xray_state.XRayState`) says which traces are stored at which
    revision; each window's scan reaches back ``lag`` (and to recent partial traces).
    """

    name = "xray"
    needs = Needs(window=True, state=True, window_within_step=True)

    def __init__(self, collector: XRayCollector) -> None:
        self.collector = collector

    def collect(self, request: CollectRequest) -> CollectorResult:
        window = request.window_for("X-Ray")
        warnings: tuple[str, ...] = ()
        try:
            state = XRayState.from_mapping(request.state)
        except ValueError as exc:
            warnings = (f"X-Ray checkpoint state unreadable ({exc}); traces may be fetched again",)
            state = XRayState()
        scan = scan_window(window, lag=request.lag, state=state, now=request.now)
        result = self.collector.collect(scan, known=state.complete, partial=state.partial)
        return replace(
            result,
            state=state.after(result, now=request.now).as_mapping(),
            warnings=(*warnings, *result.warnings),
        )


def _build(context: BuildContext) -> XRaySource:
    client = context.factory.xray()
    where = context.factory.target
    alongside = (
        SpansAlongside(
            client,
            context.factory.logs(),
            declared=context.spans_destination,
            fetch_indexed=context.fetch_indexed,
            clock=context.clock,
            target=f"{where.account}/{where.region}",
        )
        if context.spans_alongside
        else None
    )
    collector = XRayCollector(
        max_span=context.step,
        filter_expression=context.filter_expression,
        spans_alongside=alongside,
        **context.client_options(client),
    )
    return XRaySource(collector)


REGISTRATION = Registration(
    "xray",
    _build,
    API_CALLS,
    lag=timedelta(minutes=2),
    options=("filter_expression", "fetch_indexed"),
)
