"""Credentials and permissions: the S3 store goes through the configured session (endpoint,
retry settings), and `tracelens config iam-policy` prints a least-privilege policy that covers
every S3 call of the store and assumes only the configured role."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.builders.agent import FAST_CONFIG, invoke
from tests.builders.endpoint import Aws
from tracelens.agent.config import AgentConfig, AlertSettings, AwsSettings, StoreSettings
from tracelens.agent.iam import STORE_LIST_ACTIONS, STORE_OBJECT_ACTIONS, policies_for

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::222222222222:role/tracelens-reader"
TOPIC = "arn:aws:sns:eu-west-1:111111111111:tracelens-alerts"
# The boto3 operations the store and the report upload call, as IAM actions.
S3_OPERATIONS = {
    "get_object": "s3:GetObject",
    "put_object": "s3:PutObject",
    "delete_object": "s3:DeleteObject",
    "list_objects_v2": "s3:ListBucket",
    "generate_presigned_url": "s3:GetObject",
}


def actions(document: dict[str, object]) -> set[str]:
    return {a for s in document["Statement"] for a in s["Action"]}  # type: ignore[attr-defined, index]


def config(**aws: object) -> AgentConfig:
    return AgentConfig(
        aws=AwsSettings(account="prod", region="eu-west-1", **aws),  # type: ignore[arg-type]
        store=StoreSettings(url="s3://tl-store/agent"),
        alerts=AlertSettings(sns_topic_arn=TOPIC, event_bus="ops"),
    )


def test_every_s3_call_of_the_store_is_in_the_policy() -> None:
    called: set[str] = set()
    for path in (ROOT / "tracelens/store/s3.py", ROOT / "tracelens/alerts/build.py"):
        text = path.read_text()
        called |= set(
            re.findall(r"\.(\w+)\(\s*\n?\s*(?:Bucket=|\"get_object\"|\"list_objects_v2\")", text)
        )
        called |= set(re.findall(r'get_paginator\("(\w+)"\)', text))
    called &= set(S3_OPERATIONS)
    assert called == set(S3_OPERATIONS)
    needed = {S3_OPERATIONS[name] for name in called}
    assert needed <= set(STORE_OBJECT_ACTIONS) | set(STORE_LIST_ACTIONS)


def test_without_a_role_one_policy_reads_stores_and_alerts() -> None:
    policies = policies_for(config())
    assert policies.role is None
    statements = {s["Sid"]: s for s in policies.agent["Statement"]}
    assert statements["StoreObjects"]["Resource"] == "arn:aws:s3:::tl-store/agent/*"
    assert statements["ListStore"]["Condition"] == {
        "StringLike": {"s3:prefix": ["agent", "agent/*"]}
    }
    assert statements["PublishAlerts"]["Resource"] == TOPIC
    assert statements["PutAlertEvents"]["Resource"] == "arn:aws:events:eu-west-1:*:event-bus/ops"
    assert "sts:AssumeRole" not in actions(policies.agent)
    assert "xray:BatchGetTraces" in actions(policies.agent)


def test_with_a_role_it_is_the_only_role_assumed_and_the_reads_are_the_roles() -> None:
    policies = policies_for(config(role_arn=ROLE))
    assert policies.role is not None
    (assume,) = [s for s in policies.agent["Statement"] if "sts:AssumeRole" in s["Action"]]
    assert assume["Resource"] == ROLE
    assert "xray:GetTraceSummaries" not in actions(policies.agent)
    assert "s3:PutObject" in actions(policies.agent)
    assert actions(policies.role) == actions(policies.role) - {"s3:PutObject", "sns:Publish"}
    assert "xray:GetTraceSummaries" in actions(policies.role)
    everything = json.dumps([policies.agent, policies.role])
    assert ":role/*" not in everything

    shared = policies_for(config(role_arn=ROLE, role_scope="all"))
    assert shared.role is not None
    assert actions(shared.agent) == {"sts:AssumeRole"}
    assert {"s3:PutObject", "sns:Publish", "xray:BatchGetTraces"} <= actions(shared.role)


def test_iam_policy_command_prints_the_documents(tmp_path: Path) -> None:
    path = tmp_path / "tracelens.toml"
    path.write_text(
        f'[aws]\nregion = "eu-west-1"\nrole_arn = "{ROLE}"\n[store]\nurl = "s3://tl-store/agent"\n'
    )
    agent = invoke("config", "iam-policy", "--config", str(path))
    assert agent.exit_code == 0, agent.output
    assert (
        json.loads(agent.stdout)
        == policies_for(
            AgentConfig(
                aws=AwsSettings(region="eu-west-1", role_arn=ROLE),
                store=StoreSettings(url="s3://tl-store/agent"),
            )
        ).agent
    )
    role = invoke("config", "iam-policy", "--config", str(path), "--principal", "role")
    assert "logs:StartQuery" in role.stdout
    path.write_text('[aws]\nregion = "eu-west-1"\n')
    refused = invoke("config", "iam-policy", "--config", str(path), "--principal", "role")
    assert refused.exit_code == 2
    assert "assumes no role" in refused.output


@pytest.mark.integration
def test_collect_writes_an_s3_store_through_the_configured_endpoint(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NOTE: no AWS_ENDPOINT_URL: only the config names the local endpoint. A store client
    # from a default session would go to AWS itself and fail.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.client("s3").create_bucket(Bucket="tl-store")
    path = tmp_path / "tracelens.toml"
    text = FAST_CONFIG.replace("[aws]\n", f'[aws]\nendpoint_url = "{aws.url}"\n')
    for name in ("xray", "cloudwatch", "logs"):
        text = text.replace(f"[collectors.{name}]\n", f"[collectors.{name}]\nenabled = false\n")
    path.write_text(text + '\n[store]\nurl = "s3://tl-store/agent"\n')
    result = invoke("collect", "--once", "--config", str(path), "-q")
    assert result.exit_code == 0, result.output
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket="tl-store")["Contents"]]
    assert any(
        key.startswith("agent/checkpoints/") or key.startswith("agent/runs/") for key in keys
    )


def test_the_store_client_carries_the_retry_settings(aws: Aws) -> None:
    from tracelens.agent.aws import AgentClients, open_agent_store
    from tracelens.store.s3 import S3Backend

    cfg = config(endpoint_url=aws.url)
    store = open_agent_store(cfg, AgentClients(cfg))
    backend = store.backend
    assert isinstance(backend, S3Backend)
    client = backend.client
    assert client.meta.endpoint_url == aws.url
    assert client.meta.config.retries["total_max_attempts"] == cfg.retry.max_attempts
    assert client.meta.config.connect_timeout == cfg.retry.connect_timeout_s
