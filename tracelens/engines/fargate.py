"""The Dask cluster of ``--engine dask`` on AWS: the CloudFormation stack of
``dask_fargate.yaml`` (ECS Fargate: a scheduler and workers from the tracelens image, the
workers reading the S3 lake), created or updated, its scheduler address, and its deletion.

Every function takes boto3 clients (CloudFormation, and EC2 to fill the VPC and its CIDR from
the subnets) and reports each new stack event through ``progress``; failures are
:class:`StackError` naming the fix. Nothing here touches the lake: deleting the stack leaves
the store as it is.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from collectors.metering import error_code
from tracelens.store.s3 import parse_s3_url

TEMPLATE = Path(__file__).with_name("dask_fargate.yaml")
ADDRESS_OUTPUT = "SchedulerAddress"
POLL_S = 5.0
DOCS = "docs/distributed.md"

_SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
# NOTE: a stack in these states cannot be updated: it is deleted and created again
_DEAD = {
    "ROLLBACK_COMPLETE": "its creation failed",
    "ROLLBACK_FAILED": "its creation failed and so did its rollback",
    "CREATE_FAILED": "its creation failed",
    "DELETE_FAILED": "its deletion failed",
}
"""Stack states no update can leave, and what each says happened."""

Progress = Callable[[str], None]


class StackError(Exception):
    """The stack could not be deployed, read or deleted; the message says the fix."""


@dataclass(frozen=True)
class ClusterSpec:
    """What ``tracelens engine up`` was given; None: the stack's current value when it exists,
    else the template's default (or, for the VPC and the client CIDR, the subnets')."""

    lake: str | None = None
    image: str | None = None
    subnets: tuple[str, ...] = ()
    vpc: str | None = None
    client_cidr: str | None = None
    workers: int | None = None
    worker_cpu: int | None = None
    worker_memory: int | None = None
    public_ip: bool | None = None
    kms_key: str | None = None

    def given(self) -> dict[str, str]:
        """The template's parameters that were given, by name."""
        values: dict[str, str | None] = {
            "Image": self.image,
            "Subnets": ",".join(self.subnets) or None,
            "VpcId": self.vpc,
            "ClientCidr": self.client_cidr,
            "WorkerCount": _text(self.workers),
            "WorkerCpu": _text(self.worker_cpu),
            "WorkerMemory": _text(self.worker_memory),
            "AssignPublicIp": None
            if self.public_ip is None
            else ("ENABLED" if self.public_ip else "DISABLED"),
            "KmsKeyArn": self.kms_key,
        }
        if self.lake is not None:
            try:
                bucket, prefix = parse_s3_url(self.lake)
            except ValueError as exc:
                raise StackError(f"--lake: {exc}") from exc
            values |= {"LakeBucket": bucket, "LakePrefix": prefix}
        return {name: value for name, value in values.items() if value is not None}


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


# What `engine up` says when a parameter the stack needs was not given on its creation.
_REQUIRED = {
    "Image": "--image: the tracelens image with the distributed extra, pushed to ECR "
    f"(docker build -f deploy/Dockerfile --build-arg EXTRAS=distributed; {DOCS})",
    "LakeBucket": "--lake: the store the workers read, s3://BUCKET/PREFIX",
    "Subnets": "--subnets: the subnets the tasks run in, comma-separated (two or more "
    "Availability Zones, with a route to S3 and the image's registry; list them with "
    "`aws ec2 describe-subnets --query 'Subnets[].[SubnetId,VpcId,AvailabilityZone]'`)",
}


def template_body() -> str:
    """The stack's template (deploy/dask-fargate.yaml)."""
    return TEMPLATE.read_text(encoding="utf-8")


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (``!Ref``, ``!Sub``...) read as plain values."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _short_form)


@cache
def template_parameters() -> dict[str, dict[str, Any]]:
    """The template's parameters by name (its allowed values and ranges, declared there once)."""
    document = yaml.load(template_body(), Loader=_TemplateLoader)  # noqa: S506
    parameters: dict[str, dict[str, Any]] = document["Parameters"]
    return parameters


def template_defaults() -> dict[str, str | None]:
    """Each template parameter's default as CloudFormation gives it (GetTemplateSummary's
    ``DefaultValue``: text), None for one without a default."""
    return {
        name: None if "Default" not in declared else _default_text(declared["Default"])
        for name, declared in template_parameters().items()
    }


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_default_text(item) for item in value)
    return str(value)


