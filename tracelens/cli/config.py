"""``tracelens config check``: validate the agent's config, listing every problem at once."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
from pathlib import Path
from urllib.parse import urlsplit

import click

from analyses.finding_thresholds import Thresholds
from collectors.registry import registration
from collectors.session import AwsTarget
from tracelens import settings
from tracelens.agent.config import AgentConfig, ConfigError, ConfigProblem
from tracelens.cli.collect import config_option
from tracelens.durations import format_duration


def iam_policy_summary() -> str:
    """Where the shipped least-privilege policy is, and how many read-only actions it allows."""
    policy = importlib.resources.files("collectors").joinpath("iam_policy.json")
    document = json.loads(policy.read_text(encoding="utf-8"))
    actions = sorted(
        {action for statement in document["Statement"] for action in statement["Action"]}
    )
    return f"{policy} ({len(actions)} read-only actions: {', '.join(actions)})"


def describe(config: AgentConfig) -> list[str]:
    """The effective config, one setting per line."""
    aws = config.aws
    collect = config.collect
    lines = [
        f"aws:       account {aws.account}, region {aws.region}, "
        f"profile {aws.profile or '(default credential chain)'}"
        + (f", role {aws.role_arn}" if aws.role_arn else "")
        + (f", endpoint {aws.endpoint_url}" if aws.endpoint_url else "")
        if not config.targets
        else f"targets:   {len(config.targets)}",
        *_targets(config),
        f"store:     {config.store.url}",
        f"collect:   first run reads the last {format_duration(collect.since)}, windows of at "
        f"most {format_duration(collect.step)}, functions: "
        + (", ".join(collect.functions) if collect.functions else "every function listed"),
    ]
    for settings_ in config.collectors:
        line = f"  {settings_.name:<10} "
        if not settings_.enabled:
            lines.append(f"{line}disabled")
            continue
        line += f"every {format_duration(settings_.interval)}, "
        line += f"timeout {format_duration(settings_.timeout)}"
        if registration(settings_.name).windows:
            line += f", lag {format_duration(settings_.lag)}"
        lines.append(line)
    report = config.report
    lines.append(
        f"report:    {report.path} every {format_duration(report.interval)}, last "
        f"{format_duration(report.since)}"
        if report.enabled
        else "report:    disabled"
    )
    port = config.daemon.health_port
    lines.append(
        f"status:    {config.daemon.status_file}; health endpoint "
        + (f"http://{config.daemon.health_host}:{port}/health" if port else "off")
    )
    metrics = config.daemon.metrics_port
    lines.append(
        "metrics:   "
        + (f"http://{config.daemon.metrics_address}:{metrics}/metrics" if metrics else "off")
    )
    lines.append(f"retry:     {config.retry.mode}, {config.retry.max_attempts} attempts per call")
    lines.append(f"engine:    {_engine(config)}")
    lines.append(f"alerts:    {describe_alerts(config)}")
    lines.append(f"findings:  {_findings_summary(config)}")
    overriding = [name for name in settings.ALL if settings.get(name) is not None]
    if overriding:
        lines.append(f"environment overrides: {', '.join(overriding)}")
    lines.append(f"IAM:       the agent only reads; minimal policy {iam_policy_summary()}")
    lines.append("           for this config's own policy run `tracelens config iam-policy`")
    return lines


def _targets(config: AgentConfig) -> list[str]:
    """One line per ``[[targets]]`` entry: label, region, credentials, collectors."""
    every = [settings.name for settings in config.enabled_collectors]
    lines = []
    for target in config.collect_targets() if config.targets else ():
        aws = target.aws
        lines.append(
            f"  {target.account} ({target.region}): "
            + (f"role {aws.role_arn}" if aws.role_arn else "the agent's own credentials")
            + (" with an external id" if aws.external_id else "")
            + (f", profile {aws.profile}" if aws.profile else "")
            + (f", endpoint {aws.endpoint_url}" if aws.endpoint_url else "")
            + (
                f"; collectors {', '.join(target.collectors)}"
                if list(target.collectors) != every
                else ""
            )
        )
    return lines


def _engine(config: AgentConfig) -> str:
    """Where ``store rollup`` (and ``store summary --engine``) compute their partitions."""
    engine = config.engine
    where = engine.name + (f" at {engine.address}" if engine.address else "")
    workers = f"{engine.workers} workers" if engine.workers else "a worker per CPU"
    if engine.name == "local":
        workers = "this process"
    elif engine.name == "dask" and engine.address:
        workers = "the cluster's workers"
    return f"store rollup on {where} ({workers}), a task per {engine.split}"


def describe_alerts(config: AgentConfig) -> str:
    """Where alerts go and when (the webhook by its host only: its URL is a credential)."""
    alerts = config.alerts
    if not alerts.enabled:
        return "off (set [alerts] sns_topic_arn, webhook_url or event_bus)"
    sinks = []
    if alerts.sns_topic_arn:
        sinks.append(f"SNS {alerts.sns_topic_arn}")
    if alerts.webhook_url:
        sinks.append(f"webhook {urlsplit(alerts.webhook_url).hostname} ({alerts.webhook_format})")
    if alerts.event_bus:
        sinks.append(f"EventBridge {alerts.event_bus}")
    return (
        f"{', '.join(sinks)}; {alerts.min_severity} and above, cooldown "
        f"{format_duration(alerts.cooldown)}, resolved after {alerts.resolve_after} report(s), "
        f"stale after {alerts.stale_intervals} intervals"
    )


@click.group()
def config() -> None:
    """The agent's config file (see tracelens.example.toml)."""


