"""Reading and validating the agent's TOML config file, reporting every problem at once.

Each value is checked where it is read; a wrong one is recorded as a :class:`ConfigProblem`
and replaced by its default so that checking goes on. Unknown sections and keys are problems
too (with the closest known name), because a misspelt key would otherwise be ignored silently.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import boto3
from botocore.exceptions import BotoCoreError

from analyses.finding_thresholds import (
    THRESHOLD_NAMES,
    FindingSettings,
    ThresholdError,
    Thresholds,
    threshold_value,
)
from collectors import registry
from collectors.base import RetrySettings
from tracelens import settings
from tracelens.agent.config import (
    COLLECTOR_NAMES,
    DEFAULT_COLLECTORS,
    MAX_STEP,
    NO_REGION,
    AgentConfig,
    AlertSettings,
    AwsSettings,
    CollectorSettings,
    CollectSettings,
    ConfigError,
    ConfigProblem,
    DaemonSettings,
    ReportSettings,
)
from tracelens.agent.durations import DurationError, parse_duration
from tracelens.ingest.opening.sources import special_file_kind

T = TypeVar("T")

SECTIONS = (
    "aws",
    "store",
    "collect",
    "retry",
    "collectors",
    "report",
    "agent",
    "alerts",
    "findings",
)
SECTION_KEYS: Mapping[str, tuple[str, ...]] = {
    "aws": (
        "account",
        "region",
        "profile",
        "role_arn",
        "external_id",
        "endpoint_url",
        "role_scope",
    ),
    "store": ("url",),
    "collect": ("since", "step", "functions"),
    "retry": ("mode", "max_attempts", "call_attempts", "connect_timeout", "read_timeout"),
    "report": ("enabled", "path", "interval", "since", "title"),
    "agent": ("status_file", "health_port", "health_host", "metrics_port", "metrics_address"),
    "alerts": (
        "sns_topic_arn",
        "webhook_url",
        "webhook_format",
        "event_bus",
        "min_severity",
        "cooldown",
        "resolve_after",
        "stale_intervals",
        "report_url",
        "link_expiry",
    ),
    "findings": (*THRESHOLD_NAMES, "silence"),
}
COLLECTOR_KEYS: Mapping[str, tuple[str, ...]] = {
    registration.name: (
        "enabled",
        "interval",
        "timeout",
        *(("lag",) if registration.windows else ()),
        *registration.options,
    )
    for registration in registry.REGISTRY
}


class _Reader:
    """Typed access to one table of the file, recording problems instead of raising."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems

    def problem(self, where: str, message: str) -> None:
        self.problems.append(ConfigProblem(f"{self.source}: {where}", message))

    def table(
        self, data: Mapping[str, Any], name: str, keys: tuple[str, ...], *, label: str = ""
    ) -> dict[str, Any]:
        label = label or name
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.problem(f"[{label}]", f"must be a table, not {type(value).__name__}")
            return {}
        for key in value:
            if key not in keys:
                self.problem(f"[{label}] {key}", _unknown(key, keys))
        return value

    def get(self, table: Mapping[str, Any], where: str, key: str, kind: type[T], default: T) -> T:
        if key not in table:
            return default
        value = table[key]
        # NOTE: Python's bool is an int; `health_port = true` must still be refused.
        valid = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not valid:
            self.problem(f"[{where}] {key}", f"must be a {_type_name(kind)}, not {value!r}")
            return default
        return cast(T, value)

    def text(self, table: Mapping[str, Any], where: str, key: str) -> str | None:
        """An optional string; empty means unset."""
        value = self.get(table, where, key, str, "")
        return value.strip() or None

    def duration(
        self, table: Mapping[str, Any], where: str, key: str, default: timedelta
    ) -> timedelta:
        if key not in table:
            return default
        try:
            return parse_duration(table[key])
        except DurationError as exc:
            self.problem(f"[{where}] {key}", str(exc))
            return default


def _type_name(kind: type[Any]) -> str:
    return {str: "string", int: "whole number", bool: "boolean (true/false)", list: "list"}.get(
        kind, kind.__name__
    )


