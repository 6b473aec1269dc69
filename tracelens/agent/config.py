"""The agent's configuration: typed, validated settings read from a TOML file.

Every setting is declared once, on its field: its key, kind (unit), bounds, default and
environment override (:func:`tracelens.declared.setting`). Every setting has a default, so an
empty file (or none) is a valid config that collects from the default region into
``./tl-data``. :func:`~tracelens.agent.config_file.load_config` reads a file and reports every
problem at once in one :class:`ConfigError`; ``tracelens.example.toml`` documents every key.
Relative paths in a file are relative to the file's directory.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

from analyses.finding_thresholds import FindingSettings
from collectors import registry
from collectors.base import RetrySettings
from collectors.session import AwsTarget
from collectors.spans import DESTINATIONS
from tracelens import settings
from tracelens.declared import fallback_value, section, setting
from tracelens.engines import DEFAULT_ENGINE, ENGINES, SPLITS
from tracelens.store import DEFAULT_LOCATION
from tracelens.store.layout import name_part
from tracelens.windowplan import SPAN_WINDOW

# NOTE: in registry order: lambda runs first in `collect --once`, the other collectors read
# metrics and logs of the functions it lists.
COLLECTOR_NAMES: tuple[str, ...] = registry.NAMES
MAX_STEP = timedelta(hours=1)
MAX_LINK_EXPIRY = timedelta(days=7)
MAX_LABEL = 64
# Sensible bounds: a collector started more often than every second floods its log and the
# API; a lag or an interval of more than a day, or a first read further back than X-Ray keeps
# traces, is a typing mistake.
MIN_INTERVAL = timedelta(seconds=1)
MAX_INTERVAL = timedelta(days=1)
MAX_LAG = timedelta(days=1)
MAX_LOOK_BACK = timedelta(days=30)
MAX_REPORT_SPAN = timedelta(days=400)
MAX_COOLDOWN = timedelta(days=30)
MAX_SOCKET_TIMEOUT = timedelta(minutes=10)
IAM_POLICY_PATH = "collectors/iam_policy.json"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config: where (file and key) and what to do about it."""

    where: str
    message: str

    def describe(self) -> str:
        """``<where>: <message>``."""
        return f"{self.where}: {self.message}"


class ConfigError(ValueError):
    """A config with problems; ``problems`` lists every one of them."""

    def __init__(
        self, problems: list[ConfigProblem], *, partial: AgentConfig | None = None
    ) -> None:
        self.problems = tuple(problems)
        # The config with defaults in place of the wrong values, to check the rest against.
        self.partial = partial
        lines = "\n".join(f"  - {problem.describe()}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the configuration:\n{lines}")


RoleScope = Literal["collect", "all"]


