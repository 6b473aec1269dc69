"""`tracelens engine up` when CloudFormation fails: a stack that cannot be updated, a
creation rolled back and an update rolled back, each named with the fix and this
deployment's own failures.

botocore's Stubber stands in for CloudFormation (and EC2's subnets and VPC) here: moto's
creates every stack it can parse at once and never fails or rolls one back
(tests/cli/test_engine_stack.py runs the successful path on moto over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.builders.stubbed import stubbed_client
from tracelens.engines.fargate import ClusterSpec, StackError, deploy

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/lake-dask/0f1e"
WHEN = datetime(2026, 12, 5, 3, 40, tzinfo=UTC)
SPEC = ClusterSpec(
    lake="s3://my-lake/tracelens",
    image="123456789012.dkr.ecr.us-east-1.amazonaws.com/tracelens-dask:0.1.0",
    subnets=("subnet-0a", "subnet-0b"),
    vpc="vpc-01",
    client_cidr="10.0.0.0/16",
)


def clients() -> tuple[Any, Any]:
    return stubbed_client("cloudformation"), stubbed_client("ec2")


def stack(status: str, **more: Any) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "lake-dask",
                "StackId": STACK_ID,
                "CreationTime": WHEN,
                "StackStatus": status,
                **more,
            }
        ]
    }


def the_vpc(ec2: Stubber) -> None:
    """The subnets' VPC, and its CIDR, against which the client CIDR is checked."""
    ec2.add_response(
        "describe_subnets",
        {"Subnets": [{"SubnetId": s, "VpcId": "vpc-01"} for s in SPEC.subnets]},
        {"SubnetIds": list(SPEC.subnets)},
    )
    ec2.add_response(
        "describe_vpcs",
        {"Vpcs": [{"VpcId": "vpc-01", "CidrBlock": "10.0.0.0/16"}]},
        {"VpcIds": ["vpc-01"]},
    )


def event(n: int, logical: str, kind: str, status: str, reason: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {
        "StackId": STACK_ID,
        "EventId": f"event-{n}",
        "StackName": "lake-dask",
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "Timestamp": WHEN,
        "ResourceStatus": status,
    }
    if reason:
        found["ResourceStatusReason"] = reason
    return found


@pytest.mark.parametrize(
    ("status", "told"),
    [
        pytest.param(
            "ROLLBACK_COMPLETE",
            ["is ROLLBACK_COMPLETE", "tracelens engine down --stack lake-dask"],
            id="a-failed-creation-is-to-be-deleted-first",
        ),
        pytest.param(
            "UPDATE_ROLLBACK_FAILED",
            [
                "is UPDATE_ROLLBACK_FAILED",
                "aws cloudformation continue-update-rollback --stack-name lake-dask",
            ],
            id="a-failed-update-rollback-names-continue-update-rollback",
        ),
        pytest.param(
            "UPDATE_IN_PROGRESS",
            ["is UPDATE_IN_PROGRESS: wait until it is done"],
            id="a-stack-being-changed-is-left-alone",
        ),
    ],
)
def test_a_stack_in_a_status_it_cannot_be_deployed_over_names_the_fix(
    status: str, told: list[str]
) -> None:
    cloudformation, ec2 = clients()
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", stack(status))
        with pytest.raises(StackError) as error:
            deploy(cloudformation, ec2, "lake-dask", SPEC, progress=lambda _: None)
        stub.assert_no_pending_responses()
    for words in told:
        assert words in str(error.value)


def test_a_rolled_back_creation_names_the_failed_resource_and_the_fix() -> None:
    cloudformation, ec2 = clients()
    pulled = (
        "ECS Deployment Circuit Breaker was triggered: CannotPullContainerError: pull image "
        "manifest has been retried 5 time(s)"
    )
    first = [event(1, "lake-dask", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS")]
    later = [
        event(4, "lake-dask", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
        event(3, "SchedulerService", "AWS::ECS::Service", "CREATE_FAILED", pulled),
        event(2, "SchedulerService", "AWS::ECS::Service", "CREATE_IN_PROGRESS"),
        *first,
    ]
    printed: list[str] = []
    with Stubber(cloudformation) as stub, Stubber(ec2) as network:
        the_vpc(network)
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id lake-dask does not exist"
        )
        stub.add_response("create_stack", {"StackId": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": first})
        stub.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"))
        stub.add_response("describe_stack_events", {"StackEvents": later})
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
        stub.add_response("describe_stack_events", {"StackEvents": later})
        with pytest.raises(StackError) as error:
            deploy(
                cloudformation,
                ec2,
                "lake-dask",
                SPEC,
                progress=printed.append,
                sleep=lambda _: None,
            )
        stub.assert_no_pending_responses()
    assert printed[0] == "creating stack lake-dask"
    # each event once, oldest first
    assert [line.split()[1] for line in printed[1:]] == [
        "lake-dask",
        "SchedulerService",
        "SchedulerService",
        "lake-dask",
    ]
    assert printed[3].endswith(f"CREATE_FAILED: {pulled}")
    message = str(error.value)
    assert message.startswith("stack lake-dask ended ROLLBACK_COMPLETE\n")
    assert f"SchedulerService: {pulled}" in message
    assert "the subnets reach no registry" in message
    # a rolled-back creation removed its log group and cluster: none is named as if there
    assert "/tracelens/dask/" not in message
    assert "removed with it" in message


def test_a_failed_update_names_its_own_failures_not_an_earlier_ones() -> None:
    cloudformation, ec2 = clients()
    outputs = [
        {"OutputKey": "LogGroupName", "OutputValue": "/tracelens/dask/lake-dask"},
        {"OutputKey": "ClusterName", "OutputValue": "lake-dask"},
    ]
    parameters = [{"ParameterKey": "WorkerCount", "ParameterValue": "2"}]
    old = "Resource handler returned message: an earlier update's cause"
    new = "ECS Deployment Circuit Breaker was triggered: the new image does not start"
    earlier = [
        event(3, "lake-dask", "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"),
        event(2, "WorkerService", "AWS::ECS::Service", "UPDATE_FAILED", old),
        event(1, "lake-dask", "AWS::CloudFormation::Stack", "CREATE_COMPLETE"),
    ]
    later = [
        event(6, "lake-dask", "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"),
        event(5, "SchedulerService", "AWS::ECS::Service", "UPDATE_FAILED", new),
        event(4, "lake-dask", "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS"),
        *earlier,
    ]
    rolled_back = stack("UPDATE_ROLLBACK_COMPLETE", Parameters=parameters, Outputs=outputs)
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", rolled_back)
        stub.add_response("describe_stack_events", {"StackEvents": earlier})
        stub.add_response("update_stack", {"StackId": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": later})
        stub.add_response("describe_stacks", rolled_back)
        stub.add_response("describe_stack_events", {"StackEvents": later})
        with pytest.raises(StackError) as error:
            deploy(
                cloudformation,
                ec2,
                "lake-dask",
                ClusterSpec(workers=3),
                progress=lambda _: None,
                sleep=lambda _: None,
            )
        stub.assert_no_pending_responses()
    message = str(error.value)
    assert message.startswith("stack lake-dask ended UPDATE_ROLLBACK_COMPLETE\n")
    assert f"SchedulerService: {new}" in message
    assert old not in message
    assert "the log group /tracelens/dask/lake-dask" in message
