"""The agent's configuration: typed, validated settings read from a TOML file.

Every setting has a default, so an empty file (or none) is a valid config that collects from
the default region into ``./tl-data``. :func:`load_config` reads a file and reports
every problem at once in one :class:`ConfigError`; ``tracelens.example.toml`` documents every
key. Relative paths in a file are relative to the file's directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

from analyses.finding_thresholds import FindingSettings
from collectors import registry
from collectors.base import RetrySettings
from collectors.session import AwsTarget
from tracelens.store import DEFAULT_LOCATION

# NOTE: in registry order: lambda runs first in `collect --once`, the other collectors read
# metrics and logs of the functions it lists.
COLLECTOR_NAMES: tuple[str, ...] = registry.NAMES
MAX_STEP = timedelta(hours=1)
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


@dataclass(frozen=True)
class AwsSettings:
    """Where to read from (see :class:`collectors.session.AwsTarget`)."""

    account: str = "default"
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    # "collect": role_arn is assumed for reading only; "all": for the store and alerts too.
    role_scope: RoleScope = "collect"

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
    """

    name: str
    enabled: bool = True
    interval: timedelta = timedelta(minutes=5)
    timeout: timedelta = timedelta(minutes=4)
    lag: timedelta = timedelta(minutes=2)
    filter_expression: str | None = None
    period: timedelta = timedelta(seconds=60)


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

    since: timedelta = timedelta(hours=3)
    step: timedelta = MAX_STEP
    functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportSettings:
    """The report the agent rewrites on its own schedule."""

    enabled: bool = True
    path: Path = Path("tracelens-report.html")
    interval: timedelta = timedelta(minutes=15)
    since: timedelta = timedelta(hours=6)
    title: str | None = None


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

    status_file: Path = Path("tracelens-status.json")
    health_port: int = 0  # 0: no endpoint
    metrics_port: int = 0  # 0: no Prometheus endpoint
    metrics_address: str = "127.0.0.1"
    health_host: str = "127.0.0.1"


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

    sns_topic_arn: str | None = None
    webhook_url: str | None = field(default=None, repr=False)
    webhook_format: WebhookFormat = "auto"
    event_bus: str | None = None
    min_severity: AlertSeverity = "critical"
    cooldown: timedelta = timedelta(hours=1)
    resolve_after: int = 2
    stale_intervals: int = 3
    report_url: str | None = None
    link_expiry: timedelta = timedelta(days=7)

    @property
    def enabled(self) -> bool:
        """True when any sink is set."""
        return bool(self.sns_topic_arn or self.webhook_url or self.event_bus)


@dataclass(frozen=True)
class AgentConfig:
    """The whole configuration (defaults for everything not set)."""

    aws: AwsSettings = field(default_factory=AwsSettings)
    store_url: str = DEFAULT_LOCATION
    collect: CollectSettings = field(default_factory=CollectSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    collectors: tuple[CollectorSettings, ...] = tuple(DEFAULT_COLLECTORS.values())
    report: ReportSettings = field(default_factory=ReportSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    findings: FindingSettings = field(default_factory=FindingSettings)
    source: str | None = None

    def collector(self, name: str) -> CollectorSettings:
        """The settings of collector ``name``."""
        for settings in self.collectors:
            if settings.name == name:
                return settings
        raise KeyError(f"no collector {name!r}; known: {', '.join(COLLECTOR_NAMES)}")

    @property
    def enabled_collectors(self) -> tuple[CollectorSettings, ...]:
        """Enabled collectors, in run order."""
        return tuple(settings for settings in self.collectors if settings.enabled)

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
        return replace(self, aws=aws, store_url=store_url or self.store_url, collect=collect)
