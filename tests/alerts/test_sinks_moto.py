"""Alerts delivered for real: SNS and EventBridge on the local AWS endpoint (each delivering
to an SQS queue the test reads), a webhook on 127.0.0.1, and a presigned link to the report
uploaded next to an S3 store."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.builders.alerts import Receiver
from tests.builders.endpoint import REGION, Aws
from tracelens.agent.aws import AgentClients
from tracelens.agent.config import AgentConfig, AlertSettings, AwsSettings, StoreSettings
from tracelens.alerts.build import build_sinks, report_link
from tracelens.alerts.hook import AlertHook, last_successes_in_store
from tracelens.alerts.notifier import Notifier, state_key
from tracelens.alerts.sinks import EVENT_DETAIL_TYPE, WebhookSink
from tracelens.store import RunRecord, open_store

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CRITICAL = {
    "severity": "critical",
    "kind": "invocation_throttle",
    "subject": "orders <script>",
    "message": "orders: 12 of 40 invocations (30%) were throttled",
    "evidence": json.dumps({"throttled": 12, "invocations": 40}),
    "recommendation": "Raise the reserved concurrency of orders",
    "trace_id": "1-6912a0c0-0123456789abcdef01234567",
    "impact": 12.0,
}


def config_for(aws: Aws, store_url: str, **alerts: object) -> AgentConfig:
    return AgentConfig(
        aws=AwsSettings(account="prod", region=REGION, endpoint_url=aws.url),
        store=StoreSettings(url=store_url),
        alerts=AlertSettings(**alerts),  # type: ignore[arg-type]
    )


def findings(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(
        list(rows), schema={key: pl.String() for key in CRITICAL} | {"impact": pl.Float64()}
    )


def test_sns_eventbridge_and_webhook_each_get_the_alert(
    aws: Aws, webhook: Receiver, tmp_path: Path
) -> None:
    sns = aws.client("sns")
    topic = sns.create_topic(Name="tracelens-alerts")["TopicArn"]
    sns_queue, sns_queue_arn = aws.queue("from-sns")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sns_queue_arn)
    events = aws.client("events")
    events.create_event_bus(Name="ops")
    events.put_rule(
        Name="tracelens-critical",
        EventBusName="ops",
        EventPattern=json.dumps({"source": ["tracelens"], "detail": {"severity": ["critical"]}}),
    )
    bus_queue, bus_queue_arn = aws.queue("from-bus")
    events.put_targets(
        Rule="tracelens-critical", EventBusName="ops", Targets=[{"Id": "q", "Arn": bus_queue_arn}]
    )
    config = config_for(
        aws,
        str(tmp_path / "store"),
        sns_topic_arn=topic,
        webhook_url=webhook.url,
        event_bus="ops",
        report_url="https://reports.example.com/tracelens.html",
    )
    store = open_store(config.store.url)
    hook = AlertHook(config, store, AgentClients(config))

    sent = hook.after_report(findings(CRITICAL), None, now=T0)

    assert [alert.event for alert in sent.sent] == ["new"]
    assert sent.failures == []
    (sns_body,) = aws.received(sns_queue)
    notification = json.loads(sns_body)
    assert notification["Subject"].startswith("tracelens new finding: CRITICAL invocation_throttle")
    assert "12 of 40 invocations (30%) were throttled" in notification["Message"]
    assert "recommendation: Raise the reserved concurrency" in notification["Message"]
    assert "report: https://reports.example.com/tracelens.html" in notification["Message"]
    assert notification["MessageAttributes"]["severity"]["Value"] == "critical"
    (bus_body,) = aws.received(bus_queue)
    event = json.loads(bus_body)
    assert event["detail-type"] == EVENT_DETAIL_TYPE
    assert event["detail"]["evidence"] == {"throttled": 12, "invocations": 40}
    assert event["detail"]["identity"] == "invocation_throttle:orders <script>"
    (posted,) = webhook.bodies
    assert posted["event"] == "new"
    assert posted["report_url"] == "https://reports.example.com/tracelens.html"

    # The same finding in the next report: nothing new. Gone from two reports: resolved.
    assert hook.after_report(findings(CRITICAL), None, now=T0 + timedelta(minutes=15)).sent == []
    assert hook.after_report(findings(), None, now=T0 + timedelta(minutes=30)).sent == []
    resolved = hook.after_report(findings(), None, now=T0 + timedelta(minutes=45))
    assert [alert.event for alert in resolved.sent] == ["resolved"]
    assert len(aws.received(sns_queue)) == 1
    assert store.backend.read_bytes(state_key("prod", REGION))


def test_the_state_is_shared_through_the_store(aws: Aws, webhook: Receiver, tmp_path: Path) -> None:
    config = config_for(aws, str(tmp_path / "store"), webhook_url=webhook.url)
    for _ in range(2):  # two processes (or Lambda invocations) one after the other
        store = open_store(config.store.url)
        AlertHook(config, store, AgentClients(config)).after_report(
            findings(CRITICAL), None, now=T0
        )
    assert len(webhook.bodies) == 1


def test_slack_payload_escapes_trace_text_and_links_the_report(
    aws: Aws, webhook: Receiver, tmp_path: Path
) -> None:
    config = config_for(
        aws,
        str(tmp_path / "store"),
        webhook_url=webhook.url,
        webhook_format="slack",
        report_url="https://reports.example.com/r.html",
    )
    AlertHook(config, open_store(config.store.url), AgentClients(config)).after_report(
        findings(CRITICAL), None, now=T0
    )
    (posted,) = webhook.bodies
    assert set(posted) == {"text"}
    assert "orders &lt;script&gt;" in posted["text"]
    assert "<script>" not in posted["text"]
    assert "<https://reports.example.com/r.html|open the report>" in posted["text"]


def test_a_failed_delivery_is_tried_again_at_the_next_evaluation(
    aws: Aws, webhook: Receiver, tmp_path: Path
) -> None:
    config = config_for(aws, str(tmp_path / "store"), webhook_url=webhook.url)
    hook = AlertHook(config, open_store(config.store.url), AgentClients(config))
    webhook.status = 500
    first = hook.after_report(findings(CRITICAL), None, now=T0)
    assert first.sent == []
    assert first.failures and "HTTP 500" in first.failures[0]
    assert webhook.url not in first.failures[0]  # the URL is a secret: only its host is named
    webhook.status = 200
    second = hook.after_report(findings(CRITICAL), None, now=T0 + timedelta(minutes=15))
    assert [alert.event for alert in second.sent] == ["new"]
    assert webhook.bodies[-1]["at"] == "2026-11-20T12:00:00Z"


def test_on_an_s3_store_the_link_is_a_presigned_url_to_the_uploaded_report(
    aws: Aws, webhook: Receiver, tmp_path: Path
) -> None:
    aws.client("s3").create_bucket(Bucket="tl-store")
    config = config_for(aws, "s3://tl-store/agent", webhook_url=webhook.url)
    clients = AgentClients(config)
    store = open_store(config.store.url, s3_client=clients.client("s3"))
    page = tmp_path / "tracelens-report.html"
    page.write_text("<html><body>the report</body></html>", encoding="utf-8")

    AlertHook(config, store, clients).after_report(findings(CRITICAL), page, now=T0)

    (posted,) = webhook.bodies
    link = posted["report_url"]
    assert link.startswith(aws.url + "/tl-store/agent/reports/prod/us-east-1/")
    assert "Signature" in link or "X-Amz-Signature" in link
    with urllib.request.urlopen(link, timeout=10) as response:
        assert response.read() == page.read_bytes()
        assert response.headers["Content-Type"].startswith("text/html")


def test_stale_collection_alerts_then_recovers(aws: Aws, webhook: Receiver, tmp_path: Path) -> None:
    config = config_for(aws, str(tmp_path / "store"), webhook_url=webhook.url, stale_intervals=2)
    hook = AlertHook(config, open_store(config.store.url), AgentClients(config))
    last = {"lambda": T0, "xray": T0, "cloudwatch": T0, "logs": T0, "spans": T0}
    assert hook.after_cycles(last, since=T0, now=T0 + timedelta(minutes=10)).sent == []
    stale = hook.after_cycles(
        last | {"lambda": T0 + timedelta(minutes=11)}, since=T0, now=T0 + timedelta(minutes=11)
    )
    assert sorted(alert.subject for alert in stale.sent) == ["cloudwatch", "logs", "spans", "xray"]
    assert {alert.event for alert in stale.sent} == {"stale"}
    fresh = {name: T0 + timedelta(minutes=12) for name in last}
    recovered = hook.after_cycles(fresh, since=T0, now=T0 + timedelta(minutes=12))
    assert sorted(alert.event for alert in recovered.sent) == ["recovered"] * 4
    assert "collector succeeded again" in webhook.bodies[-1]["title"] + recovered.sent[0].text()


def test_last_successes_come_from_the_run_records(tmp_path: Path) -> None:
    config = AgentConfig(aws=AwsSettings(account="prod", region=REGION))
    store = open_store(tmp_path / "store")
    store.record_runs(
        [
            RunRecord(
                collector="xray",
                account="prod",
                region=REGION,
                status="ok",
                started_at=T0,
                duration_ms=1,
            ),
            RunRecord(
                collector="xray",
                account="prod",
                region=REGION,
                status="failed",
                started_at=T0 + timedelta(minutes=5),
                duration_ms=1,
            ),
            RunRecord(
                collector="logs",
                account="other",
                region=REGION,
                status="ok",
                started_at=T0,
                duration_ms=1,
            ),
        ]
    )
    found, since = last_successes_in_store(store, config, now=T0 + timedelta(minutes=20))
    assert found["xray"] == T0
    assert found["logs"] is None
    assert since == T0


def test_no_sink_configured_means_no_notifier(aws: Aws, tmp_path: Path) -> None:
    config = config_for(aws, str(tmp_path / "store"))
    hook = AlertHook(config, open_store(config.store.url), AgentClients(config))
    assert not hook.enabled
    assert hook.after_report(findings(CRITICAL), None, now=T0).sent == []


def test_sinks_are_built_from_the_config(aws: Aws, tmp_path: Path) -> None:
    config = config_for(
        aws,
        str(tmp_path),
        webhook_url="https://hooks.slack.com/services/T/B/secret",
        event_bus="default",
    )
    sinks = build_sinks(config, AgentClients(config))
    names = [sink.name for sink in sinks]
    assert names == ["webhook hooks.slack.com (slack)", "eventbridge default"]
    assert all("secret" not in name for name in names)
    assert isinstance(sinks[0], WebhookSink)
    link = report_link(
        replace(config, alerts=replace(config.alerts, report_url=None)),
        open_store(tmp_path),
        None,
        AgentClients(config),
    )
    assert link() is None
    assert isinstance(Notifier, type)


def test_with_several_targets_stale_alerts_and_findings_name_the_target(
    aws: Aws, webhook: Receiver, tmp_path: Path
) -> None:
    from tracelens.agent.config import TargetSettings
    from tracelens.agent.targets_report import TargetResult, TargetSummary, qualified_findings

    config = replace(
        config_for(aws, str(tmp_path / "store"), webhook_url=webhook.url, webhook_format="json"),
        targets=(TargetSettings(label="prod"), TargetSettings(label="dev", region="eu-west-1")),
    )
    store = open_store(config.store.url)
    store.record_runs(
        [
            RunRecord(
                collector=name,
                account="prod",
                region=REGION,
                status="ok",
                started_at=T0,
                duration_ms=1,
            )
            for name in ("lambda", "xray", "cloudwatch", "logs", "spans")
        ]
    )
    hook = AlertHook(config, store, AgentClients(config))
    now = T0 + timedelta(hours=1)

    found, since = last_successes_in_store(store, config, now=now)
    sent = hook.after_cycles(found, since=since - timedelta(hours=1), now=now).sent

    assert found[f"prod/{REGION}/xray"] == T0 and found["dev/eu-west-1/xray"] is None
    stale = {alert.subject for alert in sent}
    assert "dev/eu-west-1/xray" in stale and f"prod/{REGION}/xray" in stale

    rows = findings(CRITICAL)
    summary = TargetSummary(rows, pl.DataFrame(), {"critical": rows.height}, traces=1)
    both = qualified_findings(
        [
            TargetResult("prod", REGION, summary),
            TargetResult("dev", "eu-west-1", summary),
        ]
    )
    assert both is not None
    alerts = hook.after_report(both, None, now=now).sent
    assert sorted(alert.subject for alert in alerts) == [
        "orders <script> (dev/eu-west-1)",
        f"orders <script> (prod/{REGION})",
    ]
