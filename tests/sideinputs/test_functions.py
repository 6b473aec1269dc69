"""Side inputs: Lambda configuration outputs (functions.py reading files, lambdaconfig.py the fields)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.builders.sideinputs import (
    BAD,
    FIXTURES,
    write,
)
from tracelens.ingest.rejections import RejectionLog
from tracelens.schema import FUNCTION_SCHEMA
from tracelens.sideinputs import (
    FunctionInventory,
    load_functions,
)


def functions_of(*paths: Path) -> tuple[FunctionInventory, RejectionLog]:
    rejections = RejectionLog()
    return load_functions(list(paths), rejections=rejections), rejections


def test_function_inventory_from_every_configuration_output() -> None:
    inventory, rejections = functions_of(FIXTURES / "functions")
    assert rejections.count == 0
    assert inventory.functions.schema == pl.Schema(FUNCTION_SCHEMA)
    assert inventory.account_concurrency_limit == 1000
    assert inventory.unreserved_concurrency_limit == 950
    rows = {row["function_name"]: row for row in inventory.functions.to_dicts()}
    assert list(rows) == ["checkout", "orders", "payments", "snap"]
    assert rows["checkout"] == {
        "function_name": "checkout",
        "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:checkout",
        "runtime": "nodejs20.x",
        "memory_size_mb": 512,
        "timeout_s": 15,
        "architecture": "arm64",
        "code_size_bytes": 5797206,
        "vpc_attached": True,
        "vpc_id": "vpc-0a1b2c3d4e5f60718",
        "snapstart": False,
        "reserved_concurrency": 50,
        "provisioned_concurrency": 24,  # 20 (live) + 4 allocated (canary)
    }
    assert (rows["orders"]["vpc_attached"], rows["orders"]["vpc_id"]) == (False, None)
    assert (rows["payments"]["vpc_attached"], rows["payments"]["vpc_id"]) == (False, None)
    assert rows["snap"]["snapstart"] is True
    assert rows["orders"]["reserved_concurrency"] is None
    assert rows["orders"]["provisioned_concurrency"] is None


def test_get_function_concurrency_cannot_be_attributed() -> None:
    inventory, rejections = functions_of(BAD / "get-function-concurrency.json")
    assert inventory.functions.height == 0
    [rejection] = rejections.listed
    assert rejection.position == "whole file"
    assert "names no function" in rejection.reason
    assert "aws lambda get-function" in rejection.reason


def test_bad_configuration_entries_are_refused_one_by_one(tmp_path: Path) -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:"
    listing = {
        "Functions": [
            {"FunctionName": "good", "FunctionArn": arn + "good", "MemorySize": 128, "Timeout": 3},
            {"FunctionName": "bad", "FunctionArn": arn + "bad", "MemorySize": "128"},
            {"FunctionName": "good", "FunctionArn": arn.replace("eu-west-1", "us-east-1") + "good"},
            {"FunctionName": "good", "FunctionArn": arn + "good:3", "Version": "3", "Timeout": 9},
            {"FunctionName": "vpc", "FunctionArn": arn + "vpc", "VpcConfig": {"SubnetIds": "x"}},
        ]
    }
    provisioned = {
        "ProvisionedConcurrencyConfigs": [
            {"FunctionArn": arn + "warm:live", "AllocatedProvisionedConcurrentExecutions": 5},
            {"FunctionArn": "not-an-arn", "AllocatedProvisionedConcurrentExecutions": 5},
            {"FunctionArn": arn + "warm:blue", "AllocatedProvisionedConcurrentExecutions": -1},
        ]
    }
    account = {"AccountLimit": {"ConcurrentExecutions": "lots"}}
    text = "\n".join(json.dumps(d, indent=2) for d in (listing, provisioned, account))
    inventory, rejections = functions_of(write(tmp_path, "lambda.json", text))
    rows = {row["function_name"]: row for row in inventory.functions.to_dicts()}
    assert list(rows) == ["good", "warm"]
    assert rows["good"]["timeout_s"] == 3  # $LATEST wins over version 3
    assert rows["warm"]["provisioned_concurrency"] == 5
    assert rows["warm"]["function_arn"] == arn + "warm"
    assert rows["warm"]["vpc_attached"] is None  # configuration unknown
    assert inventory.account_concurrency_limit is None
    listed = {r.position: r.reason for r in rejections.listed}
    assert listed["line 1: Functions[1]"] == (
        "invalid function configuration: MemorySize must be a non-negative integer, got a string"
    )
    assert "already read with ARN" in listed["line 1: Functions[2]"]
    assert "SubnetIds must be an array" in listed["line 1: Functions[4]"]
    assert "is not a Lambda function ARN" in listed["line 33: ProvisionedConcurrencyConfigs[1]"]
    assert "non-negative" in listed["line 33: ProvisionedConcurrencyConfigs[2]"]
    assert listed["line 49: AccountLimit"].startswith("invalid account settings: ConcurrentExec")
    assert rejections.count == 6


def test_unknown_function_files_are_one_rejection_each() -> None:
    inventory, rejections = functions_of(BAD / "durations.csv", FIXTURES / "metrics" / "page1.json")
    assert inventory.functions.schema == pl.Schema(FUNCTION_SCHEMA)
    first, second = rejections.listed
    assert first.reason.startswith("unknown format: not JSON; accepted formats: `aws lambda")
    assert "pass it with --metrics" in second.reason
