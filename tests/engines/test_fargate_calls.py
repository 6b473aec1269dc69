"""The CloudFormation calls `tracelens engine up` makes, recorded on moto's CloudFormation over
HTTP: a creation and an update each read the stack once after waiting (the waiter's last
DescribeStacks gives the address) and take the parameters' defaults from the packaged template
(no GetTemplateSummary)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders.endpoint import Aws, recorded_calls
from tracelens.engines.fargate import ClusterSpec, deploy, template_body, template_defaults

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tracelens-dask:0.1.0"
ADDRESS = "tcp://scheduler.lake-dask.tracelens.internal:8786"

pytestmark = [
    pytest.mark.integration,
    # NOTE: moto does not model Cloud Map in CloudFormation and says so for each stack
    pytest.mark.filterwarnings("ignore::UserWarning:moto.cloudformation.parsing"),
]


def test_up_creates_and_updates_with_no_call_it_can_do_without(aws: Aws) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{n}.0/24")["Subnet"]["SubnetId"]
        for n in (1, 2)
    )
    cloudformation = aws.client("cloudformation")
    calls = recorded_calls(cloudformation)

    def up(spec: ClusterSpec) -> str:
        return deploy(
            cloudformation, ec2, "lake-dask", spec, progress=lambda _: None, sleep=lambda _: None
        )

    created = up(ClusterSpec(lake="s3://my-lake/tracelens", image=IMAGE, subnets=subnets))

    assert created == ADDRESS
    # Before: a second DescribeStacks after the one that saw CREATE_COMPLETE.
    assert calls == ["DescribeStacks", "CreateStack", "DescribeStackEvents", "DescribeStacks"]
    calls.clear()

    assert up(ClusterSpec(workers=5)) == ADDRESS
    # Before: GetTemplateSummary ahead of UpdateStack, and DescribeStacks once more at the end.
    assert calls == [
        "DescribeStacks",
        "DescribeStackEvents",
        "UpdateStack",
        "DescribeStackEvents",
        "DescribeStacks",
    ]
    (stack,) = aws.client("cloudformation").describe_stacks(StackName="lake-dask")["Stacks"]
    kept = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert kept["WorkerCount"] == "5" and kept["Image"] == IMAGE


def test_the_documented_deploying_policy_grants_the_stack_calls_and_no_more() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text()
    section = text.split("### The deploying identity's permissions", 1)[1]
    policy = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    actions = [statement["Action"] for statement in policy["Statement"]]
    granted = {
        action
        for listed in actions
        for action in ([listed] if isinstance(listed, str) else listed)
        if action.startswith("cloudformation:")
    }
    # up: DescribeStacks, DescribeStackEvents, CreateStack, UpdateStack; down: DeleteStack
    assert granted == {
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
    }


def test_the_templates_defaults_are_those_cloudformation_reads_from_it(aws: Aws) -> None:
    summary = aws.client("cloudformation").get_template_summary(TemplateBody=template_body())
    read = {p["ParameterKey"]: p.get("DefaultValue") for p in summary["Parameters"]}
    assert template_defaults() == read
    assert template_defaults()["WorkerCount"] == "2"  # a Number's default, as text
