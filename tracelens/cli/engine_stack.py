"""``tracelens engine up/address/down/template``: the Dask cluster of ``--engine dask`` on AWS
(ECS Fargate, deploy/dask-fargate.yaml), deployed and removed with one command each."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from tracelens.cli.options import aws_access, compose

F = TypeVar("F", bound=Callable[..., Any])


def _allowed(parameter: str) -> list[str]:
    """The values the cluster's template allows for ``parameter`` (declared there once)."""
    from tracelens.engines.fargate import template_parameters

    return [str(value) for value in template_parameters()[parameter]["AllowedValues"]]


def _range(parameter: str) -> click.IntRange:
    """The range the cluster's template allows for the number ``parameter``."""
    from tracelens.engines.fargate import template_parameters

    declared = template_parameters()[parameter]
    return click.IntRange(min=int(declared["MinValue"]), max=int(declared["MaxValue"]))


def _aws_options(command: F) -> F:
    return compose(
        click.option(
            "--stack",
            required=True,
            metavar="NAME",
            help="The CloudFormation stack of the cluster (also its ECS cluster's name).",
        ),
        aws_access(
            region_help="AWS region (default: AWS_REGION, else AWS_DEFAULT_REGION, else the "
            "profile's)."
        ),
    )(command)


class _Aws:
    """The boto3 clients of one command."""

    def __init__(self, region: str | None, profile: str | None, endpoint_url: str | None):
        import boto3
        import botocore.exceptions

        from tracelens.agent.config import environment_region

        # NOTE: botocore reads AWS_DEFAULT_REGION only; [aws] region also reads AWS_REGION
        region = region or environment_region(os.environ)
        try:
            self._session = boto3.Session(profile_name=profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise click.BadParameter(str(exc), param_hint="--profile") from exc
        if not self._session.region_name:
            raise click.UsageError(
                "no AWS region: give --region, or set AWS_REGION (the lake's region; "
                "AWS_DEFAULT_REGION or the profile's region also serve)"
            )
        self._endpoint = endpoint_url

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint)  # type: ignore[call-overload]


