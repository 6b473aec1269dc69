"""Several targets ([[targets]]): read and checked like every section, shown by `config check`,
and scoping the IAM policy's sts:AssumeRole to exactly their roles."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from tests.builders.agent import invoke
from tracelens.agent.config import NO_REGION, AgentConfig, ConfigError
from tracelens.agent.config_file import final_problems, load_config, parse_config
from tracelens.agent.iam import policies_for
from tracelens.agent.once import within_budget

ROOT = Path(__file__).resolve().parents[2]
NO_ENV: dict[str, str] = {}
PROD = "arn:aws:iam::111111111111:role/tracelens-reader"
STAGING = "arn:aws:iam::222222222222:role/tracelens-reader"

TWO = {
    "aws": {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"},
    "targets": [
        {"label": "prod", "region": "eu-west-1", "role_arn": PROD, "external_id": "x-prod"},
        {"label": "staging", "role_arn": STAGING, "collectors": ["lambda", "xray"]},
    ],
}


def _problems(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, source="c.toml", environ=NO_ENV)
    return {problem.where: problem.message for problem in raised.value.problems}


def test_each_target_is_an_account_region_and_role_with_aws_defaults() -> None:
    config = parse_config(TWO, environ=NO_ENV)

    prod, staging = config.collect_targets()

    assert (prod.key, staging.key) == ("prod/eu-west-1", "staging/us-east-1")
    assert prod.aws.role_arn == PROD and prod.aws.external_id == "x-prod"
    assert staging.aws.role_arn == STAGING and staging.aws.external_id is None
    # endpoint (and profile, region) left out: [aws]'s
    assert prod.aws.endpoint_url == staging.aws.endpoint_url == "http://127.0.0.1:9"
    assert prod.collectors == ("lambda", "xray", "cloudwatch", "logs", "spans")
    assert staging.collectors == ("lambda", "xray")
    assert "x-prod" not in repr(config)  # the external id stays out of logs
    assert [key for key, _, _ in config.schedule()][:2] == [
        "prod/eu-west-1/lambda",
        "prod/eu-west-1/xray",
    ]
    assert final_problems(config) == []


def test_without_targets_the_single_aws_target_is_unchanged() -> None:
    config = parse_config({"aws": {"account": "acct", "region": "eu-west-2"}}, environ=NO_ENV)

    (target,) = config.collect_targets()

    assert target.aws == config.aws.target()
    assert [key for key, _, _ in config.schedule()] == list(config.collect_targets()[0].collectors)


def test_every_target_problem_is_reported_at_once_with_suggestions() -> None:
    problems = _problems(
        {
            "aws": {"region": "us-east-1", "role_arn": PROD},
            "targets": [
                {"lable": "prod"},
                {"label": "prod", "region": "eu-west-1", "collectors": ["xrya"]},
                {"label": "prod", "region": "eu-west-1", "role_arn": "role/x"},
                {"label": "bad label!", "external_id": "e"},
                {"label": "other", "region": "mars-1"},
                3,
            ],
        }
    )

    assert problems == {
        "c.toml: [targets #1] lable": "unknown setting; did you mean 'label'? known: label, "
        "region, role_arn, external_id, profile, endpoint_url, collectors",
        "c.toml: [targets #1] label": 'is required: the account\'s label (e.g. "prod")',
        "c.toml: [targets #2] collectors": "no collector 'xrya'; did you mean 'xray'? known: "
        "lambda, xray, cloudwatch, logs, spans",
        "c.toml: [targets #3] role_arn": "'role/x' is not an ARN "
        "(arn:aws:iam::123456789012:role/...)",
        "c.toml: [targets #3] label": "'prod' in eu-west-1 is also targets #2: two targets "
        "would share checkpoints and data; give each account and region one target",
        "c.toml: [targets #4] label": problems["c.toml: [targets #4] label"],
        "c.toml: [targets #4] external_id": "is set without role_arn; set role_arn too",
        "c.toml: [targets #5] region": "'mars-1' is not an AWS region name (like us-east-1, "
        "eu-west-2, us-gov-west-1)",
        "c.toml: [targets #6]": "must be a table, not int",
        "c.toml: [aws] role_arn": "is not used with [[targets]]: set role_arn on each target "
        "instead",
    }
    assert "bad label!" in problems["c.toml: [targets #4] label"]


def test_one_label_names_one_account_and_a_target_needs_a_region_in_the_end() -> None:
    problems = _problems(
        {
            "collectors": {"logs": {"enabled": False}},
            "targets": [
                {"label": "prod", "region": "eu-west-1", "role_arn": PROD},
                {"label": "prod", "region": "us-east-1", "role_arn": STAGING},
                {"label": "dev", "collectors": ["logs"]},
            ],
        }
    )

    assert problems["c.toml: [targets #2] role_arn"] == (
        "is in account 222222222222, but label 'prod' names account 111111111111 in "
        "targets #1: one label per account"
    )
    assert problems["c.toml: [targets #3] collectors"] == (
        "'logs' is disabled in [collectors.logs]; enable it there"
    )
    # a target without a region reads [aws]'s, which --region may still give: the region is
    # refused once the command line is applied, not while the file is read
    regionless = parse_config({"targets": [{"label": "dev"}]}, source="c.toml", environ=NO_ENV)
    assert {(p.where, p.message) for p in final_problems(regionless)} == {
        ("c.toml: [targets #1] region", NO_REGION)
    }
    assert final_problems(regionless.with_overrides(region="eu-west-1")) == []
    scoped = _problems(
        {"aws": {"region": "eu-west-1", "role_scope": "all"}, "targets": [{"label": "a"}]}
    )
    assert list(scoped) == ["c.toml: [aws] role_scope"]
    assert _problems({"targets": {"label": "x"}}) == {
        "c.toml: [targets]": "must be an array of tables: write a [[targets]] table per target"
    }


def test_the_iam_policy_assumes_exactly_the_targets_roles() -> None:
    policies = policies_for(parse_config(TWO, environ=NO_ENV))

    assume = [s for s in policies.agent["Statement"] if "sts:AssumeRole" in s["Action"]]
    assert [statement["Resource"] for statement in assume] == [[PROD, STAGING]]
    assert policies.role is not None
    assert not any("sts:AssumeRole" in s["Action"] for s in policies.role["Statement"])
    # a target read with the agent's own credentials: the agent reads too
    mixed = {**TWO, "targets": [*TWO["targets"], {"label": "own", "region": "eu-west-2"}]}  # type: ignore[list-item]
    agent = policies_for(parse_config(mixed, environ=NO_ENV)).agent
    actions = {action for s in agent["Statement"] for action in s["Action"]}
    assert {"sts:AssumeRole", "xray:GetTraceSummaries"} <= actions


def test_config_check_shows_the_targets_and_iam_policy_prints_their_roles(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        '[aws]\nregion = "us-east-1"\n\n'
        f'[[targets]]\nlabel = "prod"\nregion = "eu-west-1"\nrole_arn = "{PROD}"\n'
        'external_id = "secret-id"\n\n'
        f'[[targets]]\nlabel = "staging"\nrole_arn = "{STAGING}"\ncollectors = ["xray"]\n'
    )

    result = invoke("config", "check", "--config", str(path))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "targets:   2" in lines
    assert f"  prod (eu-west-1): role {PROD} with an external id" in lines
    assert f"  staging (us-east-1): role {STAGING}; collectors xray" in lines
    assert "secret-id" not in result.output
    policy = json.loads(invoke("config", "iam-policy", "--config", str(path)).stdout)
    resources = [s["Resource"] for s in policy["Statement"] if s["Action"] == ["sts:AssumeRole"]]
    assert resources == [[PROD, STAGING]]


def test_the_commented_example_in_the_example_file_is_a_valid_config() -> None:
    text = (ROOT / "tracelens.example.toml").read_text()
    block = re.search(r"(# \[\[targets\]\]\n(?:#.*\n)+)", text)
    assert block is not None
    uncommented = re.sub(r"^# ?", "", block.group(1), flags=re.MULTILINE)
    data = tomllib.loads('[aws]\nregion = "us-east-1"\n' + uncommented)

    config = parse_config(data, environ=NO_ENV)

    assert [t.key for t in config.collect_targets()] == [
        "prod/eu-west-1",
        "prod/us-east-1",
        "staging/eu-west-1",
    ]


def test_the_lambda_budget_is_shared_by_every_targets_collectors() -> None:
    config = parse_config(TWO, environ=NO_ENV)
    cycles = sum(len(t.collectors) for t in config.collect_targets())
    assert cycles == 7

    shared = within_budget(config, budget=timedelta(seconds=70))

    assert {s.timeout.total_seconds() for s in shared.enabled_collectors} == {10.0}


def test_command_line_endpoint_and_profile_apply_to_every_target() -> None:
    config = parse_config(TWO, environ=NO_ENV).with_overrides(endpoint_url="http://127.0.0.1:1")
    assert {t.aws.endpoint_url for t in config.collect_targets()} == {"http://127.0.0.1:1"}
    assert isinstance(load_config(None, environ=NO_ENV), AgentConfig)
