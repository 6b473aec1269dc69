"""The deployment definitions, checked offline: cfn-lint on every CloudFormation template (the
Dask cluster's too: tests/deploy/test_dask_fargate.py deploys it on moto), the
SAM translator on the SAM template, the read-only policy kept equal to
collectors/iam_policy.json, and the container images' essentials."""

from __future__ import annotations

import copy
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from samtranslator.translator.transform import transform

from tests.builders.templates import DASK_FARGATE, DEPLOY, ROOT, load
from tracelens import settings

SAM_TEMPLATE = DEPLOY / "sam" / "template.yaml"
CROSS_ACCOUNT = DEPLOY / "cross-account-role.yaml"
TEMPLATES = [SAM_TEMPLATE, CROSS_ACCOUNT, DASK_FARGATE]
# What `sam build` writes into the built template for an image function.
BUILT_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tracelens:latest"


class NoManagedPolicies:
    """The translator's managed-policy lookup, offline (the template names no AWS managed
    policy by name)."""

    def load(self) -> dict[str, str]:
        return {}


def translated(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = load(SAM_TEMPLATE)
    template["Resources"]["AgentFunction"]["Properties"]["ImageUri"] = BUILT_IMAGE
    result: dict[str, Any] = transform(copy.deepcopy(template), {}, NoManagedPolicies())
    return result


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_finds_nothing(path: Path) -> None:
    matches = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(match) for match in matches] == []


def test_the_sam_template_translates_to_a_scheduled_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources = translated(monkeypatch)["Resources"]
    types = {name: resource["Type"] for name, resource in resources.items()}
    assert types["AgentFunction"] == "AWS::Lambda::Function"
    schedule = resources["AgentFunctionCollect"]
    assert schedule["Type"] == "AWS::Scheduler::Schedule"
    assert schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["AgentFunction", "Arn"]}
    function = resources["AgentFunction"]["Properties"]
    assert function["Timeout"] == 900
    assert function["ReservedConcurrentExecutions"] == 1
    assert function["Code"] == {"ImageUri": BUILT_IMAGE}
    variables = function["Environment"]["Variables"]
    assert set(variables) <= set(settings.ALL)
    assert variables["TRACELENS_STORE"] == {"Fn::Sub": "s3://${StoreBucket}/tracelens"}
    assert types["AlertTopic"] == "AWS::SNS::Topic"
    role = resources["AgentFunctionRole"]["Properties"]
    assert {"Ref": "ReadOnlyPolicy"} in role["ManagedPolicyArns"]


def test_the_store_bucket_is_encrypted_private_and_expires_objects() -> None:
    bucket = load(SAM_TEMPLATE)["Resources"]["StoreBucket"]["Properties"]
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "RetentionDays"}


def shipped_read_only() -> list[dict[str, Any]]:
    policy = json.loads((ROOT / "collectors" / "iam_policy.json").read_text())
    return [s for s in policy["Statement"] if s["Action"] != ["sts:AssumeRole"]]


def as_plain(statement: dict[str, Any]) -> dict[str, Any]:
    def plain(resource: Any) -> Any:
        if isinstance(resource, dict):
            return resource["Fn::Sub"].replace("${AWS::Partition}", "aws")
        return resource

    resource = statement["Resource"]
    if isinstance(resource, list):
        return {**statement, "Resource": [plain(r) for r in resource]}
    return {**statement, "Resource": plain(resource)}


def test_both_templates_grant_exactly_the_shipped_read_only_policy() -> None:
    sam = load(SAM_TEMPLATE)["Resources"]["ReadOnlyPolicy"]["Properties"]["PolicyDocument"]
    (inline,) = load(CROSS_ACCOUNT)["Resources"]["ReaderRole"]["Properties"]["Policies"]
    expected = shipped_read_only()
    assert [as_plain(s) for s in sam["Statement"]] == expected
    assert [as_plain(s) for s in inline["PolicyDocument"]["Statement"]] == expected


def test_the_cross_account_role_requires_the_external_id() -> None:
    template = load(CROSS_ACCOUNT)
    (trust,) = template["Resources"]["ReaderRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    assert template["Parameters"]["ExternalId"]["NoEcho"] is True
    assert template["Parameters"]["ExternalId"]["MinLength"] >= 16
    assert "RoleArn" in template["Outputs"]


def test_the_lambda_image_runs_the_tracelens_handler() -> None:
    text = (DEPLOY / "lambda.Dockerfile").read_text()
    (command,) = re.findall(r'^CMD \["([\w.]+)"\]$', text, flags=re.MULTILINE)
    module, _, name = command.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    metadata = load(SAM_TEMPLATE)["Resources"]["AgentFunction"]["Metadata"]
    assert (SAM_TEMPLATE.parent / metadata["DockerContext"] / metadata["Dockerfile"]).is_file()


def test_the_container_runs_as_a_user_with_a_healthcheck_on_the_health_port() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0"))
    port = re.search(r"TRACELENS_HEALTH_PORT=(\d+)", text)
    assert port is not None
    healthcheck = text[text.index("HEALTHCHECK") :]
    assert f"127.0.0.1:{port.group(1)}/health" in healthcheck
    assert 'ENTRYPOINT ["tracelens"]' in text
