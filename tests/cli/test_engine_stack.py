"""`tracelens engine up/address/down` against moto's CloudFormation, ECS and EC2 over HTTP:
create, scale, read the address, delete; and the errors that name the fix.

moto runs no container: the stack's services exist with their desired counts but no task
starts, so the address is the stack's output only (tests/deploy/test_dask_fargate.py runs the
template's Dask commands and health checks locally)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.builders.endpoint import REGION, Aws
from tracelens.cli import main

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tracelens-dask:0.1.0"
ADDRESS = "tcp://scheduler.lake-dask.tracelens.internal:8786"

pytestmark = [
    pytest.mark.integration,
    # NOTE: moto does not model Cloud Map in CloudFormation and says so for each stack
    pytest.mark.filterwarnings("ignore::UserWarning:moto.cloudformation.parsing"),
]


def engine(aws: Aws, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(
        main,
        ["engine", *args, "--stack", "lake-dask", "--endpoint-url", aws.url, "--region", REGION],
        env=env,
        catch_exceptions=False,
    )


def subnets(aws: Aws) -> tuple[str, str]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    found = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{n}.0/24")["Subnet"]["SubnetId"]
        for n in (1, 2)
    ]
    return vpc, ",".join(found)


def services(aws: Aws) -> dict[str, dict[str, Any]]:
    ecs = aws.client("ecs")
    arns = ecs.list_services(cluster="lake-dask")["serviceArns"]
    return {
        s["serviceName"]: s
        for s in ecs.describe_services(cluster="lake-dask", services=arns)["services"]
    }


def test_up_address_scale_and_down(aws: Aws) -> None:
    vpc, ids = subnets(aws)
    up = engine(aws, "up", "--lake", "s3://my-lake/tracelens/", "--image", IMAGE, "--subnets", ids)
    assert up.exit_code == 0, up.output
    assert up.stdout == f"{ADDRESS}\n"
    assert "creating stack lake-dask" in up.stderr
    assert "lake-dask (AWS::CloudFormation::Stack) CREATE_COMPLETE" in up.stderr
    assert f"the cluster is up; from a machine in the VPC: --engine dask --address {ADDRESS}" in (
        up.stderr
    )
    assert services(aws)["worker"]["desiredCount"] == 2  # the template's default
    (stack,) = aws.client("cloudformation").describe_stacks(StackName="lake-dask")["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["LakeBucket"] == "my-lake"
    assert parameters["LakePrefix"] == "tracelens"
    assert parameters["VpcId"] == vpc
    assert parameters["ClientCidr"] == "10.30.0.0/16"  # the VPC's, found from the subnets

    address = engine(aws, "address")
    assert address.exit_code == 0, address.output
    assert address.stdout == f"{ADDRESS}\n"

    scaled = engine(aws, "up", "--workers", "5")
    assert scaled.exit_code == 0, scaled.output
    assert "updating stack lake-dask" in scaled.stderr
    assert scaled.stdout == f"{ADDRESS}\n"
    assert services(aws)["worker"]["desiredCount"] == 5
    (stack,) = aws.client("cloudformation").describe_stacks(StackName="lake-dask")["Stacks"]
    kept = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert kept["Image"] == IMAGE and kept["LakePrefix"] == "tracelens"

    down = engine(aws, "down")
    assert down.exit_code == 0, down.output
    assert "stack lake-dask deleted" in down.stderr
    (summary,) = aws.client("cloudformation").list_stacks()["StackSummaries"]
    assert summary["StackStatus"] == "DELETE_COMPLETE"
    gone = engine(aws, "address")
    assert gone.exit_code == 1
    assert "no stack lake-dask" in gone.stderr
    assert "tracelens engine up --stack lake-dask" in gone.stderr
    again = engine(aws, "down")
    assert again.exit_code == 0 and "nothing to delete" in again.stderr


def test_creating_without_the_subnets_and_image_names_both(aws: Aws) -> None:
    result = engine(aws, "up", "--lake", "s3://my-lake/tracelens")
    assert result.exit_code == 1
    assert "the stack does not exist yet: give --image" in result.stderr
    assert "--subnets: the subnets the tasks run in" in result.stderr
    assert "aws ec2 describe-subnets" in result.stderr
    assert aws.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_a_subnet_of_another_form_or_a_lake_not_on_s3_is_refused(aws: Aws) -> None:
    _, ids = subnets(aws)
    bad = engine(aws, "up", "--lake", "s3://l/p", "--image", IMAGE, "--subnets", "vpc-123")
    assert bad.exit_code == 2 and "vpc-123 is not a subnet id" in bad.stderr
    local = engine(aws, "up", "--lake", "/data/tl-data", "--image", IMAGE, "--subnets", ids)
    assert local.exit_code == 1
    assert "--lake: '/data/tl-data' is not an S3 location" in local.stderr


def test_no_credentials_names_the_fix(aws: Aws) -> None:
    result = engine(
        aws,
        "address",
        env={
            "AWS_ACCESS_KEY_ID": None,
            "AWS_SECRET_ACCESS_KEY": None,
            # NOTE: no look-up of an instance's metadata service from the tests
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert result.exit_code == 1
    assert "no AWS credentials" in result.stderr
    assert "--profile" in result.stderr and "docs/distributed.md" in result.stderr


def test_the_template_command_prints_the_deployed_template() -> None:
    from tracelens.engines.fargate import template_body

    result = CliRunner().invoke(main, ["engine", "template"])
    assert result.exit_code == 0
    assert result.stdout == template_body()
    assert "AWS::ECS::Service" in result.stdout


def stack_parameters(aws: Aws) -> dict[str, str]:
    (stack,) = aws.client("cloudformation").describe_stacks(StackName="lake-dask")["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def test_an_update_keeps_the_client_cidr_given_on_creation(aws: Aws) -> None:
    _, ids = subnets(aws)
    lake, one = ("--lake", "s3://my-lake/tracelens"), ("--client-cidr", "10.30.1.5/32")
    up = engine(aws, "up", *lake, "--image", IMAGE, "--subnets", ids, *one)
    assert up.exit_code == 0, up.output
    assert stack_parameters(aws)["ClientCidr"] == "10.30.1.5/32"
    # --subnets again, without --client-cidr: the /32 is not widened to the VPC's 10.30.0.0/16
    again = engine(aws, "up", "--subnets", ids, "--workers", "3")
    assert again.exit_code == 0, again.output
    assert stack_parameters(aws)["ClientCidr"] == "10.30.1.5/32"
    assert services(aws)["worker"]["desiredCount"] == 3
    widened = engine(aws, "up", "--client-cidr", "10.30.0.0/16")
    assert widened.exit_code == 0, widened.output
    assert stack_parameters(aws)["ClientCidr"] == "10.30.0.0/16"


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.0.0/8", "10.30.0.0/15"])
def test_a_client_cidr_wider_than_the_vpc_is_refused_with_the_fix(aws: Aws, cidr: str) -> None:
    _, ids = subnets(aws)
    args = ("--lake", "s3://my-lake/tracelens", "--image", IMAGE, "--subnets", ids)
    result = engine(aws, "up", *args, "--client-cidr", cidr, "--public-ip")
    assert result.exit_code == 1
    assert f"--client-cidr {cidr} is wider than the VPC's 10.30.0.0/16" in result.stderr
    assert "a machine's address as a /32" in result.stderr
    assert "runs code as the workers' role" in result.stderr
    assert aws.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_a_client_cidr_wider_than_the_vpc_is_refused_on_an_update(aws: Aws) -> None:
    _, ids = subnets(aws)
    up = engine(aws, "up", "--lake", "s3://my-lake/tracelens", "--image", IMAGE, "--subnets", ids)
    assert up.exit_code == 0, up.output
    opened = engine(aws, "up", "--client-cidr", "0.0.0.0/0")
    assert opened.exit_code == 1
    assert "--client-cidr 0.0.0.0/0 is wider than the VPC's 10.30.0.0/16" in opened.stderr
    assert stack_parameters(aws)["ClientCidr"] == "10.30.0.0/16"


def test_aws_region_alone_gives_the_region(aws: Aws) -> None:
    # NOTE: botocore reads only AWS_DEFAULT_REGION; the agent's [aws] region reads both
    result = CliRunner().invoke(
        main,
        ["engine", "address", "--stack", "lake-dask", "--endpoint-url", aws.url],
        env={"AWS_REGION": REGION, "AWS_DEFAULT_REGION": None},
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert "no AWS region" not in result.stderr
    assert "no stack lake-dask in this account and region" in result.stderr


def test_the_worker_options_take_the_templates_allowed_values() -> None:
    from tracelens.engines.fargate import template_parameters

    result = CliRunner().invoke(main, ["engine", "up", "--help"])
    declared = template_parameters()
    assert "[" + "|".join(declared["WorkerCpu"]["AllowedValues"]) + "]" in result.stdout
    assert "[" + "|".join(declared["WorkerMemory"]["AllowedValues"]) + "]" in result.stdout
    count = declared["WorkerCount"]
    assert f"[{count['MinValue']}<=x<={count['MaxValue']}]" in result.stdout
