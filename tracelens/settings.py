"""Every environment variable tracelens reads, as a documented constant (the only place).

Command-line options win over these; these win over the config file; the config file wins
over built-in defaults. AWS credentials, region and endpoints come from the usual ``AWS_*``
variables and files, read by botocore, never by tracelens itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

CONFIG = "TRACELENS_CONFIG"
"""Path of the agent's TOML config file, used when ``--config`` is not given."""

STORE = "TRACELENS_STORE"
"""Store location (a directory or ``s3://bucket/prefix``); overrides ``[store] url``."""

STATUS_FILE = "TRACELENS_STATUS_FILE"
"""Where the agent writes its JSON status file (last success per collector); overrides
``[agent] status_file``."""

HEALTH_PORT = "TRACELENS_HEALTH_PORT"
"""Port of the agent's health endpoint on 127.0.0.1 (0 disables it); overrides
``[agent] health_port``."""

LOG_LEVEL = "TRACELENS_LOG_LEVEL"
"""Logging level of ``tracelens agent`` and ``tracelens collect`` (``DEBUG``, ``INFO``,
``WARNING``, ``ERROR``); default ``INFO`` for the agent, ``WARNING`` otherwise."""

INGEST_PROCESSES = "TRACELENS_INGEST_PROCESSES"
"""How many processes read a large trace input (64 MiB or more) in parallel; default: the CPUs
available, at most 4. ``1`` reads everything in the command's own process."""

ACCOUNT = "TRACELENS_ACCOUNT"
"""The account label; overrides ``[aws] account`` (containers and the Lambda function are
configured with variables)."""

ROLE_ARN = "TRACELENS_ROLE_ARN"
"""A role to assume to read the account; overrides ``[aws] role_arn``."""

EXTERNAL_ID = "TRACELENS_EXTERNAL_ID"
"""The external id the role requires; overrides ``[aws] external_id``."""

SNS_TOPIC = "TRACELENS_SNS_TOPIC"
"""An SNS topic ARN alerts are published to; overrides ``[alerts] sns_topic_arn``."""

LOG_FORMAT = "TRACELENS_LOG_FORMAT"
"""``json`` for one JSON object per log line (containers, CloudWatch Logs), or ``text`` (the
default); ``--log-format`` overrides it."""

METRICS_PORT = "TRACELENS_METRICS_PORT"
"""Port of the agent's Prometheus endpoint (0 disables it); overrides ``[agent] metrics_port``."""

HEALTH_HOST = "TRACELENS_HEALTH_HOST"
"""Address the agent's health endpoint binds (default 127.0.0.1); overrides
``[agent] health_host``."""

ALL: tuple[str, ...] = (
    CONFIG,
    STORE,
    STATUS_FILE,
    HEALTH_PORT,
    HEALTH_HOST,
    LOG_LEVEL,
    INGEST_PROCESSES,
    ACCOUNT,
    ROLE_ARN,
    EXTERNAL_ID,
    SNS_TOPIC,
    LOG_FORMAT,
    METRICS_PORT,
)
"""Every variable above, for documentation and ``tracelens config check``."""


def get(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the ``TRACELENS_*`` variable ``name``, or None when unset or empty.

    Raises
    ------
    KeyError
        When ``name`` is not one of :data:`ALL` (a typo would otherwise read nothing).
    """
    if name not in ALL:
        raise KeyError(f"{name} is not a tracelens setting; known: {', '.join(ALL)}")
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None