def describe(cloudformation: Any, stack: str) -> dict[str, Any] | None:
    """The stack, or None when there is none of that name."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:
        if _absent(exc):
            return None
        raise
    found: dict[str, Any] | None = stacks[0] if stacks else None
    return found


def _absent(exc: Exception) -> bool:
    """Whether ``exc`` is CloudFormation's answer for a stack that does not exist."""
    return error_code(exc) == "ValidationError" and "does not exist" in str(exc)


def _with_vpc(spec: ClusterSpec, ec2: Any, previous: Mapping[str, str] | None) -> ClusterSpec:
    """``spec`` with the VPC of its subnets and, on creation only, the VPC's CIDR as the
    client CIDR when not given (an update keeps the stack's: a /32 given once stays one);
    the client CIDR refused when wider than the VPC's."""
    stack_vpc = None if previous is None else previous.get("VpcId")
    vpc = spec.vpc
    if spec.subnets:
        try:
            subnets = ec2.describe_subnets(SubnetIds=list(spec.subnets))["Subnets"]
        except Exception as exc:
            if error_code(exc).startswith("InvalidSubnet"):
                raise StackError(
                    f"--subnets: {exc}; list the subnets with `aws ec2 describe-subnets`"
                ) from exc
            raise
        vpcs = sorted({subnet["VpcId"] for subnet in subnets})
        if len(vpcs) != 1:
            raise StackError(
                f"--subnets are in {len(vpcs)} VPCs ({', '.join(vpcs)}): give one VPC's"
            )
        if vpc is not None and vpc != vpcs[0]:
            raise StackError(f"--subnets are in {vpcs[0]}, not in --vpc {vpc}")
        if vpc is None and stack_vpc not in (None, vpcs[0]):
            raise StackError(
                f"--subnets are in {vpcs[0]}, the stack's VPC is {stack_vpc}: give subnets of "
                f"{stack_vpc}, or --vpc {vpcs[0]} with --client-cidr to move the cluster"
            )
        vpc = vpcs[0] if previous is None else vpc
    cidr = spec.client_cidr
    if cidr is None and previous is not None:
        return dataclasses.replace(spec, vpc=vpc)
    where = vpc or stack_vpc
    vpc_cidr = None
    if where is not None:
        (found,) = ec2.describe_vpcs(VpcIds=[where])["Vpcs"]
        vpc_cidr = str(found["CidrBlock"])
    cidr = cidr or vpc_cidr
    if cidr is not None:
        _check_client_cidr(cidr, vpc_cidr)
    return dataclasses.replace(spec, vpc=vpc, client_cidr=cidr)


# The widest client CIDR the template accepts: a VPC's widest (AWS allows /16 to /28).
WIDEST_CLIENT_PREFIX = 16


def _check_client_cidr(cidr: str, vpc_cidr: str | None) -> None:
    """Refuse a client CIDR wider than the VPC's: whoever reaches the scheduler's port 8786
    runs code on the workers, with their read role on the lake."""
    fix = (
        f"give the VPC's CIDR ({vpc_cidr}) or a machine's address as a /32 (e.g. "
        "203.0.113.7/32); whoever reaches port 8786 runs code as the workers' role "
        f"({DOCS}, Who can reach the scheduler)"
        if vpc_cidr
        else "give a machine's address as a /32 (e.g. 203.0.113.7/32) or the VPC's CIDR; "
        f"whoever reaches port 8786 runs code as the workers' role ({DOCS})"
    )
    try:
        network = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError as exc:
        raise StackError(f"--client-cidr {cidr}: {exc}; {fix}") from exc
    widest = WIDEST_CLIENT_PREFIX
    if vpc_cidr is not None:
        widest = max(widest, ipaddress.IPv4Network(vpc_cidr, strict=False).prefixlen)
    if network.prefixlen < widest:
        raise StackError(
            f"--client-cidr {cidr} is wider than "
            + (f"the VPC's {vpc_cidr}" if vpc_cidr else f"a /{widest}")
            + f": {fix}"
        )


