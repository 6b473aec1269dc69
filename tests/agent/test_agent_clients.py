"""The clients of the agent's own calls (store, alerts): the configured session, with the
role only when role_scope says so (local AWS endpoint)."""

from __future__ import annotations

import pytest

from tests.builders.endpoint import REGION, Aws
from tracelens.agent.aws import AgentClients
from tracelens.agent.config import AgentConfig, AwsSettings

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/tracelens-reader"


@pytest.mark.parametrize(("scope", "assumed"), [("collect", False), ("all", True)])
def test_the_role_is_assumed_for_the_store_and_alerts_only_when_scoped_so(
    aws: Aws, scope: str, assumed: bool
) -> None:
    config = AgentConfig(
        aws=AwsSettings(
            account="prod",
            region=REGION,
            role_arn=ROLE,
            external_id="a-shared-secret-1234",
            endpoint_url=aws.url,
            role_scope=scope,  # type: ignore[arg-type]
        )
    )
    identity = AgentClients(config).client("sts").get_caller_identity()
    assert (":assumed-role/tracelens-reader/" in identity["Arn"]) is assumed
