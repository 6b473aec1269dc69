"""The Dask cluster on ECS Fargate (deploy/dask-fargate.yaml): created on moto's CloudFormation
over HTTP, its workers' role granting exactly the S3 calls a partition's rollup makes, and its
container health checks passing against real `dask scheduler` / `dask worker` processes started
with the template's own commands.

moto creates the ECS cluster, services and task definitions but runs no container, and does
not model Cloud Map (AWS::ServiceDiscovery::*: it skips them, with a warning), so the scheduler's
DNS name is checked as the output's text only."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.builders.endpoint import Aws
from tests.builders.templates import DASK_FARGATE, load
from tracelens import rollup_partitions
from tracelens.cli import main
from tracelens.samples.bulk import write_bulk
from tracelens.store.s3 import S3Backend

TEMPLATE = DASK_FARGATE
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tracelens-dask:0.1.0"
START = datetime(2026, 11, 2, tzinfo=UTC)
# What each S3 call needs in IAM.
ACTION_OF = {"ListObjectsV2": "s3:ListBucket", "GetObject": "s3:GetObject"}


def vpc_with_subnets(aws: Aws) -> tuple[str, list[str]]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((1, "us-east-1a"), (2, "us-east-1b"))
    ]
    return vpc, subnets


def test_the_template_is_packaged_and_deploy_names_it() -> None:
    from tracelens.engines import fargate

    assert TEMPLATE.resolve() == fargate.TEMPLATE.resolve()


@pytest.mark.integration
def test_the_stack_creates_the_cluster_services_and_task_definitions_on_moto(aws: Aws) -> None:
    vpc, subnets = vpc_with_subnets(aws)
    cloudformation = aws.client("cloudformation")
    parameters = {
        "Image": IMAGE,
        "LakeBucket": "my-lake",
        "LakePrefix": "tracelens/prod",
        "VpcId": vpc,
        "Subnets": ",".join(subnets),
        "ClientCidr": "10.20.0.0/16",
        "WorkerCount": "3",
    }
    with pytest.warns(UserWarning, match="ServiceDiscovery"):  # NOTE: not modelled by moto
        cloudformation.create_stack(
            StackName="lake-dask",
            TemplateBody=TEMPLATE.read_text(),
            Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
    (stack,) = cloudformation.describe_stacks(StackName="lake-dask")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["SchedulerAddress"] == "tcp://scheduler.lake-dask.tracelens.internal:8786"
    assert outputs["ClusterName"] == "lake-dask"
    assert outputs["LogGroupName"] == "/tracelens/dask/lake-dask"

    ecs = aws.client("ecs")
    assert ecs.list_clusters()["clusterArns"][0].endswith(":cluster/lake-dask")
    arns = ecs.list_services(cluster="lake-dask")["serviceArns"]
    services = {
        s["serviceName"]: s
        for s in ecs.describe_services(cluster="lake-dask", services=arns)["services"]
    }
    assert services["scheduler"]["desiredCount"] == 1
    assert services["worker"]["desiredCount"] == 3
    scheduler, worker = (
        ecs.describe_task_definition(taskDefinition=services[name]["taskDefinition"])[
            "taskDefinition"
        ]["containerDefinitions"][0]
        for name in ("scheduler", "worker")
    )
    assert scheduler["image"] == worker["image"] == IMAGE
    assert scheduler["entryPoint"] == worker["entryPoint"] == ["dask"]
    assert scheduler["command"][:3] == ["scheduler", "--port", "8786"]
    assert worker["command"][:2] == ["worker", outputs["SchedulerAddress"]]
    assert "8787/health" in scheduler["healthCheck"]["command"][-1]
    assert "8790/health" in worker["healthCheck"]["command"][-1]
    logs = aws.client("logs").describe_log_groups(logGroupNamePrefix="/tracelens/dask/")
    assert [g["logGroupName"] for g in logs["logGroups"]] == ["/tracelens/dask/lake-dask"]
    (group,) = aws.client("ec2").describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "group-name", "Values": ["*Security*"]},
        ]
    )["SecurityGroups"]
    public = [
        (p["FromPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p.get("IpRanges", [])
    ]
    assert public == [(8786, "10.20.0.0/16")]


def worker_policy(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["WorkerTaskRole"]["Properties"]
    (policy,) = role["Policies"]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def test_only_the_workers_get_a_role_and_it_reads_the_lake_prefix_only() -> None:
    template = load(TEMPLATE)
    resources = template["Resources"]
    assert "TaskRoleArn" not in resources["SchedulerTask"]["Properties"]
    assert resources["WorkerTask"]["Properties"]["TaskRoleArn"] == {
        "Fn::GetAtt": ["WorkerTaskRole", "Arn"]
    }
    listing, reading, kms = worker_policy(template)
    with_prefix = listing["Fn::If"][1]
    assert with_prefix["Action"] == "s3:ListBucket"
    assert with_prefix["Condition"] == {"StringLike": {"s3:prefix": {"Fn::Sub": "${LakePrefix}/*"}}}
    assert reading["Action"] == "s3:GetObject"
    assert reading["Resource"]["Fn::If"][1] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${LakeBucket}/${LakePrefix}/*"
    }
    assert kms["Fn::If"][1]["Action"] == "kms:Decrypt"
    actions = {statement["Action"] for statement in (with_prefix, reading)}
    assert actions == set(ACTION_OF.values())


@pytest.mark.integration
def test_a_partitions_rollup_makes_only_the_calls_the_workers_role_allows(
    aws: Aws, tmp_path: Path
) -> None:
    aws.client("s3").create_bucket(Bucket="my-lake")
    location = "s3://my-lake/tracelens/prod"
    write_bulk(tmp_path / "export", 600, seed=3, fmt="batch", start=START, period=timedelta(days=1))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", aws.url)
        result = CliRunner().invoke(
            main, ["import", str(tmp_path / "export"), "--store", location, "-q", "--no-rollup"]
        )
    assert result.exit_code == 0, result.output

    calls: list[tuple[str, dict[str, Any]]] = []
    client = aws.client("s3")

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params))

    client.meta.events.register("provide-client-params.s3", record)
    backend = S3Backend("my-lake", "tracelens/prod", client=client)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rollup_partitions, "_backend", lambda _: backend)
        for bucket in (None, 3):
            task = rollup_partitions.Task(
                location, rollup_partitions.SpanPartition(date(2026, 11, 2), bucket)
            )
            rolled = rollup_partitions.rollup_partition(task)
            assert rolled.frame.height > 0 and not rolled.problems
    assert {ACTION_OF[name] for name, _ in calls} == set(ACTION_OF.values())
    for name, params in calls:
        assert params["Bucket"] == "my-lake"
        where = params["Prefix"] if name == "ListObjectsV2" else params["Key"]
        assert where.startswith("tracelens/prod/"), (name, where)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def container(template: dict[str, Any], task: str) -> dict[str, Any]:
    (definition,) = template["Resources"][task]["Properties"]["ContainerDefinitions"]
    found: dict[str, Any] = definition
    return found


def on_loopback(command: list[Any], ports: dict[str, int], scheduler: str) -> list[str]:
    """A container's command with its fixed ports moved to free loopback ones and the
    scheduler's DNS name (a !Sub) replaced by its local address."""
    moved = {fixed: str(port) for fixed, port in ports.items()}
    moved |= {f":{fixed}": f"127.0.0.1:{port}" for fixed, port in ports.items()}
    return [scheduler if isinstance(word, dict) else moved.get(word, word) for word in command]