def _unknown(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown setting; {hint}known: {', '.join(known)}"


def _relative_to(base: Path | None, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or base is None else base / path


def _aws(reader: _Reader, data: Mapping[str, Any], environ: Mapping[str, str]) -> AwsSettings:
    table = reader.table(data, "aws", SECTION_KEYS["aws"])
    account = settings.get(settings.ACCOUNT, environ) or reader.text(table, "aws", "account")
    account = account or "default"
    region = reader.text(table, "aws", "region")
    region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None
    role_arn = settings.get(settings.ROLE_ARN, environ) or reader.text(table, "aws", "role_arn")
    external_id = settings.get(settings.EXTERNAL_ID, environ) or reader.text(
        table, "aws", "external_id"
    )
    if external_id and not role_arn:
        reader.problem("[aws] external_id", "is set without role_arn; set role_arn too")
    if role_arn and not role_arn.startswith("arn:"):
        reader.problem("[aws] role_arn", f"{role_arn!r} is not an ARN (arn:aws:iam::...)")
    endpoint_url = reader.text(table, "aws", "endpoint_url")
    if endpoint_url and not endpoint_url.startswith(("http://", "https://")):
        reader.problem("[aws] endpoint_url", f"{endpoint_url!r} must start with http(s)://")
    scope = reader.get(table, "aws", "role_scope", str, "collect")
    if scope not in ("collect", "all"):
        reader.problem("[aws] role_scope", f'{scope!r} must be "collect" or "all"')
        scope = "collect"
    return AwsSettings(
        role_scope="all" if scope == "all" else "collect",
        account=account,
        region=region,
        profile=reader.text(table, "aws", "profile"),
        role_arn=role_arn,
        external_id=external_id,
        endpoint_url=endpoint_url,
    )


def _store(reader: _Reader, data: Mapping[str, Any], base: Path | None) -> str:
    table = reader.table(data, "store", SECTION_KEYS["store"])
    url = reader.text(table, "store", "url") or AgentConfig.store_url
    if url.startswith("s3://"):
        if not url.removeprefix("s3://").split("/", 1)[0]:
            reader.problem("[store] url", f"{url!r} names no bucket; write s3://bucket/prefix")
        return url
    if "://" in url:
        reader.problem("[store] url", f"{url!r}: use a directory or s3://bucket/prefix")
        return url
    return str(_relative_to(base, url))


def _collect(reader: _Reader, data: Mapping[str, Any]) -> CollectSettings:
    table = reader.table(data, "collect", SECTION_KEYS["collect"])
    defaults = CollectSettings()
    since = reader.duration(table, "collect", "since", defaults.since)
    step = reader.duration(table, "collect", "step", defaults.step)
    if since <= timedelta(0):
        reader.problem("[collect] since", 'must be more than 0s (e.g. "3h")')
        since = defaults.since
    if not timedelta(0) < step <= MAX_STEP:
        reader.problem("[collect] step", "must be more than 0s and at most 1h")
        step = defaults.step
    functions = reader.get(table, "collect", "functions", list, [])
    names = tuple(str(name) for name in functions if isinstance(name, str) and name)
    if len(names) != len(functions):
        reader.problem("[collect] functions", "must be a list of function names (strings)")
    return CollectSettings(since=since, step=step, functions=names)


def _retry(reader: _Reader, data: Mapping[str, Any]) -> RetrySettings:
    table = reader.table(data, "retry", SECTION_KEYS["retry"])
    defaults = RetrySettings()
    mode = reader.get(table, "retry", "mode", str, defaults.mode)
    if mode not in ("standard", "adaptive"):
        reader.problem("[retry] mode", f'{mode!r} must be "standard" or "adaptive"')
        mode = defaults.mode
    counts: dict[str, int] = {}
    for key in ("max_attempts", "call_attempts"):
        counts[key] = reader.get(table, "retry", key, int, getattr(defaults, key))
        if not 1 <= counts[key] <= 20:
            reader.problem(f"[retry] {key}", "must be between 1 and 20")
            counts[key] = getattr(defaults, key)
    timeouts: dict[str, float] = {}
    for key in ("connect_timeout", "read_timeout"):
        default = timedelta(seconds=getattr(defaults, f"{key}_s"))
        span = reader.duration(table, "retry", key, default)
        if span <= timedelta(0):
            reader.problem(f"[retry] {key}", "must be more than 0s")
            span = default
        timeouts[f"{key}_s"] = span.total_seconds()
    return RetrySettings(
        mode="adaptive" if mode == "adaptive" else "standard",
        max_attempts=counts["max_attempts"],
        call_attempts=counts["call_attempts"],
        connect_timeout_s=timeouts["connect_timeout_s"],
        read_timeout_s=timeouts["read_timeout_s"],
    )


def _one_collector(reader: _Reader, name: str, table: Mapping[str, Any]) -> CollectorSettings:
    where = f"collectors.{name}"
    default = DEFAULT_COLLECTORS[name]
    interval = reader.duration(table, where, "interval", default.interval)
    if interval <= timedelta(0):
        reader.problem(f"[{where}] interval", "must be more than 0s")
        interval = default.interval
    timeout = reader.duration(table, where, "timeout", min(default.timeout, interval))
    if not timedelta(0) < timeout <= interval:
        reader.problem(f"[{where}] timeout", "must be more than 0s and at most the interval")
        timeout = min(default.timeout, interval)
    period = reader.duration(table, where, "period", default.period)
    if period < timedelta(seconds=60) or period.total_seconds() % 60:
        reader.problem(f"[{where}] period", 'must be a whole number of minutes (e.g. "1m")')
        period = default.period
    return CollectorSettings(
        name=name,
        enabled=reader.get(table, where, "enabled", bool, default.enabled),
        interval=interval,
        timeout=timeout,
        lag=reader.duration(table, where, "lag", default.lag),
        filter_expression=reader.text(table, where, "filter_expression"),
        period=period,
    )


def _collectors(reader: _Reader, data: Mapping[str, Any]) -> tuple[CollectorSettings, ...]:
    tables = reader.table(data, "collectors", COLLECTOR_NAMES)
    result: list[CollectorSettings] = []
    for name in COLLECTOR_NAMES:
        table = reader.table(tables, name, COLLECTOR_KEYS[name], label=f"collectors.{name}")
        result.append(_one_collector(reader, name, table))
    if not any(settings.enabled for settings in result):
        reader.problem("[collectors]", "every collector is disabled; enable at least one")
    return tuple(result)


def _report(reader: _Reader, data: Mapping[str, Any], base: Path | None) -> ReportSettings:
    table = reader.table(data, "report", SECTION_KEYS["report"])
    defaults = ReportSettings()
    interval = reader.duration(table, "report", "interval", defaults.interval)
    if interval <= timedelta(0):
        reader.problem("[report] interval", "must be more than 0s")
        interval = defaults.interval
    since = reader.duration(table, "report", "since", defaults.since)
    if since <= timedelta(0):
        reader.problem("[report] since", 'must be more than 0s (e.g. "6h")')
        since = defaults.since
    path = reader.text(table, "report", "path") or str(defaults.path)
    return ReportSettings(
        enabled=reader.get(table, "report", "enabled", bool, defaults.enabled),
        path=_relative_to(base, path),
        interval=interval,
        since=since,
        title=reader.text(table, "report", "title"),
    )


def _daemon(
    reader: _Reader, data: Mapping[str, Any], base: Path | None, environ: Mapping[str, str]
) -> DaemonSettings:
    table = reader.table(data, "agent", SECTION_KEYS["agent"])
    defaults = DaemonSettings()
    status_env = settings.get(settings.STATUS_FILE, environ)
    status = reader.text(table, "agent", "status_file") or str(defaults.status_file)
    port = reader.get(table, "agent", "health_port", int, defaults.health_port)
    port_text = settings.get(settings.HEALTH_PORT, environ)
    if port_text is not None:
        if port_text.isdigit():
            port = int(port_text)
        else:
            reader.problem(settings.HEALTH_PORT, f"{port_text!r} is not a port number")
    if not 0 <= port <= 65535:
        reader.problem("[agent] health_port", "must be between 0 (off) and 65535")
        port = defaults.health_port
    metrics_port = reader.get(table, "agent", "metrics_port", int, defaults.metrics_port)
    metrics_text = settings.get(settings.METRICS_PORT, environ)
    if metrics_text is not None:
        if metrics_text.isdigit():
            metrics_port = int(metrics_text)
        else:
            reader.problem(settings.METRICS_PORT, f"{metrics_text!r} is not a port number")
    if not 0 <= metrics_port <= 65535:
        reader.problem("[agent] metrics_port", "must be between 0 (off) and 65535")
        metrics_port = defaults.metrics_port
    address = reader.text(table, "agent", "metrics_address") or defaults.metrics_address
    try:
        ipaddress.ip_address(address)
    except ValueError:
        reader.problem(
            "[agent] metrics_address", f"{address!r} is not an IP address (e.g. 0.0.0.0)"
        )
        address = defaults.metrics_address
    host_env = settings.get(settings.HEALTH_HOST, environ)
    host = host_env or reader.text(table, "agent", "health_host") or defaults.health_host
    if not _bindable(host):
        where = settings.HEALTH_HOST if host_env else "[agent] health_host"
        reader.problem(
            where, f"{host!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::) or localhost"
        )
        host = defaults.health_host
    return DaemonSettings(
        status_file=Path(status_env) if status_env else _relative_to(base, status),
        health_port=port,
        health_host=host,
        metrics_port=metrics_port,
        metrics_address=address,
    )


MAX_LINK_EXPIRY = timedelta(days=7)


def _alerts(reader: _Reader, data: Mapping[str, Any], environ: Mapping[str, str]) -> AlertSettings:
    table = reader.table(data, "alerts", SECTION_KEYS["alerts"])
    defaults = AlertSettings()
    topic = settings.get(settings.SNS_TOPIC, environ) or reader.text(
        table, "alerts", "sns_topic_arn"
    )
    if topic and not topic.startswith("arn:"):
        reader.problem("[alerts] sns_topic_arn", f"{topic!r} is not an ARN (arn:aws:sns:...)")
    webhook = reader.text(table, "alerts", "webhook_url")
    if webhook and not webhook.startswith(("http://", "https://")):
        # NOTE: the URL is a secret (it is the credential of a Slack webhook): never echo it.
        reader.problem("[alerts] webhook_url", "must start with http(s)://")
    shape = reader.get(table, "alerts", "webhook_format", str, defaults.webhook_format)
    if shape not in ("auto", "slack", "json"):
        reader.problem("[alerts] webhook_format", f'{shape!r} must be "auto", "slack" or "json"')
        shape = defaults.webhook_format
    severity = reader.get(table, "alerts", "min_severity", str, defaults.min_severity)
    if severity not in ("critical", "warning"):
        reader.problem("[alerts] min_severity", f'{severity!r} must be "critical" or "warning"')
        severity = defaults.min_severity
    cooldown = reader.duration(table, "alerts", "cooldown", defaults.cooldown)
    counts: dict[str, int] = {}
    for key in ("resolve_after", "stale_intervals"):
        counts[key] = reader.get(table, "alerts", key, int, getattr(defaults, key))
        if not 1 <= counts[key] <= 100:
            reader.problem(f"[alerts] {key}", "must be between 1 and 100")
            counts[key] = getattr(defaults, key)
    expiry = reader.duration(table, "alerts", "link_expiry", defaults.link_expiry)
    if not timedelta(0) < expiry <= MAX_LINK_EXPIRY:
        reader.problem("[alerts] link_expiry", "must be more than 0s and at most 7d")
        expiry = defaults.link_expiry
    return AlertSettings(
        sns_topic_arn=topic,
        webhook_url=webhook,
        webhook_format="slack" if shape == "slack" else "json" if shape == "json" else "auto",
        event_bus=reader.text(table, "alerts", "event_bus"),
        min_severity="warning" if severity == "warning" else "critical",
        cooldown=cooldown,
        resolve_after=counts["resolve_after"],
        stale_intervals=counts["stale_intervals"],
        report_url=reader.text(table, "alerts", "report_url"),
        link_expiry=expiry,
    )


def _findings(reader: _Reader, data: Mapping[str, Any]) -> FindingSettings:
    table = reader.table(data, "findings", SECTION_KEYS["findings"])
    values: dict[str, Any] = {}
    for name in THRESHOLD_NAMES:
        if name in table:
            try:
                values[name] = threshold_value(name, table[name])
            except ThresholdError as exc:
                reader.problem(f"[findings] {name}", str(exc))
    silence = reader.get(table, "findings", "silence", list, [])
    keys = tuple(key for key in silence if isinstance(key, str) and key)
    if len(keys) != len(silence):
        reader.problem(
            "[findings] silence", 'must be a list of finding keys (e.g. "dns:orders -> db")'
        )
    return FindingSettings(thresholds=Thresholds(**values), silence=keys)


def _bindable(host: str) -> bool:
    """True for an IP address or ``localhost``: what the health endpoint can bind."""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_config(
    data: Mapping[str, Any],
    *,
    source: str = "<config>",
    base: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentConfig:
    """The config in ``data`` (a parsed TOML document), with ``TRACELENS_*`` overrides.

    Raises
    ------
    ConfigError
        Listing every problem found.
    """
    env = os.environ if environ is None else environ
    problems: list[ConfigProblem] = []
    reader = _Reader(source, problems)
    for key in data:
        if key not in SECTIONS:
            reader.problem(f"[{key}]", _unknown(key, SECTIONS))
    store_url = settings.get(settings.STORE, env) or _store(reader, data, base)
    config = AgentConfig(
        aws=_aws(reader, data, env),
        store_url=store_url,
        collect=_collect(reader, data),
        retry=_retry(reader, data),
        collectors=_collectors(reader, data),
        report=_report(reader, data, base),
        daemon=_daemon(reader, data, base, env),
        alerts=_alerts(reader, data, env),
        findings=_findings(reader, data),
        source=source,
    )
    if problems:
        raise ConfigError(problems, partial=config)
    return config


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """The config in ``path`` (default: ``$TRACELENS_CONFIG``; none: every default).

    Raises
    ------
    ConfigError
        When the file cannot be read, is not TOML, or has any invalid setting (all listed).
    """
    env = os.environ if environ is None else environ
    named = path if path is not None else settings.get(settings.CONFIG, env)
    if named is None:
        return parse_config({}, source="<defaults>", base=None, environ=env)
    file = Path(named).expanduser()
    kind = special_file_kind(file)
    if kind is not None:
        problem = f"not a regular file ({kind}): reading it could block; name a TOML file"
        raise ConfigError([ConfigProblem(str(file), problem)])
    try:
        # NOTE: utf-8-sig also reads files that Windows editors saved with a byte order mark.
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = "; copy tracelens.example.toml to start one" if not file.exists() else ""
        raise ConfigError([ConfigProblem(str(file), f"cannot read: {reason}{hint}")]) from exc
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise ConfigError([ConfigProblem(str(file), problem)]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(str(file), f"not valid TOML: {exc}")]) from exc
    return parse_config(data, source=str(file), base=file.parent, environ=env)


def with_region_from_profile(config: AgentConfig) -> AgentConfig:
    """``config`` with the region of its profile (or of the default one) when none is set."""
    if config.aws.region:
        return config
    try:
        region = boto3.Session(profile_name=config.aws.profile).region_name
    except BotoCoreError:
        region = None
    return replace(config, aws=replace(config.aws, region=region)) if region else config


def final_problems(config: AgentConfig) -> list[ConfigProblem]:
    """Problems left once command-line options are applied: no region, an unknown profile."""
    where = config.source or "<config>"
    problems: list[ConfigProblem] = []
    if not config.aws.region:
        problems.append(ConfigProblem(f"{where}: [aws] region", NO_REGION))
    if config.aws.profile:
        try:
            boto3.Session(profile_name=config.aws.profile)
        except BotoCoreError as exc:
            message = f"{exc}; list profiles with `aws configure list-profiles`"
            problems.append(ConfigProblem(f"{where}: [aws] profile", message))
    return problems