@contextlib.contextmanager
def _aws_errors(stack: str) -> Iterator[None]:
    """AWS failures as one message with the fix."""
    import botocore.exceptions

    from tracelens.engines.fargate import DOCS, StackError

    try:
        yield
    except StackError as exc:
        raise click.ClickException(str(exc)) from exc
    except (
        botocore.exceptions.NoCredentialsError,
        botocore.exceptions.PartialCredentialsError,
    ) as exc:
        raise click.ClickException(
            f"no AWS credentials ({exc}): set AWS_PROFILE or --profile (after `aws sso login` "
            "or `aws configure`), or run where a role gives them; the identity needs the "
            f"permissions of {DOCS} (Deploying the cluster)"
        ) from exc
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        hint = (
            f"; the deploying identity needs the permissions of {DOCS} (Deploying the cluster)"
            if "AccessDenied" in code or "Unauthorized" in code
            else ""
        )
        raise click.ClickException(f"stack {stack}: {exc}{hint}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise click.ClickException(f"stack {stack}: {exc}") from exc


def _progress(line: str) -> None:
    click.echo(line, err=True)


@click.group()
def engine() -> None:
    """Run the Dask cluster of --engine dask on AWS (ECS Fargate), reading the S3 lake.

    `up` creates or updates a CloudFormation stack (deploy/dask-fargate.yaml): a Dask
    scheduler and --workers workers from the tracelens image, the workers with a read-only
    role on the lake's prefix. `address` prints the scheduler's address for --address (it
    resolves inside the VPC); `down` deletes the stack (the lake is left as it is).

    \b
      tracelens engine up --stack lake-dask --lake s3://my-lake/tracelens \\
          --image ACCOUNT.dkr.ecr.REGION.amazonaws.com/tracelens-dask:VERSION \\
          --subnets subnet-0a1b,subnet-2c3d
      tracelens store summary --store s3://my-lake/tracelens --since 30d --json \\
          --engine dask --address "$(tracelens engine address --stack lake-dask)"
      tracelens engine down --stack lake-dask
    """


def _subnets(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    subnets = tuple(s.strip() for s in value.split(",") if s.strip())
    bad = [s for s in subnets if not s.startswith("subnet-")]
    if bad:
        raise click.BadParameter(
            f"{', '.join(bad)} is not a subnet id (subnet-...); separate ids with commas",
            param_hint="--subnets",
        )
    return subnets


@engine.command()
@_aws_options
@click.option(
    "--lake",
    metavar="s3://BUCKET/PREFIX",
    help="The store the workers read (their role may list and read this prefix only).",
)
@click.option(
    "--image",
    metavar="URI",
    help="The tracelens image with the distributed extra, at this version "
    "(docker build -f deploy/Dockerfile --build-arg EXTRAS=distributed), in ECR.",
)
@click.option(
    "--subnets",
    metavar="SUBNET,...",
    help="Subnets for the tasks (two or more Availability Zones) with a route to S3 and to "
    "the image's registry (NAT gateway or VPC endpoints; else --public-ip).",
)
@click.option("--vpc", metavar="VPC", help="The subnets' VPC (default: found from --subnets).")
@click.option(
    "--client-cidr",
    metavar="CIDR",
    help="Who may reach the scheduler's port 8786 (default: the VPC's CIDR on creation; "
    "kept on an update): the VPC's CIDR or a /32, never wider (whoever reaches 8786 runs "
    "code as the workers' role).",
)
@click.option(
    "--workers",
    type=_range("WorkerCount"),
    help="Worker tasks, one Dask worker each (default 2 on creation; 0 stops them).",
)
@click.option(
    "--worker-cpu",
    type=click.Choice(_allowed("WorkerCpu")),
    help="CPU units of a worker task, 1024 = 1 vCPU (default 1024).",
)
@click.option(
    "--worker-memory",
    type=click.Choice(_allowed("WorkerMemory")),
    help="MiB of a worker task, a Fargate pairing with --worker-cpu (default 4096).",
)
@click.option(
    "--public-ip/--no-public-ip",
    default=None,
    help="Give the tasks public IPs: for public subnets without a NAT gateway (default: no).",
)
@click.option("--kms-key", metavar="ARN", help="The KMS key of the lake's SSE-KMS encryption.")
def up(
    stack: str,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    lake: str | None,
    image: str | None,
    subnets: str | None,
    vpc: str | None,
    client_cidr: str | None,
    workers: int | None,
    worker_cpu: str | None,
    worker_memory: str | None,
    public_ip: bool | None,
    kms_key: str | None,
) -> None:
    """Create or update the cluster's stack, wait until it runs, and print the scheduler's
    address (for --address).

    On creation --lake, --image and --subnets are needed; on an update, options not given
    keep their values (`tracelens engine up --stack lake-dask --workers 8` scales the
    workers; a new tracelens version updates the template). Progress goes to standard error,
    the address alone to standard output. The deploying identity needs the permissions of
    docs/distributed.md. Cost while it runs (us-east-1): about 0.06 USD an hour per worker of
    1 vCPU / 4 GB, 0.025 for the scheduler; `down` stops it.

    \b
      tracelens engine up --stack lake-dask --lake s3://my-lake/tracelens \\
          --image ACCOUNT.dkr.ecr.REGION.amazonaws.com/tracelens-dask:VERSION \\
          --subnets subnet-0a1b,subnet-2c3d
    """
    from tracelens.engines.fargate import ClusterSpec, deploy

    spec = ClusterSpec(
        lake=lake,
        image=image,
        subnets=_subnets(subnets),
        vpc=vpc,
        client_cidr=client_cidr,
        workers=workers,
        worker_cpu=None if worker_cpu is None else int(worker_cpu),
        worker_memory=None if worker_memory is None else int(worker_memory),
        public_ip=public_ip,
        kms_key=kms_key,
    )
    aws = _Aws(region, profile, endpoint_url)
    with _aws_errors(stack):
        where = deploy(
            aws.client("cloudformation"), aws.client("ec2"), stack, spec, progress=_progress
        )
    _progress(f"the cluster is up; from a machine in the VPC: --engine dask --address {where}")
    click.echo(where)


@engine.command()
@_aws_options
def address(stack: str, region: str | None, profile: str | None, endpoint_url: str | None) -> None:
    """Print the scheduler's address of a deployed cluster (for --address).

    \b
      tracelens store rollup --store s3://my-lake/tracelens --engine dask \\
          --address "$(tracelens engine address --stack lake-dask)"
    """
    from tracelens.engines import fargate

    aws = _Aws(region, profile, endpoint_url)
    with _aws_errors(stack):
        click.echo(fargate.address(aws.client("cloudformation"), stack))


@engine.command()
@_aws_options
def down(stack: str, region: str | None, profile: str | None, endpoint_url: str | None) -> None:
    """Delete the cluster's stack and wait until it is gone (the lake is not touched).

    \b
      tracelens engine down --stack lake-dask
    """
    from tracelens.engines.fargate import delete

    aws = _Aws(region, profile, endpoint_url)
    with _aws_errors(stack):
        deleted = delete(aws.client("cloudformation"), stack, progress=_progress)
    _progress(f"stack {stack} deleted" if deleted else f"no stack {stack}: nothing to delete")


@engine.command()
def template() -> None:
    """Print the cluster's CloudFormation template (deploy/dask-fargate.yaml), for a
    deployment pipeline of your own.

    \b
      tracelens engine template > dask-fargate.yaml
    """
    from tracelens.engines.fargate import template_body

    click.echo(template_body(), nl=False)