def _arn(example: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value.startswith("arn:") else f"{value!r} is not an ARN ({example})"

    return check


def _http(value: str) -> str | None:
    return None if value.startswith(("http://", "https://")) else "must start with http(s)://"


def _ip_address(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address (e.g. 0.0.0.0)"
    return None


def _bindable(value: str) -> str | None:
    """None for an IP address or ``localhost``: what the health endpoint can bind."""
    if value == "localhost" or _ip_address(value) is None:
        return None
    return f"{value!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::) or localhost"


def _store_location(value: str) -> str | None:
    if value.startswith("s3://"):
        if not value.removeprefix("s3://").split("/", 1)[0]:
            return f"{value!r} names no bucket; write s3://bucket/prefix"
        return None
    if "://" in value:
        return f"{value!r}: use a directory or s3://bucket/prefix"
    return None


def _account_label(value: str) -> str | None:
    # NOTE: the label names store files (checkpoints/<collector>/<account>/...): the store's rule.
    try:
        name_part(value, "account label")
    except ValueError as exc:
        return str(exc)
    return None if len(value) <= MAX_LABEL else f"is longer than {MAX_LABEL} characters"


_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


def region_problem(value: str) -> str | None:
    """What is wrong with ``value`` as an AWS region name (None: nothing)."""
    if _REGION.fullmatch(value):
        return None
    return f"{value!r} is not an AWS region name (like us-east-1, eu-west-2, us-gov-west-1)"


def _not_a_directory(value: Path) -> str | None:
    try:
        is_directory = value.is_dir()
    except OSError:
        return None  # NOTE: what cannot be looked at is reported when it is written.
    if is_directory:
        return f"{value} is a directory; name a file (e.g. {value / 'tracelens.out'})"
    return None


def _trace_destination(value: str) -> str | None:
    if value not in DESTINATIONS:
        choices = " or ".join(f'"{choice}"' for choice in DESTINATIONS if choice)
        return f"must be {choices} (or empty, to read it with GetTraceSegmentDestination)"
    return None


def _whole_minutes(value: timedelta) -> str | None:
    if value < timedelta(seconds=60) or value.total_seconds() % 60:
        return 'must be a whole number of minutes (e.g. "1m")'
    return None


# Where a region is read from when none is given: botocore itself reads only the second.
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


def environment_region(environ: Mapping[str, str]) -> str | None:
    """The region of AWS_REGION, else AWS_DEFAULT_REGION, as ``[aws] region`` reads them."""
    return fallback_value(REGION_VARIABLES, environ)


@dataclass(frozen=True)
class AwsSettings:
    """Where to read from (see :class:`collectors.session.AwsTarget`)."""

    account: str = setting(
        "account", "default", kind="text", env=settings.ACCOUNT, check=_account_label
    )
    region: str | None = setting("region", None, kind="text", fallback_env=REGION_VARIABLES)
    profile: str | None = setting("profile", None, kind="text")
    role_arn: str | None = setting(
        "role_arn",
        None,
        kind="text",
        env=settings.ROLE_ARN,
        check=_arn("arn:aws:iam::..."),
    )
    external_id: str | None = setting(
        "external_id", None, kind="text", env=settings.EXTERNAL_ID, secret=True
    )
    endpoint_url: str | None = setting("endpoint_url", None, kind="text", check=_http)
    # "collect": role_arn is assumed for reading only; "all": for the store and alerts too.
    role_scope: RoleScope = setting(
        "role_scope", "collect", kind="choice", choices=("collect", "all")
    )

    def target(self) -> AwsTarget:
        """The collectors' target.

        Raises
        ------
        ConfigError
            When no region is known.
        """
        if not self.region:
            raise ConfigError([ConfigProblem("[aws] region", NO_REGION)])
        return AwsTarget(
            account=self.account,
            region=self.region,
            profile=self.profile,
            role_arn=self.role_arn,
            external_id=self.external_id,
            endpoint_url=self.endpoint_url,
        )


NO_REGION = (
    "no AWS region: set [aws] region in the config, pass --region, or set AWS_REGION "
    "(or a region in the profile)"
)


def _collector_names(value: tuple[str, ...]) -> str | None:
    unknown = [name for name in value if name not in COLLECTOR_NAMES]
    if not unknown:
        return None
    close = difflib.get_close_matches(unknown[0], COLLECTOR_NAMES, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"no collector {unknown[0]!r}; {hint}known: {', '.join(COLLECTOR_NAMES)}"


@dataclass(frozen=True)
class TargetSettings:
    """One ``[[targets]]`` table: an account and region the agent collects from.

    A setting left out is the ``[aws]`` one (``region``, ``profile``, ``endpoint_url``); the
    role and its external id are the target's own (none: the agent's own credentials read it).

    Attributes
    ----------
    label
        The account's label in the store, status, metrics, alerts and the report.
    collectors
        The collectors run for this target (empty: every enabled one).
    """

    label: str = setting("label", "", kind="text", check=_account_label)
    region: str | None = setting("region", None, kind="text", check=region_problem)
    role_arn: str | None = setting(
        "role_arn", None, kind="text", check=_arn("arn:aws:iam::123456789012:role/...")
    )
    external_id: str | None = setting("external_id", None, kind="text", secret=True)
    profile: str | None = setting("profile", None, kind="text")
    endpoint_url: str | None = setting("endpoint_url", None, kind="text", check=_http)
    collectors: tuple[str, ...] = setting("collectors", (), kind="names", check=_collector_names)


@dataclass(frozen=True)
class Target:
    """Where one runner collects: the AWS target and the collectors run there, in order."""

    aws: AwsTarget
    collectors: tuple[str, ...]

    @property
    def account(self) -> str:
        """The account label."""
        return self.aws.account

    @property
    def region(self) -> str:
        """The region."""
        return self.aws.region

    @property
    def key(self) -> str:
        """``<label>/<region>``: how the status, the logs and alerts name the target."""
        return f"{self.aws.account}/{self.aws.region}"


@dataclass(frozen=True)
class CollectorSettings:
    """How one collector is scheduled.

    Attributes
    ----------
    name
        ``"lambda"``, ``"xray"``, ``"cloudwatch"`` or ``"logs"``.
    enabled
        False: never run (neither by the agent nor by ``collect --once``).
    interval
        Time between the starts of two runs.
    timeout
        No new window is started after this long, and a Logs Insights query is stopped;
        at most ``interval``.
    lag
        How far behind now a window ends, because the source publishes late.
    filter_expression
        X-Ray only: a filter expression for GetTraceSummaries.
    period
        CloudWatch only: the datapoint period (a multiple of 60 s).
    percentiles
        CloudWatch only: also read the Duration percentiles (p50/p95/p99).
    destination
        Spans only: ``"CloudWatchLogs"`` or ``"XRay"`` declared instead of read with
        GetTraceSegmentDestination (for endpoints without that API); None: read it.
    fetch_indexed
        X-Ray only: fetch X-Ray's indexed traces with BatchGetTraces (the default). False:
        skip the fetch while Transaction Search is on, the spans collector reads every span of
        the target (the indexed traces are among those spans) and ``aws/spans`` can be read.
        Not the default: a window from before Transaction Search was turned on (a first run's
        catch-up, say) has its traces in X-Ray only, and skipping them would lose them for
        good.
    """

    name: str
    enabled: bool = setting("enabled", True, kind="bool")
    interval: timedelta = setting(
        "interval", timedelta(minutes=5), kind="duration", low=MIN_INTERVAL, high=MAX_INTERVAL
    )
    # NOTE: at most the interval; not set: the collector's default, or the interval if shorter.
    timeout: timedelta = setting(
        "timeout", timedelta(minutes=4), kind="duration", low=timedelta(0), above=True
    )
    lag: timedelta = setting(
        "lag", timedelta(minutes=2), kind="duration", low=timedelta(0), high=MAX_LAG
    )
    filter_expression: str | None = setting("filter_expression", None, kind="text")
    period: timedelta = setting(
        "period", timedelta(seconds=60), kind="duration", high=MAX_INTERVAL, check=_whole_minutes
    )
    percentiles: bool = setting("percentiles", True, kind="bool")
    destination: str | None = setting("destination", None, kind="text", check=_trace_destination)
    fetch_indexed: bool = setting("fetch_indexed", True, kind="bool")


DEFAULT_COLLECTORS: Mapping[str, CollectorSettings] = {
    registration.name: CollectorSettings(
        registration.name,
        interval=registration.interval,
        timeout=registration.timeout,
        lag=registration.lag,
    )
    for registration in registry.REGISTRY
}


@dataclass(frozen=True)
class CollectSettings:
    """What every windowed collector reads.

    Attributes
    ----------
    since
        How far back a collector's first run reads (it has no checkpoint yet).
    step
        The longest window read before the checkpoint advances (at most one hour).
    functions
        Functions whose metrics and logs are read; empty: every function ListFunctions returns.
    """

    since: timedelta = setting(
        "since",
        timedelta(hours=3),
        kind="duration",
        low=timedelta(0),
        above=True,
        high=MAX_LOOK_BACK,
    )
    step: timedelta = setting(
        "step", MAX_STEP, kind="duration", low=timedelta(0), above=True, high=MAX_STEP
    )
    functions: tuple[str, ...] = setting("functions", (), kind="names")


@dataclass(frozen=True)
class ReportSettings:
    """The report the agent rewrites on its own schedule."""

    enabled: bool = setting("enabled", True, kind="bool")
    path: Path = setting("path", Path("tracelens-report.html"), kind="path", check=_not_a_directory)
    interval: timedelta = setting(
        "interval", timedelta(minutes=15), kind="duration", low=MIN_INTERVAL, high=MAX_INTERVAL
    )
    since: timedelta = setting(
        "since",
        timedelta(hours=6),
        kind="duration",
        low=timedelta(0),
        above=True,
        high=MAX_REPORT_SPAN,
    )
    title: str | None = setting("title", None, kind="text")
    # A report over more than this (since) merges hourly rollups for the long-window sections
    # and reads the spans of only its last span_window (tracelens.windowplan).
    span_window: timedelta = setting(
        "span_window", SPAN_WINDOW, kind="duration", low=timedelta(hours=1), high=MAX_REPORT_SPAN
    )


@dataclass(frozen=True)
class DaemonSettings:
    """The agent process: its status file and optional health endpoint.

    Attributes
    ----------
    status_file
        The JSON status, rewritten after every job.
    health_port
        The health endpoint's port (0: no endpoint).
    health_host
        The address the endpoint binds (127.0.0.1: this machine only; ``0.0.0.0`` or ``::``
        for an orchestrator's probe). The endpoint answers 503 when a collector has had no
        successful cycle for ``[alerts] stale_intervals`` of its intervals.
    metrics_port, metrics_address
        The Prometheus endpoint (0: none) and the address it listens on.
    """

    status_file: Path = setting(
        "status_file",
        Path("tracelens-status.json"),
        kind="path",
        env=settings.STATUS_FILE,
        check=_not_a_directory,
    )
    # 0: no endpoint
    health_port: int = setting(
        "health_port", 0, kind="int", low=0, high=65535, env=settings.HEALTH_PORT
    )
    # 0: no Prometheus endpoint
    metrics_port: int = setting(
        "metrics_port", 0, kind="int", low=0, high=65535, env=settings.METRICS_PORT
    )
    metrics_address: str = setting("metrics_address", "127.0.0.1", kind="text", check=_ip_address)
    health_host: str = setting(
        "health_host", "127.0.0.1", kind="text", env=settings.HEALTH_HOST, check=_bindable
    )


AlertSeverity = Literal["critical", "warning"]
WebhookFormat = Literal["auto", "slack", "json"]


@dataclass(frozen=True)
class AlertSettings:
    """Where and when alerts go (no sink set: no alerts).

    Attributes
    ----------
    sns_topic_arn
        An SNS topic to publish each alert to.
    webhook_url
        An HTTP(S) endpoint each alert is POSTed to as JSON.
    webhook_format
        ``"slack"`` (an incoming webhook's ``{"text": ...}``), ``"json"`` (the alert object),
        or ``"auto"``: Slack for ``hooks.slack.com`` URLs, else JSON.
    event_bus
        An EventBridge bus (name or ARN) each alert is put on as an event.
    min_severity
        The lowest severity whose appearance or escalation alerts.
    cooldown
        The same alert (finding and event) is not sent again sooner than this.
    resolve_after
        Reports in a row without a finding before it is announced as resolved.
    stale_intervals
        A collector with no success for this many of its intervals is stale.
    report_url
        The report link in alerts; empty: a presigned URL when the store is on S3 (the report
        is uploaded next to the store), else the report's local path.
    link_expiry
        How long a presigned report link works (at most 7 days).
    """

    sns_topic_arn: str | None = setting(
        "sns_topic_arn", None, kind="text", env=settings.SNS_TOPIC, check=_arn("arn:aws:sns:...")
    )
    # NOTE: the URL is a secret (it is the credential of a Slack webhook): never echoed.
    webhook_url: str | None = setting("webhook_url", None, kind="text", check=_http, secret=True)
    webhook_format: WebhookFormat = setting(
        "webhook_format", "auto", kind="choice", choices=("auto", "slack", "json")
    )
    event_bus: str | None = setting("event_bus", None, kind="text")
    min_severity: AlertSeverity = setting(
        "min_severity", "critical", kind="choice", choices=("critical", "warning")
    )
    cooldown: timedelta = setting(
        "cooldown", timedelta(hours=1), kind="duration", low=timedelta(0), high=MAX_COOLDOWN
    )
    resolve_after: int = setting("resolve_after", 2, kind="int", low=1, high=100)
    stale_intervals: int = setting("stale_intervals", 3, kind="int", low=1, high=100)
    report_url: str | None = setting("report_url", None, kind="text")
    link_expiry: timedelta = setting(
        "link_expiry",
        MAX_LINK_EXPIRY,
        kind="duration",
        low=timedelta(0),
        above=True,
        high=MAX_LINK_EXPIRY,
    )

    @property
    def enabled(self) -> bool:
        """True when any sink is set."""
        return bool(self.sns_topic_arn or self.webhook_url or self.event_bus)


def _retention(value: timedelta) -> str | None:
    if value == timedelta(0) or value >= timedelta(days=1):
        return None
    return 'must be 1d or more (e.g. "30d"), or "0s" to keep everything'


@dataclass(frozen=True)
class StoreSettings:
    """The store the agent writes and looks after.

    Attributes
    ----------
    url
        A directory (relative to the config file) or ``s3://bucket/prefix``.
    retention
        Days wholly older than this are deleted (parts, raw pages, run records); 0: keep
        everything.
    maintenance_interval
        How often the agent compacts the store's small parts and applies the retention (0:
        never; ``tracelens store compact`` / ``prune`` by hand).
    rollup_interval
        A day's hourly rollup is computed again after a collection cycle that wrote its spans,
        at most this often per day (0: after every such cycle); reports in between roll the
        newer spans of that day up themselves, and say so.
    """

    url: str = setting(
        "url", DEFAULT_LOCATION, kind="location", env=settings.STORE, check=_store_location
    )
    retention: timedelta = setting(
        "retention", timedelta(0), kind="duration", low=timedelta(0), check=_retention
    )
    maintenance_interval: timedelta = setting(
        "maintenance_interval",
        timedelta(hours=1),
        kind="duration",
        low=timedelta(0),
        high=timedelta(days=7),
    )
    rollup_interval: timedelta = setting(
        "rollup_interval",
        timedelta(minutes=10),
        kind="duration",
        low=timedelta(0),
        high=timedelta(days=1),
    )


def _scheduler_address(value: str) -> str | None:
    if "://" in value and value.split("://", 1)[1]:
        return None
    return f"{value!r} is not a Dask scheduler address (e.g. tcp://scheduler:8786)"


@dataclass(frozen=True)
class EngineSettings:
    """Where ``tracelens store rollup`` and ``store summary --engine`` compute their partitions
    (:mod:`tracelens.engines`); the commands' ``--engine``, ``--address``, ``--workers`` and
    ``--split`` win over these.

    Attributes
    ----------
    name
        ``"local"``, ``"processes"`` or ``"dask"``: the engine of ``store rollup`` without
        ``--engine`` (``store summary`` reads the stored rollups unless given ``--engine``).
    address
        The Dask scheduler (``tcp://host:8786``), used when the engine is ``dask``; empty: a
        local cluster started for the command.
    workers
        Worker processes of ``processes`` or of a local Dask cluster (0: the number of CPUs).
    split
        The unit of work: ``"day"``, or ``"bucket"`` (1/16 of a day's trace ids).
    """

    name: str = setting("name", DEFAULT_ENGINE, kind="choice", choices=ENGINES)
    address: str | None = setting("address", None, kind="text", check=_scheduler_address)
    workers: int = setting("workers", 0, kind="int", low=0, high=1024)
    split: str = setting("split", SPLITS[0], kind="choice", choices=SPLITS)


@dataclass(frozen=True)
class AgentConfig:
    """The whole configuration (defaults for everything not set)."""

    aws: AwsSettings = section("aws", AwsSettings)
    # [[targets]]: the accounts and regions collected (none: the one [aws] names).
    targets: tuple[TargetSettings, ...] = field(default=(), metadata={"targets": True})
    store: StoreSettings = section("store", StoreSettings)
    collect: CollectSettings = section("collect", CollectSettings)
    retry: RetrySettings = section("retry", RetrySettings)
    # [collectors.<name>]: CollectorSettings, with each collector's own defaults and keys.
    collectors: tuple[CollectorSettings, ...] = field(
        default=tuple(DEFAULT_COLLECTORS.values()), metadata={"collectors": True}
    )
    report: ReportSettings = section("report", ReportSettings)
    daemon: DaemonSettings = section("agent", DaemonSettings)
    alerts: AlertSettings = section("alerts", AlertSettings)
    engine: EngineSettings = section("engine", EngineSettings)
    # [findings]: the thresholds are declared with their units in analyses/finding_thresholds.py.
    findings: FindingSettings = field(
        default_factory=FindingSettings, metadata={"table": "findings"}
    )
    source: str | None = None

    def collector(self, name: str) -> CollectorSettings:
        """The settings of collector ``name``."""
        for each in self.collectors:
            if each.name == name:
                return each
        raise KeyError(f"no collector {name!r}; known: {', '.join(COLLECTOR_NAMES)}")

    @property
    def enabled_collectors(self) -> tuple[CollectorSettings, ...]:
        """Enabled collectors, in run order."""
        return tuple(settings for settings in self.collectors if settings.enabled)

    def collect_targets(self) -> tuple[Target, ...]:
        """Every account and region collected, in the config's order: the ``[[targets]]``, or
        the one ``[aws]`` names.

        Raises
        ------
        ConfigError
            When a target has no region (neither its own nor ``[aws] region``).
        """
        enabled = tuple(settings.name for settings in self.enabled_collectors)
        if not self.targets:
            return (Target(self.aws.target(), enabled),)
        aws = self.aws
        found: list[Target] = []
        for number, each in enumerate(self.targets, 1):
            region = each.region or aws.region
            if not region:
                raise ConfigError([ConfigProblem(f"[targets #{number}] region", NO_REGION)])
            target = AwsTarget(
                account=each.label,
                region=region,
                profile=each.profile or aws.profile,
                role_arn=each.role_arn,
                external_id=each.external_id,
                endpoint_url=each.endpoint_url or aws.endpoint_url,
            )
            names = tuple(n for n in enabled if not each.collectors or n in each.collectors)
            found.append(Target(target, names))
        return tuple(found)

    def default_target(self) -> Target:
        """The target of a runner made without one: the config's first.

        Raises
        ------
        ConfigError
            When it has no region.
        """
        return self.collect_targets()[0]

    def target_of(self, runner: object) -> Target:
        """The target ``runner`` collects: its own ``target`` (a ``CollectionRunner``'s), else
        :meth:`default_target` (a runner given by a caller without one collects it, as a
        ``CollectionRunner`` made without a target does).

        Raises
        ------
        ConfigError
            When the runner has no target and the config's first has no region.
        """
        target = getattr(runner, "target", None)
        return target if isinstance(target, Target) else self.default_target()

    def schedule(self) -> list[tuple[str, Target, CollectorSettings]]:
        """Every collector of every target, keyed as the status, health and alerts name it:
        the collector's name, or ``<label>/<region>/<collector>`` with several targets."""
        targets = self.collect_targets()
        return [
            (name if len(targets) == 1 else f"{target.key}/{name}", target, self.collector(name))
            for target in targets
            for name in target.collectors
        ]

    def agent_region(self) -> str | None:
        """The region of the agent's own calls (store, alerts): ``[aws] region``, else the
        first target's."""
        if self.aws.region or not self.targets:
            return self.aws.region
        return self.targets[0].region

    @property
    def role_arns(self) -> tuple[str, ...]:
        """Every role the collectors assume (``[aws] role_arn`` or the targets'), once each."""
        arns = [each.role_arn for each in self.targets] if self.targets else [self.aws.role_arn]
        return tuple(dict.fromkeys(arn for arn in arns if arn))

    def with_overrides(
        self,
        *,
        store_url: str | None = None,
        since: timedelta | None = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> AgentConfig:
        """This config with command-line options applied (None: keep the config's value)."""
        aws = replace(
            self.aws,
            region=region or self.aws.region,
            profile=profile or self.aws.profile,
            endpoint_url=endpoint_url or self.aws.endpoint_url,
        )
        collect = replace(self.collect, since=since) if since is not None else self.collect
        # NOTE: --profile and --endpoint-url apply to every target; --region to [aws], which
        # the targets without a region of their own read from.
        targets = tuple(
            replace(
                each,
                profile=profile or each.profile,
                endpoint_url=endpoint_url or each.endpoint_url,
            )
            for each in self.targets
        )
        return replace(
            self,
            aws=aws,
            targets=targets,
            store=replace(self.store, url=store_url or self.store.url),
            collect=collect,
        )
