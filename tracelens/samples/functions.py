"""Function configuration as the Lambda CLI prints it: ``list-functions``, ``get-function``
(the only place reserved concurrency appears), ``list-provisioned-concurrency-configs`` and
``get-account-settings``."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tracelens.samples.app import (
    ACCOUNT_CONCURRENCY_LIMIT,
    ACCOUNT_ID,
    FUNCTIONS,
    LAMBDA_SECURITY_GROUP,
    PRIVATE_SUBNETS,
    REGION,
    VPC_ID,
    FunctionSpec,
)


@dataclass(frozen=True)
class FunctionResponses:
    """The configuration API responses, keyed by function name where per function."""

    list_functions: dict[str, Any]
    get_function: dict[str, dict[str, Any]]  # functions with reserved concurrency
    provisioned_concurrency: dict[str, dict[str, Any]]  # functions with provisioned concurrency
    account_settings: dict[str, Any]


def _stamp(t: datetime) -> str:
    """Lambda's ``LastModified`` format: ``2026-11-02T14:21:07.000+0000``."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def configuration(spec: FunctionSpec, start: datetime) -> dict[str, Any]:
    """One ``FunctionConfiguration`` (the ``$LATEST`` version) as ListFunctions returns it."""
    seed = _digest(spec.name)
    modified = start - timedelta(days=3 + int(seed[:2], 16) % 20, seconds=int(seed[2:6], 16))
    config: dict[str, Any] = {
        "FunctionName": spec.name,
        "FunctionArn": spec.arn,
        "Runtime": spec.runtime,
        "Role": f"arn:aws:iam::{ACCOUNT_ID}:role/{spec.name}-role",
        "Handler": spec.handler,
        "CodeSize": spec.code_size_bytes,
        "Description": spec.description,
        "Timeout": spec.timeout_s,
        "MemorySize": spec.memory_mb,
        "LastModified": _stamp(modified.astimezone(UTC)),
        "CodeSha256": base64.b64encode(bytes.fromhex(_digest(spec.arn))).decode(),
        "Version": "$LATEST",
        "VpcConfig": {
            "SubnetIds": list(PRIVATE_SUBNETS) if spec.vpc else [],
            "SecurityGroupIds": [LAMBDA_SECURITY_GROUP] if spec.vpc else [],
            "VpcId": VPC_ID if spec.vpc else "",
            "Ipv6AllowedForDualStack": False,
        },
        "TracingConfig": {"Mode": "Active"},
        "RevisionId": f"{seed[8:16]}-{seed[16:20]}-4{seed[21:24]}-a{seed[25:28]}-{seed[28:40]}",
    }
    if spec.layers:
        config["Layers"] = [{"Arn": arn, "CodeSize": 4_918_243} for arn in spec.layers]
    config.update(
        {
            "PackageType": "Zip",
            "Architectures": [spec.architecture],
            "EphemeralStorage": {"Size": 512},
            # NOTE: SnapStart applies to published versions; $LATEST always reports "Off".
            "SnapStart": {
                "ApplyOn": "PublishedVersions" if spec.snapstart else "None",
                "OptimizationStatus": "Off",
            },
            "LoggingConfig": {"LogFormat": spec.log_format, "LogGroup": spec.log_group},
        }
    )
    if spec.log_format == "JSON":
        config["LoggingConfig"].update({"ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"})
    return config


def function_responses(start: datetime) -> FunctionResponses:
    """All configuration responses for the sample application."""
    configs = {spec.name: configuration(spec, start) for spec in FUNCTIONS}
    get_function = {
        spec.name: {
            "Configuration": {
                **configs[spec.name],
                "State": "Active",
                "LastUpdateStatus": "Successful",
            },
            "Code": {
                "RepositoryType": "S3",
                "Location": f"https://awslambda-{REGION}-tasks.s3.{REGION}.amazonaws.com/"
                f"snapshots/{ACCOUNT_ID}/{spec.name}-{_digest(spec.arn)[:36]}",
            },
            "Tags": {"app": "shop", "team": "orders"},
            "Concurrency": {"ReservedConcurrentExecutions": spec.reserved_concurrency},
        }
        for spec in FUNCTIONS
        if spec.reserved_concurrency is not None
    }
    provisioned = {
        spec.name: {
            "ProvisionedConcurrencyConfigs": [
                {
                    "FunctionArn": spec.invoked_arn,
                    "RequestedProvisionedConcurrentExecutions": spec.provisioned_concurrency,
                    "AvailableProvisionedConcurrentExecutions": spec.provisioned_concurrency,
                    "AllocatedProvisionedConcurrentExecutions": spec.provisioned_concurrency,
                    "Status": "READY",
                    "LastModified": _stamp((start - timedelta(minutes=21)).astimezone(UTC)),
                }
            ]
        }
        for spec in FUNCTIONS
        if spec.provisioned_concurrency
    }
    reserved = sum(spec.reserved_concurrency or 0 for spec in FUNCTIONS)
    settings = {
        "AccountLimit": {
            "TotalCodeSize": 80_530_636_800,
            "CodeSizeUnzipped": 262_144_000,
            "CodeSizeZipped": 52_428_800,
            "ConcurrentExecutions": ACCOUNT_CONCURRENCY_LIMIT,
            "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY_LIMIT - reserved,
        },
        "AccountUsage": {
            "TotalCodeSize": sum(spec.code_size_bytes for spec in FUNCTIONS),
            "FunctionCount": len(FUNCTIONS),
        },
    }
    return FunctionResponses(
        {"Functions": list(configs.values())}, get_function, provisioned, settings
    )