@config.command()
@config_option()
@click.option(
    "--probe",
    is_flag=True,
    help="Also ask AWS where the account/region sends its traces (X-Ray "
    "GetTraceSegmentDestination): Transaction Search (spans in aws/spans) or X-Ray.",
)
def check(config_path: Path | None, probe: bool) -> None:
    """Validate the config and print every problem at once (exit 1 if there is any), or the
    effective settings. The agent needs read-only AWS access: the minimal IAM policy is
    collectors/iam_policy.json."""
    from tracelens.agent.config_file import final_problems, load_config, with_region_from_profile

    try:
        loaded = load_config(config_path)
        problems: list[ConfigProblem] = []
    except ConfigError as exc:
        if exc.partial is None:
            loaded, problems = None, list(exc.problems)
        else:
            loaded, problems = exc.partial, list(exc.problems)
    if loaded is not None:
        loaded = with_region_from_profile(loaded)
        problems += final_problems(loaded)
    if problems or loaded is None:
        for problem in problems:
            click.echo(f"error: {problem.describe()}", err=True)
        click.echo(f"{len(problems)} problem(s) in the config; fix them and run again", err=True)
        raise SystemExit(1)
    click.echo(f"config {loaded.source}: ok")
    for line in describe(loaded):
        click.echo(line)
    if probe:
        for target in loaded.collect_targets():
            click.echo(f"traces:    {trace_destination(loaded, target.aws)}")


@config.command("iam-policy")
@config_option()
@click.option(
    "--principal",
    type=click.Choice(["agent", "role"]),
    default="agent",
    show_default=True,
    help="The agent's own principal (its user, instance, task or function role), or the "
    "role it assumes ([aws] role_arn, or the [[targets]] roles: one policy for each).",
)
def iam_policy(config_path: Path | None, principal: str) -> None:
    """Print the least-privilege IAM policy for the config: the collectors' read-only calls,
    the S3 store's calls on its bucket and prefix, publishing alerts, and sts:AssumeRole on
    the configured roles only ([aws] role_arn, or every [[targets]] role_arn). With a role,
    the agent's and the role's policies are printed separately (--principal)."""
    from tracelens.agent.config_file import load_config
    from tracelens.agent.iam import policies_for

    try:
        loaded = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    policies = policies_for(loaded)
    if principal == "role":
        if policies.role is None:
            raise click.UsageError(
                "the config assumes no role (neither [aws] role_arn nor a [[targets]] role_arn "
                "is set)"
            )
        document = policies.role
    else:
        document = policies.agent
    click.echo(json.dumps(document, indent=2))


def _findings_summary(config: AgentConfig) -> str:
    """The thresholds that differ from their defaults, and the silenced keys."""
    chosen = config.findings
    defaults = Thresholds()
    changed = [
        f"{field.name} = {getattr(chosen.thresholds, field.name)!r}"
        for field in dataclasses.fields(Thresholds)
        if getattr(chosen.thresholds, field.name) != getattr(defaults, field.name)
    ]
    text = ", ".join(changed) if changed else "default thresholds"
    if chosen.silence:
        text += f"; silenced: {', '.join(chosen.silence)}"
    return text


def trace_destination(config: AgentConfig, target: AwsTarget | None = None) -> str:
    """Where the configured account/region (``target``, default ``[aws]``) sends its traces,
    or why that is unknown."""
    from botocore.exceptions import BotoCoreError

    from collectors.session import ClientFactory
    from collectors.spans import CLOUDWATCH_LOGS, Destination, describe_destination

    target = target or config.aws.target()
    declared = next((c.destination for c in config.collectors if c.name == "spans"), None)
    if declared is not None:
        destination = Destination(
            "cloudwatch-logs" if declared == CLOUDWATCH_LOGS else "xray", declared=True
        )
        return f"{target.account} ({target.region}): {destination.describe()}"
    try:
        xray = ClientFactory(target, retry=config.retry).xray()
        where = describe_destination(xray, retry=config.retry)
    except (BotoCoreError, ValueError) as exc:
        where = f"unknown ({type(exc).__name__}: {exc})"
    return f"{target.account} ({target.region}): {where}"
