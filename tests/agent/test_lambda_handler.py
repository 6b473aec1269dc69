"""The Lambda handler against the local AWS endpoint: one collection cycle into an S3 store,
the report uploaded next to it, alerts to SNS; and the deadline Lambda imposes."""

from __future__ import annotations

import html
import json
import logging
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.builders.agent import FAST_CONFIG, STAGING, AssumedAws, seed_world, utc_now
from tests.builders.endpoint import Aws
from tracelens import aws_lambda
from tracelens.agent.config import ConfigError
from tracelens.store import open_store

pytestmark = pytest.mark.integration
BUCKET = "tracelens-store"


@dataclass
class Context:
    """Lambda's context object: the time left."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def queue_for_topic(aws: Aws, topic: str) -> str:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The handler configures logging as Lambda would; put the test run's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def lambda_env(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The function's environment as the SAM template sets it; returns the SNS topic."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    topic = aws.client("sns").create_topic(Name="tracelens-alerts")["TopicArn"]
    config = tmp_path / "tracelens.toml"
    config.write_text(FAST_CONFIG.replace("[aws]\n", f'[aws]\nendpoint_url = "{aws.url}"\n'))
    monkeypatch.setenv("TRACELENS_CONFIG", str(config))
    monkeypatch.setenv("TRACELENS_STORE", f"s3://{BUCKET}/agent")
    monkeypatch.setenv("TRACELENS_ACCOUNT", "prod")
    monkeypatch.setenv("TRACELENS_SNS_TOPIC", topic)
    return topic


def test_one_invocation_collects_reports_and_alerts(aws: Aws, lambda_env: str) -> None:
    world = seed_world(aws, now=utc_now())
    queue = queue_for_topic(aws, lambda_env)

    summary = aws_lambda.handler({}, Context(remaining_ms=900_000))

    statuses = {row["collector"]: row["status"] for row in summary["collectors"]}
    # spans: the destination is declared X-Ray (FAST_CONFIG), so nothing is read from aws/spans
    assert statuses == {
        "lambda": "ok",
        "xray": "ok",
        "cloudwatch": "ok",
        "logs": "ok",
        "spans": "ok",
    }
    assert summary["store"] == f"s3://{BUCKET}/agent"
    report = summary["report"]
    assert report["written"], report
    with urllib.request.urlopen(report["url"], timeout=10) as response:
        assert b"<html" in response.read(2000).lower()
    assert report["findings"].get("critical", 0) >= 1
    messages = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(message["Body"]) for message in messages]
    assert summary["alerts"] == {"sent": len(bodies), "failures": []}
    assert any("report: " + report["url"] in body["Message"] for body in bodies)
    # The same data as `collect --once` would store: every seeded trace is in the store.
    s3 = aws.client("s3")
    store = open_store(f"s3://{BUCKET}/agent", s3_client=s3)
    runs, problems = store.runs()
    assert not problems
    assert {run.collector for run in runs} == {"lambda", "xray", "cloudwatch", "logs", "spans"}
    assert len(world.trace_ids) == 36

    # A second invocation: nothing new to say.
    again = aws_lambda.handler({}, Context(remaining_ms=900_000))
    assert again["alerts"]["sent"] == 0


def test_without_time_left_no_collector_starts_and_the_invocation_fails(
    aws: Aws, lambda_env: str
) -> None:
    with pytest.raises(aws_lambda.CollectionFailedError, match="every collector failed"):
        aws_lambda.handler(
            {}, Context(remaining_ms=int(aws_lambda.REPORT_RESERVE.total_seconds() * 1000))
        )
    store = open_store(f"s3://{BUCKET}/agent", s3_client=aws.client("s3"))
    assert store.checkpoints()[0] == []


def test_a_local_store_is_refused(
    aws: Aws, lambda_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELENS_STORE", "/tmp/store")
    with pytest.raises(ConfigError, match="TRACELENS_STORE=s3://"):
        aws_lambda.handler({}, Context(remaining_ms=900_000))


def test_one_invocation_collects_every_target_and_links_each_report(
    aws: Aws, lambda_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = utc_now()
    prod = seed_world(aws, now=now, traces=12)
    staging = seed_world(AssumedAws(aws.url), now=now, traces=6)
    config = tmp_path / "targets.toml"
    config.write_text(
        FAST_CONFIG.replace('account = "test"\n', "").replace(
            "[aws]\n", f'[aws]\nendpoint_url = "{aws.url}"\n'
        )
        + '\n[[targets]]\nlabel = "prod"\nregion = "us-east-1"\n\n'
        + STAGING
    )
    monkeypatch.setenv("TRACELENS_CONFIG", str(config))
    monkeypatch.delenv("TRACELENS_ACCOUNT")

    summary = aws_lambda.handler({}, Context(remaining_ms=900_000))

    assert summary["targets"] == ["prod/us-east-1", "staging/eu-west-1"]
    done = {
        (row["account"], row["region"], row["collector"]): row["status"]
        for row in summary["collectors"]
    }
    assert done[("prod", "us-east-1", "xray")] == done[("staging", "eu-west-1", "xray")] == "ok"
    with urllib.request.urlopen(summary["report"]["url"], timeout=10) as response:
        page = response.read().decode()
    assert "/reports/targets/all/" in summary["report"]["url"]
    links = re.findall(r'href="([^"]+)"', page)
    assert len(links) == 2
    for link, world in zip(links, (prod, staging), strict=True):
        with urllib.request.urlopen(html.unescape(link), timeout=10) as response:
            own = response.read().decode()
        assert f"{len(world.trace_ids)} traces" in own or f"{len(world.trace_ids):,}" in own


def test_one_declared_target_uploads_its_report_under_its_own_name(
    aws: Aws, lambda_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_world(aws, now=utc_now(), traces=6)
    config = tmp_path / "one-target.toml"
    config.write_text(
        FAST_CONFIG.replace('account = "test"\n', "").replace(
            "[aws]\n", f'[aws]\nendpoint_url = "{aws.url}"\n'
        )
        + '\n[[targets]]\nlabel = "prod"\nregion = "us-east-1"\n'
    )
    monkeypatch.setenv("TRACELENS_CONFIG", str(config))
    monkeypatch.delenv("TRACELENS_ACCOUNT")

    summary = aws_lambda.handler({}, Context(remaining_ms=900_000))

    assert summary["report"]["written"], summary["report"]
    assert "/reports/prod/us-east-1/" in summary["report"]["url"]
