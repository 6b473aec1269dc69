"""Types every collector shares: the time window, raw pages, failures, counts and retry settings.

A collector run returns a :class:`CollectorResult` (or a subclass with source-specific fields).
The result holds the raw pages exactly as the API returned them, what failed, and whether the
window was fetched completely, so that a store can persist the pages and a checkpoint can move
forward only over windows that are complete.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypedDict, TypeVar

from tracelens.declared import setting

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

RetryMode = Literal["standard", "adaptive"]
_TEN_MINUTES = timedelta(minutes=10)  # the longest socket timeout the config accepts


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` in UTC.

    Raises
    ------
    ValueError
        If either bound is naive (no time zone) or ``end`` is not after ``start``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            msg = (
                f"Window bounds must be time-zone aware (got start={self.start!r}, "
                f"end={self.end!r}); pass datetime(..., tzinfo=UTC)"
            )
            raise ValueError(msg)
        if self.end <= self.start:
            msg = f"Window end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            raise ValueError(msg)

    @property
    def span(self) -> timedelta:
        """The length of the window."""
        return self.end - self.start

    def split(self, max_span: timedelta) -> tuple[Window, ...]:
        """Consecutive windows of at most ``max_span`` covering this one exactly."""
        parts: list[Window] = []
        cursor = self.start
        while cursor < self.end:
            upper = min(cursor + max_span, self.end)
            parts.append(Window(cursor, upper))
            cursor = upper
        return tuple(parts)

    def halves(self, *, resolution: timedelta = timedelta(seconds=1)) -> tuple[Window, Window]:
        """Two windows splitting this one at its middle, rounded down to ``resolution``.

        Raises
        ------
        ValueError
            If the window is shorter than two ``resolution`` steps and cannot be halved.
        """
        steps = self.span // resolution
        if steps < 2:
            msg = f"Window {self} is too short to halve at a resolution of {resolution}"
            raise ValueError(msg)
        middle = self.start + resolution * (steps // 2)
        return Window(self.start, middle), Window(middle, self.end)

    def as_dict(self) -> dict[str, str]:
        """ISO-8601 bounds, for logs and checkpoints."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def floor_time(moment: datetime, step: timedelta) -> datetime:
    """``moment`` rounded down to a multiple of ``step`` since the Unix epoch (UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + step * ((moment - epoch) // step)


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the Unix epoch, rounded down."""
    return int(moment.timestamp() // 1)


def epoch_millis(moment: datetime) -> int:
    """Whole milliseconds since the Unix epoch, rounded down."""
    return int(moment.timestamp() * 1000 // 1)


@dataclass(frozen=True)
class RawPage:
    """One API response, kept exactly as botocore parsed it (minus ``ResponseMetadata``).

    Attributes
    ----------
    kind
        The shape of ``response``, which tells the parser how to read it, e.g.
        ``"xray.batch_get_traces"``, ``"logs.get_query_results"``, ``"lambda.get_function"``.
    api
        The IAM action of the call that produced the page, e.g. ``"xray:BatchGetTraces"``.
    request
        The parameters sent with the call (for ``logs.get_query_results``: the StartQuery
        parameters plus ``queryId``, so the page says which log groups and window it covers).
    response
        The parsed response. Timestamps are ``datetime`` objects where botocore makes them so.
    """

    kind: str
    api: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]


@dataclass(frozen=True)
class Failure:
    """A call or an item that could not be fetched in this run.

    Attributes
    ----------
    api
        The IAM action that failed, e.g. ``"xray:BatchGetTraces"``.
    key
        What was being fetched: a trace id, a log group, a metric stat group, a function name.
    code
        The AWS error code (``ThrottlingException``, ``UnprocessedTraceId``, ...).
    message
        The error message, without credentials.
    retryable
        True when running the same request later may succeed (throttling, 5xx, timeouts).
    """

    api: str
    key: str
    code: str
    message: str
    retryable: bool


@dataclass(frozen=True)
class CallStats:
    """How a run used the API.

    Attributes
    ----------
    api_calls
        Client method invocations made by the collector (each one is one or more requests).
    throttles
        Throttling responses received, including those botocore retried on its own.
    retries
        Requests sent again: botocore's ``RetryAttempts`` plus the collector's own re-calls.
    """

    api_calls: int = 0
    throttles: int = 0
    retries: int = 0

    def __add__(self, other: CallStats) -> CallStats:
        return CallStats(
            api_calls=self.api_calls + other.api_calls,
            throttles=self.throttles + other.throttles,
            retries=self.retries + other.retries,
        )


@dataclass(frozen=True, kw_only=True)
class CollectorResult:
    """What one collector run fetched.

    Attributes
    ----------
    source
        ``"xray"``, ``"cloudwatch"``, ``"logs"`` or ``"lambda"``.
    window
        The window this result covers completely when ``complete`` is true; None for sources
        without a time window (Lambda configuration). A checkpoint may advance to ``window.end``.
    pages
        Raw pages in the order they were received.
    failures
        What could not be fetched (partial success is a value: the pages that did arrive are
        in ``pages``).
    warnings
        Human-readable notes on degraded behaviour (an API the endpoint lacks, a statistic
        that returned nothing, a window that hit a row cap at its minimum span).
    stats
        API usage counts.
    complete
        True when everything retrievable in ``window`` was fetched; False when a retry later
        could fetch more (``failures`` lists what).
    state
        The collector's state to keep with its checkpoint once the pages are stored (None:
        keep the stored one); see :class:`collectors.contract.Needs`.
    function_list
        The account's whole function list, from a collector that lists functions and read
        the listing to its end (None otherwise).
    notes
        Facts about the run worth showing (not problems), e.g. which mode an account's
        traces are collected in.
    """

    source: str
    window: Window | None
    pages: tuple[RawPage, ...]
    failures: tuple[Failure, ...]
    warnings: tuple[str, ...]
    stats: CallStats
    complete: bool
    state: Mapping[str, Any] | None = None
    function_list: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()

    def pages_of(self, kind: str) -> Iterator[RawPage]:
        """The pages of one shape, in order."""
        return (page for page in self.pages if page.kind == kind)


@dataclass(frozen=True)
class RetrySettings:
    """How hard a collector tries before recording a failure.

    Attributes
    ----------
    mode
        botocore's retry mode: ``"standard"`` (exponential backoff with jitter) or
        ``"adaptive"`` (standard plus a client-side rate limiter that slows down on throttles).
    max_attempts
        Requests botocore makes per call, the first included.
    call_attempts
        Calls the collector makes when botocore gives up on a throttling or transient error.
    backoff_base_s, backoff_max_s
        The collector's own backoff between those calls: ``base * 2**(n-1)``, capped.
    connect_timeout_s, read_timeout_s
        Socket timeouts per request.
    """

    # The [retry] keys of the agent's config are declared here, on their fields.
    mode: RetryMode = setting("mode", "standard", kind="choice", choices=("standard", "adaptive"))
    max_attempts: int = setting("max_attempts", 5, kind="int", low=1, high=20)
    call_attempts: int = setting("call_attempts", 3, kind="int", low=1, high=20)
    backoff_base_s: float = 1.0
    backoff_max_s: float = 20.0
    connect_timeout_s: float = setting(
        "connect_timeout", 5.0, kind="seconds", low=timedelta(0), above=True, high=_TEN_MINUTES
    )
    read_timeout_s: float = setting(
        "read_timeout", 30.0, kind="seconds", low=timedelta(0), above=True, high=_TEN_MINUTES
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.call_attempts < 1:
            msg = "RetrySettings.max_attempts and call_attempts must be at least 1"
            raise ValueError(msg)

    def botocore_config(self) -> Config:
        """A botocore ``Config`` carrying these retry and timeout settings."""
        # NOTE: botocore's `max_attempts` key counts retries only; `total_max_attempts`
        # counts the first request too, as this class does.
        # NOTE: boto3 and botocore are imported on first use: reading a store needs this module
        # (its result types) but no client (~0.2 s of start-up).
        from botocore.config import Config  # noqa: PLC0415

        return Config(
            retries={"mode": self.mode, "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
        )

    def client(self, service: str, session: boto3.Session | None) -> Any:
        """A ``service`` client from ``session`` (default: a new ``boto3.Session()``) with
        these settings; collectors make theirs with this on first use."""
        import boto3  # noqa: PLC0415

        return (session or boto3.Session()).client(
            service,  # type: ignore[call-overload]
            config=self.botocore_config(),
        )

    def backoff_s(self, attempt: int) -> float:
        """The collector's delay before its ``attempt``-th re-call (1-based)."""
        return float(min(self.backoff_base_s * 2 ** (attempt - 1), self.backoff_max_s))


def strip_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    """The response without botocore's ``ResponseMetadata`` (request ids, HTTP headers)."""
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of at most ``size`` items."""
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


ClientT = TypeVar("ClientT")


class ClientOptions(TypedDict, Generic[ClientT], total=False):
    """The keyword arguments every single-service collector takes (see ``AwsCollector``)."""

    client: ClientT | None
    session: boto3.Session | None
    retry: RetrySettings | None
    sleep: Callable[[float], None]


class AwsCollector(Generic[ClientT]):
    """What the single-service collectors share: their client, retry settings and waits.

    Parameters
    ----------
    client
        A client of ``SERVICE``; when None one is made from ``session`` on first use.
    session
        The session to make the client from (default: a new ``boto3.Session()``).
    retry
        Retry settings; also used for the client made from ``session``.
    sleep
        Called with seconds to wait between retries (tests pass a no-op).
    """

    SERVICE: ClassVar[str]

    def __init__(
        self,
        *,
        client: ClientT | None = None,
        session: boto3.Session | None = None,
        retry: RetrySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._session = session
        self._retry = retry or RetrySettings()
        self._sleep = sleep

    @property
    def client(self) -> ClientT:
        """The injected client, or one made from the session on first use."""
        if self._client is None:
            self._client = self._retry.client(self.SERVICE, self._session)
        return self._client