def _parameters(
    given: Mapping[str, str], previous: Mapping[str, str] | None, defaults: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """CreateStack/UpdateStack parameters: the given ones; on an update, each other one the
    stack has keeps its value (left to the template's default when it is that default)."""
    parameters: list[dict[str, Any]] = [
        {"ParameterKey": name, "ParameterValue": value} for name, value in sorted(given.items())
    ]
    if previous is None:
        missing = [fix for name, fix in _REQUIRED.items() if name not in given]
        if missing:
            raise StackError("the stack does not exist yet: give " + "; ".join(missing))
        return parameters
    parameters += [
        {"ParameterKey": name, "UsePreviousValue": True}
        for name, value in sorted(previous.items())
        if name not in given and name in defaults and defaults[name] != value
    ]
    return parameters


def deploy(
    cloudformation: Any,
    ec2: Any,
    stack: str,
    spec: ClusterSpec,
    *,
    progress: Progress,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Create the stack, or update it with what ``spec`` gives (the rest kept), wait until it
    is done, and return the scheduler's address.

    Raises
    ------
    StackError
        When a parameter is missing or wrong, the stack cannot be changed in its state, or
        the deployment failed (its failed resources and their reasons named).
    """
    current = describe(cloudformation, stack)
    status = None if current is None else str(current["StackStatus"])
    if status is not None and status in _DEAD:
        raise StackError(
            f"stack {stack} is {status} ({_DEAD[status]}): remove it with "
            f"`tracelens engine down --stack {stack}`, then run `tracelens engine up` again"
        )
    if status == "UPDATE_ROLLBACK_FAILED":
        raise StackError(
            f"stack {stack} is {status} (an update failed and so did its rollback): finish the "
            f"rollback with `aws cloudformation continue-update-rollback --stack-name {stack}` "
            "(with --resources-to-skip for a resource it names as failing), then run "
            "`tracelens engine up` again"
        )
    if status is not None and status.endswith("_IN_PROGRESS"):
        raise StackError(f"stack {stack} is {status}: wait until it is done, then run it again")
    previous = (
        None
        if current is None
        else {p["ParameterKey"]: p.get("ParameterValue") for p in current.get("Parameters", [])}
    )
    given = _with_vpc(spec, ec2, previous).given()
    request: dict[str, Any] = {
        "StackName": stack,
        "TemplateBody": template_body(),
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "tracelens:component", "Value": "dask-cluster"}],
    }
    since = _last_event(cloudformation, stack) if current is not None else None
    if previous is None:
        request["Parameters"] = _parameters(given, None, {})
        progress(f"creating stack {stack}")
        cloudformation.create_stack(**request, OnFailure="ROLLBACK")
    else:
        request["Parameters"] = _parameters(given, previous, template_defaults())
        progress(f"updating stack {stack} ({status})")
        try:
            cloudformation.update_stack(**request)
        except Exception as exc:
            unchanged = "No updates are to be performed" in str(exc)
            if error_code(exc) == "ValidationError" and unchanged:
                progress(f"stack {stack} is up to date")
                return _scheduler_address(stack, current)
            raise
    final, ended = _wait(cloudformation, stack, since, progress=progress, sleep=sleep)
    if final not in _SUCCEEDED:
        stack_id = stack if ended is None else str(ended["StackId"])
        raise StackError(_failure(cloudformation, stack_id, stack, final, since, ended))
    return _scheduler_address(stack, ended)


def address(cloudformation: Any, stack: str) -> str:
    """The scheduler address the stack gives (``tcp://scheduler.<stack>...:8786``).

    Raises
    ------
    StackError
        When there is no such stack, or it is not (yet) deployed.
    """
    return _scheduler_address(stack, describe(cloudformation, stack))


def _scheduler_address(stack: str, current: Mapping[str, Any] | None) -> str:
    """The scheduler address of the described stack ``current`` (see :func:`address`)."""
    if current is None:
        raise StackError(
            f"no stack {stack} in this account and region: deploy it with "
            f"`tracelens engine up --stack {stack} ...`, or give the region it is in (--region)"
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in current.get("Outputs", [])}
    status = str(current["StackStatus"])
    if ADDRESS_OUTPUT not in outputs or status not in _SUCCEEDED | {"UPDATE_ROLLBACK_COMPLETE"}:
        raise StackError(
            f"stack {stack} is {status}, without a running scheduler: "
            + (
                "wait until it is done"
                if status.endswith("_IN_PROGRESS")
                else f"run `tracelens engine up --stack {stack}` again"
            )
        )
    return str(outputs[ADDRESS_OUTPUT])


def delete(
    cloudformation: Any,
    stack: str,
    *,
    progress: Progress,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Delete the stack and wait until it is gone; False when there was none.

    Raises
    ------
    StackError
        When the deletion failed (the resources left named).
    """
    current = describe(cloudformation, stack)
    if current is None:
        return False
    since = _last_event(cloudformation, stack)
    stack_id = str(current["StackId"])
    progress(f"deleting stack {stack}")
    cloudformation.delete_stack(StackName=stack)
    # NOTE: by id: a deleted stack is found by its id only
    final, ended = _wait(cloudformation, stack_id, since, progress=progress, sleep=sleep)
    if final != "DELETE_COMPLETE":
        raise StackError(_failure(cloudformation, stack_id, stack, final, since, ended))
    return True


def _last_event(cloudformation: Any, stack: str) -> str | None:
    events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    return str(events[0]["EventId"]) if events else None


def _new_events(cloudformation: Any, stack: str, since: str | None) -> list[dict[str, Any]]:
    """The stack's events after ``since``, oldest first (the first page: the last 100)."""
    try:
        events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    except Exception as exc:
        if _absent(exc):
            return []
        raise
    new: list[dict[str, Any]] = []
    for event in events:
        if since is not None and event["EventId"] == since:
            break
        new.append(event)
    return new[::-1]


def _wait(
    cloudformation: Any,
    stack: str,
    since: str | None,
    *,
    progress: Progress,
    sleep: Callable[[float], None],
) -> tuple[str, dict[str, Any] | None]:
    """The stack's status once it is no longer in progress (and the stack, None once it is
    deleted), each new event reported."""
    while True:
        events = _new_events(cloudformation, stack, since)
        for event in events:
            progress(_event_line(event))
        if events:
            since = str(events[-1]["EventId"])
        current = describe(cloudformation, stack)
        status = "DELETE_COMPLETE" if current is None else str(current["StackStatus"])
        if not status.endswith("_IN_PROGRESS"):
            return status, current
        sleep(POLL_S)


def _event_line(event: Mapping[str, Any]) -> str:
    when = event.get("Timestamp")
    clock = when.strftime("%H:%M:%S") if isinstance(when, datetime) else "--:--:--"
    reason = event.get("ResourceStatusReason")
    line = (
        f"  {clock} {event.get('LogicalResourceId', '?')} ({event.get('ResourceType', '?')}) "
        f"{event.get('ResourceStatus', '?')}"
    )
    return f"{line}: {reason}" if reason else line


def _failure(
    cloudformation: Any,
    stack_id: str,
    stack: str,
    status: str,
    since: str | None,
    ended: Mapping[str, Any] | None,
) -> str:
    """Why this deployment (the events after ``since``) ended in ``status``: its failed
    resources' reasons, oldest (the cause) first, and where to look next."""
    events = _new_events(cloudformation, stack_id, since)
    reasons = [
        f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("_FAILED") and e.get("ResourceStatusReason")
    ]
    lines = [f"stack {stack} ended {status}"]
    lines += [f"  {reason}" for reason in reasons[:10]]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (ended or {}).get("Outputs", [])}
    logs = outputs.get("LogGroupName")
    cluster = outputs.get("ClusterName")
    where = (
        f"the tasks' own errors are in the log group {logs} and in `aws ecs describe-services "
        f"--cluster {cluster} --services scheduler worker` (events)"
        if logs and cluster
        else "the stack's log group and cluster were removed with it: run `tracelens engine "
        f"up` again and read `aws ecs describe-services --cluster {stack} --services "
        "scheduler worker` (events) while it creates"
    )
    lines.append(
        f"{where}; CannotPullContainerError: the subnets reach no registry (a NAT gateway, ECR "
        "and S3 VPC endpoints, or --public-ip in public subnets); AccessDenied: "
        f"{DOCS} lists the permissions the deploying identity needs"
    )
    return "\n".join(lines)


__all__ = [
    "ADDRESS_OUTPUT",
    "TEMPLATE",
    "ClusterSpec",
    "StackError",
    "address",
    "delete",
    "deploy",
    "describe",
    "template_body",
    "template_defaults",
    "template_parameters",
]
