"""The least-privilege IAM policies for a configuration (``tracelens config iam-policy``).

The collectors' read-only statements come from ``collectors/iam_policy.json``; to them this
adds what the configuration needs: the S3 store's calls on its bucket and prefix, publishing
to the alert topic or bus, and ``sts:AssumeRole`` on the configured roles only (``[aws]
role_arn``, or every ``[[targets]]`` role). With a role,
the statements are split between the agent's own principal and the role (see
``[aws] role_scope``).
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from collectors import IAM_POLICY_FILE
from tracelens.agent.config import AgentConfig
from tracelens.store.s3 import parse_s3_url

Statement = dict[str, Any]
Principal = Literal["agent", "role"]
ASSUME_ROLE = "sts:AssumeRole"

# Every S3 call of the store (tracelens/store/s3.py) and of the report upload, as IAM actions.
STORE_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
STORE_LIST_ACTIONS = ("s3:ListBucket",)  # ListObjectsV2


@dataclass(frozen=True)
class Policies:
    """The agent's policy, and the role's when the config assumes one."""

    agent: dict[str, Any]
    role: dict[str, Any] | None


def read_only_statements() -> list[Statement]:
    """The collectors' read statements of the shipped policy (without ``sts:AssumeRole``)."""
    text = importlib.resources.files("collectors").joinpath(IAM_POLICY_FILE).read_text("utf-8")
    statements: list[Statement] = json.loads(text)["Statement"]
    return [s for s in statements if ASSUME_ROLE not in s["Action"]]


def partition_of(region: str | None) -> str:
    """``aws``, ``aws-cn`` or ``aws-us-gov`` for ``region``."""
    if not region:
        return "aws"
    try:
        return str(boto3.Session().get_partition_for_region(region))
    except Exception:  # NOTE: an unknown region: the commercial partition.
        return "aws"


def store_statements(store_url: str, partition: str) -> list[Statement]:
    """The store's calls on its bucket and prefix (none for a local store)."""
    if not store_url.startswith("s3://"):
        return []
    bucket, prefix = parse_s3_url(store_url)
    objects = (
        f"arn:{partition}:s3:::{bucket}/{prefix}/*"
        if prefix
        else f"arn:{partition}:s3:::{bucket}/*"
    )
    listing: Statement = {
        "Sid": "ListStore",
        "Effect": "Allow",
        "Action": list(STORE_LIST_ACTIONS),
        "Resource": f"arn:{partition}:s3:::{bucket}",
    }
    if prefix:
        listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    return [
        {
            "Sid": "StoreObjects",
            "Effect": "Allow",
            "Action": list(STORE_OBJECT_ACTIONS),
            "Resource": objects,
        },
        listing,
    ]


def alert_statements(config: AgentConfig, partition: str) -> list[Statement]:
    """Publishing to the configured SNS topic and EventBridge bus."""
    alerts = config.alerts
    statements: list[Statement] = []
    if alerts.sns_topic_arn:
        statements.append(
            {
                "Sid": "PublishAlerts",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": alerts.sns_topic_arn,
            }
        )
    if alerts.event_bus:
        bus = alerts.event_bus
        if not bus.startswith("arn:"):
            region = config.agent_region() or "*"
            bus = f"arn:{partition}:events:{region}:*:event-bus/{bus}"
        statements.append(
            {
                "Sid": "PutAlertEvents",
                "Effect": "Allow",
                "Action": ["events:PutEvents"],
                "Resource": bus,
            }
        )
    return statements


def policies_for(config: AgentConfig) -> Policies:
    """The least-privilege policies of ``config``."""
    partition = partition_of(config.agent_region())
    reads = read_only_statements()
    own = store_statements(config.store.url, partition) + alert_statements(config, partition)
    roles = config.role_arns
    if not roles:
        return Policies(agent=_document(reads + own), role=None)
    assume: Statement = {
        "Sid": "AssumeReaderRole",
        "Effect": "Allow",
        "Action": [ASSUME_ROLE],
        "Resource": roles[0] if len(roles) == 1 else list(roles),
    }
    if config.targets:
        # NOTE: the store and the alerts use the agent's own credentials; a target without a
        # role is read with them too.
        mine = reads if any(target.role_arn is None for target in config.targets) else []
        return Policies(agent=_document([*mine, *own, assume]), role=_document(reads))
    if config.aws.role_scope == "all":
        return Policies(agent=_document([assume]), role=_document(reads + own))
    return Policies(agent=_document([*own, assume]), role=_document(reads))


def _document(statements: list[Statement]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}
