"""ClientFactory against moto: explicit endpoints, AWS_ENDPOINT_URL, assumed roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.session import AwsTarget, ClientFactory
from tests.builders.endpoint import REGION, TEST_RETRY, Aws

pytestmark = pytest.mark.integration

ROLE_ARN = "arn:aws:iam::210987654321:role/tracelens-reader"


def test_an_assumed_role_signs_the_clients_requests(aws: Aws) -> None:
    target = AwsTarget(
        account="workloads",
        region=REGION,
        role_arn=ROLE_ARN,
        external_id="tracelens-ext-1",
        endpoint_url=aws.url,
    )
    factory = ClientFactory(target, retry=TEST_RETRY)

    session = factory.session()
    credentials = session.get_credentials()
    assert credentials is not None
    frozen = credentials.get_frozen_credentials()
    identity = session.client("sts", endpoint_url=aws.url).get_caller_identity()

    assert frozen.access_key != "testing"  # the role's, not the source's
    assert identity["Arn"] == "arn:aws:sts::210987654321:assumed-role/tracelens-reader/tracelens"
    now = datetime.now(UTC)
    xray = factory.xray()
    summaries = xray.get_trace_summaries(StartTime=now - timedelta(minutes=5), EndTime=now)
    assert summaries["TraceSummaries"] == []


def test_aws_endpoint_url_from_the_environment_is_honoured(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    factory = ClientFactory(AwsTarget(account="local", region=REGION), retry=TEST_RETRY)

    logs = factory.logs()

    assert logs.meta.endpoint_url == aws.url
    assert logs.describe_log_groups()["logGroups"] == []


def test_clients_carry_the_retry_settings(aws: Aws) -> None:
    client = aws.factory().cloudwatch()

    retries = client.meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": 2}
    assert client.meta.endpoint_url == aws.url
