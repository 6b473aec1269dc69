"""Sessions, settings, windows and the shipped IAM policy (the role assumption with botocore's Stubber: moto's STS ignores the external id)."""

from __future__ import annotations

import importlib.resources
import json
import re
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import collectors
from collectors.base import RetrySettings, Window
from collectors.session import AwsTarget, ClientFactory
from tests.builders.stubbed import T0, stubbed_client


class _SourceSession:
    """A source session whose STS client is stubbed (no credentials chain, no network)."""

    def __init__(self, sts_stub_setup: Any) -> None:
        self.sts = stubbed_client("sts")
        self.stub = Stubber(self.sts)
        sts_stub_setup(self.stub)
        self.stub.activate()

    def get_credentials(self) -> Any:
        return boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        ).get_credentials()

    def client(self, service: str, **_: Any) -> Any:
        assert service == "sts"
        return self.sts


def test_the_role_is_assumed_with_the_external_id_on_first_use() -> None:
    def expect(stub: Stubber) -> None:
        stub.add_response(
            "assume_role",
            {
                "Credentials": {
                    "AccessKeyId": "ASIAROLEKEY123456",
                    "SecretAccessKey": "s",
                    "SessionToken": "t",
                    "Expiration": T0 + timedelta(days=3650),
                }
            },
            {
                "RoleArn": "arn:aws:iam::2:role/reader",
                "RoleSessionName": "tracelens",
                "ExternalId": "ext-42",
            },
        )

    source = _SourceSession(expect)
    target = AwsTarget(
        account="b", region="eu-west-1", role_arn="arn:aws:iam::2:role/reader", external_id="ext-42"
    )
    factory = ClientFactory(target, session=source)  # type: ignore[arg-type]

    credentials = factory.session().get_credentials()

    assert credentials is not None
    assert credentials.get_frozen_credentials().access_key == "ASIAROLEKEY123456"
    source.stub.assert_no_pending_responses()
    assert "ext-42" not in repr(target)


def test_targets_and_settings_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="external_id without role_arn"):
        AwsTarget(account="a", region="us-east-1", external_id="x")
    with pytest.raises(ValueError, match="no region"):
        AwsTarget(account="a", region="")
    config = RetrySettings(mode="adaptive", max_attempts=4).botocore_config()
    assert config.retries == {  # type: ignore[attr-defined]
        "mode": "adaptive",
        "total_max_attempts": 4,
    }


def test_windows_split_and_halve_exactly() -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        Window(datetime(2024, 1, 1), datetime(2024, 1, 2))
    with pytest.raises(ValueError, match="must be after start"):
        Window(T0, T0)
    parts = Window(T0, T0 + timedelta(minutes=150)).split(timedelta(hours=1))
    assert [p.span for p in parts] == [
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(minutes=30),
    ]
    assert Window(T0, T0 + timedelta(seconds=5)).halves()[0].end == T0 + timedelta(seconds=2)


def test_the_shipped_policy_allows_every_call_and_nothing_that_writes() -> None:
    text = importlib.resources.files("collectors").joinpath(collectors.IAM_POLICY_FILE).read_text()
    policy = json.loads(text)
    allowed = {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
    }
    read_only = re.compile(r"^[a-z0-9-]+:(Get|List|BatchGet|Describe)[A-Za-z]+$")
    # Insights queries only read logs; AssumeRole only obtains credentials to read with.
    known_reads = {"logs:StartQuery", "logs:StopQuery", "logs:FilterLogEvents", "sts:AssumeRole"}

    assert allowed >= collectors.API_CALLS
    assert allowed <= collectors.API_CALLS
    assert all(read_only.match(a) or a in known_reads for a in allowed)
    assert not any("*" in action for action in allowed)
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])
