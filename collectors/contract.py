"""The one contract every collector keeps, and the registry the agent reads collectors from.

A collector declares what it :class:`Needs` (a time window, the function list, its own state
kept with its checkpoint), is built from a :class:`BuildContext` (one client factory, retry
settings, its own settings), and answers one :class:`CollectRequest` with a
:class:`collectors.base.CollectorResult`. The agent's runner knows nothing else about it: it
computes the windows due from the collector's checkpoint, hands over what the collector
declared it needs, persists the result, and advances the checkpoint (with ``result.state``)
only over windows the store holds and the result says are complete.

Adding a collector is one module with a :class:`Registration` plus its line in
:mod:`collectors.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from collectors.base import ClientOptions, ClientT, CollectorResult, RetrySettings, Window

if TYPE_CHECKING:
    # NOTE: only a type here: the store reads collectors' modules without boto3 (session's).
    from collectors.session import ClientFactory


@dataclass(frozen=True)
class Needs:
    """What a collector needs from the runner.

    Attributes
    ----------
    window
        True: it reads time windows, from its checkpoint (or the look-back) towards now, in
        steps; False: one call per cycle, no checkpoint window (configuration).
    functions
        It reads per function: the runner passes the function list (configured, or listed by
        the collector that ``lists_functions``).
    state
        It keeps JSON state with its checkpoint (passed in, returned as ``result.state``).
    lists_functions
        Its results carry the account's function list (``result.function_list``).
    lag_in_window
        True: windows end ``lag`` before now. False: windows run up to now and the collector
        applies the lag itself (returning ``window=None`` when nothing is readable yet).
    window_within_step
        True: the collector reaches back ``lag`` before each window, so the runner shortens
        its windows by the lag to keep every read within one step.
    """

    window: bool = True
    functions: bool = False
    state: bool = False
    lists_functions: bool = False
    lag_in_window: bool = True
    window_within_step: bool = False


@dataclass(frozen=True)
class CollectRequest:
    """One call of a collector.

    Attributes
    ----------
    window
        The window due (None for a collector without windows).
    now
        The runner's clock when the cycle started (UTC).
    lag
        The collector's configured lag.
    functions
        The function list, for a collector that needs it (else empty).
    state
        The collector's state from its checkpoint (empty before the first one).
    """

    window: Window | None
    now: datetime
    lag: timedelta
    functions: tuple[str, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)

    def window_for(self, collector: str) -> Window:
        """The window of a collector that reads windows; ValueError naming it when none."""
        if self.window is None:
            msg = f"the {collector} collector reads windows: pass one"
            raise ValueError(msg)
        return self.window


class Collector(Protocol):
    """A source of raw pages: what the agent runs."""

    @property
    def name(self) -> str:
        """The name results, checkpoints and config sections use."""
        ...

    @property
    def needs(self) -> Needs:
        """What the runner must provide."""
        ...

    def collect(self, request: CollectRequest) -> CollectorResult:
        """Read what ``request`` asks for; partial success is a value, never an exception.

        ``result.state`` is the state to keep with the checkpoint (None: keep the stored
        one); it is stored whether or not the window was complete. A stored state the
        collector cannot read is a warning in the result, and it starts afresh.
        """
        ...


@dataclass(frozen=True)
class BuildContext:
    """What a collector is built from: the target's clients and its own settings.

    Attributes
    ----------
    factory
        Makes the clients (one per collector, made when it is built).
    retry
        Retry settings.
    sleep, clock
        Waits (ending early on shutdown) and the current time.
    step
        The longest window the runner asks for.
    timeout, lag
        The collector's cycle timeout and lag.
    functions
        Functions named in the configuration (empty: every function listed).
    filter_expression
        X-Ray filter expression, if configured.
    period
        CloudWatch datapoint period.
    percentiles
        CloudWatch: also read the Duration percentiles (p50/p95/p99).
    trace_destination
        Spans only: where traces go as declared in the configuration (``"CloudWatchLogs"`` or
        ``"XRay"``), for endpoints without GetTraceSegmentDestination; None: read it.
    spans_alongside, spans_destination
        X-Ray only: the spans collector runs for the same target, and its declared
        ``trace_destination`` (under Transaction Search the X-Ray collector leaves the traces
        to it).
    fetch_indexed
        X-Ray only: fetch the indexed traces even when the spans collector reads every span.
    """

    factory: ClientFactory
    retry: RetrySettings
    sleep: Callable[[float], None]
    clock: Callable[[], datetime]
    step: timedelta = timedelta(hours=1)
    timeout: timedelta = timedelta(minutes=4)
    lag: timedelta = timedelta(minutes=2)
    functions: tuple[str, ...] = ()
    filter_expression: str | None = None
    period: timedelta = timedelta(seconds=60)
    percentiles: bool = True
    trace_destination: str | None = None
    spans_alongside: bool = False
    spans_destination: str | None = None
    fetch_indexed: bool = True

    def client_options(self, client: ClientT) -> ClientOptions[ClientT]:
        """``client`` with the retry settings and waits, as every single-service collector
        (``collectors.base.AwsCollector``) takes them."""
        return {"client": client, "retry": self.retry, "sleep": self.sleep}


@dataclass(frozen=True)
class Registration:
    """A collector as the agent knows it.

    Attributes
    ----------
    name
        Its name (config section ``[collectors.<name>]``, checkpoints, results).
    build
        Makes the collector for one target.
    api_calls
        Every IAM action it may call (the shipped policy must allow each).
    windows
        True when it reads time windows (its config section then takes ``lag``).
    interval, timeout, lag
        Defaults of its schedule.
    options
        Config keys it reads besides ``enabled``, ``interval``, ``timeout`` (and ``lag`` when
        it has windows), e.g. ``("filter_expression",)``.
    """

    name: str
    build: Callable[[BuildContext], Collector]
    api_calls: frozenset[str]
    windows: bool = True
    interval: timedelta = timedelta(minutes=5)
    timeout: timedelta = timedelta(minutes=4)
    lag: timedelta = timedelta(minutes=2)
    options: tuple[str, ...] = ()