def healthy(check: list[str], ports: dict[str, int]) -> bool:
    """Whether a container's health check (``CMD python -c ...``) passes, its port moved."""
    assert check[:2] == ["CMD", "python"]
    argv = [sys.executable, *check[2:]]
    for fixed, port in ports.items():
        argv = [word.replace(f"127.0.0.1:{fixed}/", f"127.0.0.1:{port}/") for word in argv]
    return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0


@contextlib.contextmanager
def running(argv: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(check: list[str], ports: dict[str, int], process: Any) -> bool:
    # NOTE: ends a hung start only (the template gives each container a 60 s start period)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if healthy(check, ports):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.5)
    return False


@pytest.mark.slow
def test_the_health_checks_pass_on_the_dask_processes_the_template_starts() -> None:
    template = load(TEMPLATE)
    dask = str(Path(sys.executable).with_name("dask"))
    ports = {name: free_port() for name in ("8786", "8787", "8788", "8789", "8790")}
    address = f"tcp://127.0.0.1:{ports['8786']}"
    scheduler, worker = container(template, "SchedulerTask"), container(template, "WorkerTask")
    assert scheduler["EntryPoint"] == worker["EntryPoint"] == ["dask"]
    scheduler_argv = [
        dask,
        *on_loopback(scheduler["Command"], ports, address),
        "--host",
        "127.0.0.1",
    ]
    worker_argv = [dask, *on_loopback(worker["Command"], ports, address), "--host", "127.0.0.1"]
    assert worker_argv[2] == address and f"{ports['8788']}" in worker_argv
    with running(scheduler_argv) as first:
        assert wait_until_healthy(scheduler["HealthCheck"]["Command"], ports, first), (
            first.stderr.read().decode() if first.stderr and first.poll() is not None else ""
        )
        with running(worker_argv) as second:
            assert wait_until_healthy(worker["HealthCheck"]["Command"], ports, second)
            from distributed import Client

            with Client(address, timeout="30s") as client:
                client.wait_for_workers(1, timeout=60)
                assert client.submit(sum, [1, 2]).result(timeout=60) == 3


def test_the_documented_docker_runs_of_dask_turn_the_agents_healthcheck_off() -> None:
    root = DASK_FARGATE.parents[1]
    for path in (root / "docs" / "distributed.md", root / "deploy" / "Dockerfile"):
        runs = [line for line in path.read_text().splitlines() if "--entrypoint dask" in line]
        assert runs, path
        for line in runs:
            assert "docker run" not in line or "--no-healthcheck" in line, (path, line)


@pytest.mark.parametrize(
    ("cidr", "allowed"),
    [
        ("0.0.0.0/0", False),
        ("10.0.0.0/8", False),
        ("10.20.0.0/15", False),
        ("10.20.0.0/16", True),
        ("10.20.1.0/24", True),
        ("203.0.113.7/32", True),
        ("203.0.113.7/33", False),
    ],
)
def test_the_client_cidr_is_never_wider_than_a_vpc(cidr: str, allowed: bool) -> None:
    # whoever reaches the scheduler's port runs code as the workers' role
    declared = load(TEMPLATE)["Parameters"]["ClientCidr"]
    # NOTE: CloudFormation matches AllowedPattern against the whole value
    assert bool(re.fullmatch(declared["AllowedPattern"], cidr)) is allowed
    assert "0.0.0.0/0" in declared["ConstraintDescription"]


def test_the_members_reach_the_scheduler_and_the_workers_ports_only() -> None:
    resources = load(TEMPLATE)["Resources"]
    opened = {
        (rule["Properties"]["FromPort"], rule["Properties"]["ToPort"])
        for rule in resources.values()
        if rule["Type"] == "AWS::EC2::SecurityGroupIngress"
    }
    # 8786 the scheduler, 8788 a worker, 8789 its nanny; not the HTTP ports 8787 and 8790
    assert opened == {(8786, 8786), (8788, 8789)}
    worker = resources["WorkerTask"]["Properties"]["ContainerDefinitions"][0]["Command"]
    assert worker[worker.index("--worker-port") + 1] == "8788"
    assert worker[worker.index("--nanny-port") + 1] == "8789"


def deploying_policy() -> dict[str, Any]:
    text = (DASK_FARGATE.parents[1] / "docs" / "distributed.md").read_text()
    section = text.split("### The deploying identity's permissions", 1)[1]
    body = section.split("```json\n", 1)[1].split("```", 1)[0]
    policy: dict[str, Any] = json.loads(body)
    return policy


def test_the_deploying_policy_grants_iam_on_the_stacks_roles_only() -> None:
    statements = {s["Sid"]: s for s in deploying_policy()["Statement"]}
    # CloudFormation names the roles it creates STACK-<logical id>-<suffix>
    for sid in ("Roles", "PassRolesToTasks"):
        assert statements[sid]["Resource"] == "arn:aws:iam::ACCOUNT:role/STACK-*", sid
    on_everything = {
        action
        for s in statements.values()
        if s["Resource"] == "*"
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in on_everything if a.startswith(("iam:", "logs:Create", "ecs:Create"))} - {
        "ecs:CreateCluster"
    }
    assert "cloudformation:CreateStack" not in on_everything
    roles = [
        name
        for name, value in load(TEMPLATE)["Resources"].items()
        if value["Type"] == "AWS::IAM::Role"
    ]
    assert all("RoleName" not in load(TEMPLATE)["Resources"][r]["Properties"] for r in roles)


def test_the_docs_warn_who_reaches_the_scheduler_runs_code_as_the_workers() -> None:
    text = " ".join((DASK_FARGATE.parents[1] / "docs" / "distributed.md").read_text().split())
    assert "Who can reach the scheduler can run code as the workers." in text
    assert "--tls-ca-file" in text and "0.0.0.0/0" in text
