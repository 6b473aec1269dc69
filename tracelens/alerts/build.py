"""Sinks and report links from the configuration."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from tracelens.agent.aws import AgentClients
from tracelens.agent.config import AgentConfig, AwsSettings
from tracelens.alerts.notifier import Notifier, ReportLink
from tracelens.alerts.sinks import EventBridgeSink, Sink, SnsSink, WebhookSink
from tracelens.store import Store
from tracelens.store.s3 import parse_s3_url

REPORTS_PREFIX = "reports"


def build_sinks(config: AgentConfig, clients: AgentClients) -> list[Sink]:
    """The sinks ``[alerts]`` names (no client is made for a sink not configured)."""
    settings = config.alerts
    sinks: list[Sink] = []
    if settings.sns_topic_arn:
        sinks.append(SnsSink(clients.client("sns"), settings.sns_topic_arn))
    if settings.webhook_url:
        sinks.append(WebhookSink(settings.webhook_url, shape=settings.webhook_format))
    if settings.event_bus:
        sinks.append(EventBridgeSink(clients.client("events"), settings.event_bus))
    return sinks


def build_notifier(config: AgentConfig, store: Store, clients: AgentClients) -> Notifier | None:
    """The notifier for ``config``, or None when no sink is configured."""
    if not config.alerts.enabled:
        return None
    return Notifier(
        config.alerts,
        store,
        build_sinks(config, clients),
        # NOTE: with several targets each alert's subject names its target; these name the
        # alert state (a store key) and the title's "(account, region)".
        account=ALL_ACCOUNTS if len(config.targets) > 1 else _first(config).account,
        region=ALL_REGIONS if len(config.targets) > 1 else _first(config).region or "",
    )


ALL_ACCOUNTS, ALL_REGIONS = "all-targets", "all-regions"


def _first(config: AgentConfig) -> AwsSettings:
    """``[aws]``, with the one target's label and region when ``[[targets]]`` has one."""
    if not config.targets:
        return replace(config.aws, region=config.aws.region or "")
    target = config.targets[0]
    return replace(config.aws, account=target.label, region=target.region or config.aws.region)


def report_link(
    config: AgentConfig, store: Store, path: Path | None, clients: AgentClients
) -> ReportLink:
    """How alerts link to the report.

    ``[alerts] report_url`` when set; else, for a store on S3, the report uploaded next to
    the store (``<prefix>/reports/<account>/<region>/<file>``) with a presigned GET URL;
    else the report's local path (None when no report was written).
    """
    settings = config.alerts

    def make() -> str | None:
        if settings.report_url:
            return settings.report_url
        if path is None or not path.is_file():
            return None
        if not store.url.startswith("s3://"):
            return str(path.resolve())
        return upload_and_presign(
            clients,
            store.url,
            path,
            config.aws.account,
            config.aws.region or "unknown",
            expiry=settings.link_expiry,
        )

    return make


def upload_and_presign(
    clients: AgentClients,
    store_url: str,
    path: Path,
    account: str,
    region: str,
    *,
    expiry: timedelta,
) -> str:
    """Upload the report at ``path`` next to the store and return a presigned GET URL.

    A presigned URL works for ``expiry`` at most, and no longer than the credentials that
    signed it (an assumed role's session, a Lambda function's role: a few hours).
    """
    bucket, prefix = parse_s3_url(store_url)
    key = "/".join(part for part in (prefix, REPORTS_PREFIX, account, region, path.name) if part)
    s3 = clients.client("s3")
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=path.read_bytes(),
        ContentType="text/html; charset=utf-8",
    )
    url: str = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=int(expiry.total_seconds()),
    )
    return url
