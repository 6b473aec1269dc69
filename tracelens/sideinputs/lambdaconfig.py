"""Fields of Lambda configuration responses (names as in botocore's ``lambda`` service model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import FUNCTION_SCHEMA, empty_frame
from tracelens.sideinputs import _common as common

_LATEST = "$LATEST"


class BadFieldError(ValueError):
    """An entry refused with a reason naming the field."""


def _integer(document: dict[str, Any], key: str, *, required: bool = False) -> int | None:
    value = document.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadFieldError(f"{key} must be a non-negative integer, got {_shown(value)}")
    return value


def _string(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise BadFieldError(f"{key} must be a string, got {_shown(value)}")
    return value


def _shown(value: object) -> str:
    return common.describe_json(value)


def _object(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadFieldError(f"{key} must be an object, got {_shown(value)}")
    return value


def _architecture(configuration: dict[str, Any]) -> str | None:
    value = configuration.get("Architectures")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise BadFieldError(f"Architectures must be an array of strings, got {_shown(value)}")
    return value[0]


def _vpc(configuration: dict[str, Any]) -> tuple[bool, str | None]:
    vpc = _object(configuration, "VpcConfig")
    subnets = vpc.get("SubnetIds", [])
    if not isinstance(subnets, list):
        raise BadFieldError(f"VpcConfig.SubnetIds must be an array, got {_shown(subnets)}")
    attached = len(subnets) > 0
    return attached, (_string(vpc, "VpcId") or None) if attached else None


def configuration_row(configuration: object) -> dict[str, Any]:
    """A ``FUNCTION_SCHEMA`` row (no concurrency yet) from a ``FunctionConfiguration``."""
    if not isinstance(configuration, dict):
        raise BadFieldError(
            f"a function configuration must be an object, got {_shown(configuration)}"
        )
    name = configuration.get("FunctionName")
    if not common.is_function_name(name):
        raise BadFieldError(f"FunctionName must be a function name, got {name!r}")
    attached, vpc_id = _vpc(configuration)
    snapstart = _object(configuration, "SnapStart")
    return {
        "function_name": name,
        "function_arn": _string(configuration, "FunctionArn"),
        "runtime": _string(configuration, "Runtime"),
        "memory_size_mb": _integer(configuration, "MemorySize"),
        "timeout_s": _integer(configuration, "Timeout"),
        "architecture": _architecture(configuration),
        "code_size_bytes": _integer(configuration, "CodeSize"),
        "vpc_attached": attached,
        "vpc_id": vpc_id,
        "snapstart": _string(snapstart, "ApplyOn") == "PublishedVersions",
        "_version": _string(configuration, "Version") or _LATEST,
    }


def reserved_concurrency(concurrency: object) -> int | None:
    """``ReservedConcurrentExecutions`` of a ``get-function`` ``Concurrency`` block."""
    if concurrency is None:
        return None
    if not isinstance(concurrency, dict):
        raise BadFieldError(f"Concurrency must be an object, got {_shown(concurrency)}")
    return _integer(concurrency, "ReservedConcurrentExecutions")


def provisioned_config(config: object) -> tuple[str, str, int]:
    """``(function name, qualified ARN, allocated)`` of a provisioned concurrency config."""
    if not isinstance(config, dict):
        raise BadFieldError(
            f"a provisioned concurrency config must be an object, got {_shown(config)}"
        )
    arn = _string(config, "FunctionArn") or ""
    # arn:aws:lambda:<region>:<account>:function:<name>:<qualifier>
    parts = arn.split(":")
    if len(parts) < 7 or parts[5] != "function" or not common.is_function_name(parts[6]):
        raise BadFieldError(f"FunctionArn {arn!r} is not a Lambda function ARN")
    allocated = _integer(config, "AllocatedProvisionedConcurrentExecutions", required=True)
    return parts[6], arn, allocated or 0


def account_limits(limit: dict[str, Any]) -> tuple[int, int | None]:
    """``(ConcurrentExecutions, UnreservedConcurrentExecutions)`` of ``AccountLimit``."""
    total = _integer(limit, "ConcurrentExecutions", required=True)
    return total or 0, _integer(limit, "UnreservedConcurrentExecutions")


def _unqualified(arn: str | None) -> str | None:
    return None if arn is None else ":".join(arn.split(":")[:7])


@dataclass
class Inventory:
    """Everything read so far, keyed by function name."""

    rejections: RejectionLog
    source: str = ""
    configurations: dict[str, dict[str, Any]] = field(default_factory=dict)
    reserved: dict[str, int] = field(default_factory=dict)
    provisioned: dict[str, dict[str, int]] = field(default_factory=dict)
    account_limit: int | None = None
    unreserved_limit: int | None = None

    def reject(self, position: str, reason: str) -> None:
        self.rejections.add(self.source, position, reason)

    def add_configuration(self, row: dict[str, Any]) -> None:
        name = row["function_name"]
        known = self.configurations.get(name)
        if known is None:
            self.configurations[name] = row
            return
        arns = {_unqualified(known["function_arn"]), _unqualified(row["function_arn"])}
        if len(arns - {None}) > 1:
            raise BadFieldError(
                f"function {name!r} was already read with ARN {known['function_arn']}; "
                "pass one region and account at a time"
            )
        if known["_version"] != _LATEST and row["_version"] == _LATEST:
            self.configurations[name] = row

    def add_provisioned(self, name: str, arn: str, allocated: int) -> None:
        self.provisioned.setdefault(name, {})[arn] = allocated

    def set_account_limits(self, total: int, unreserved: int | None) -> None:
        self.account_limit, self.unreserved_limit = total, unreserved

    def frame(self) -> pl.DataFrame:
        names = list(dict.fromkeys([*self.configurations, *self.reserved, *self.provisioned]))
        rows = []
        for name in names:
            row = self.configurations.get(name) or {"function_name": name}
            provisioned = self.provisioned.get(name)
            if "function_arn" not in row and provisioned:
                row["function_arn"] = _unqualified(next(iter(provisioned)))
            row["reserved_concurrency"] = self.reserved.get(name)
            row["provisioned_concurrency"] = sum(provisioned.values()) if provisioned else None
            rows.append(row)
        if not rows:
            return empty_frame(FUNCTION_SCHEMA)
        return pl.DataFrame(rows, schema_overrides=FUNCTION_SCHEMA, strict=False)
