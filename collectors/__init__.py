"""Collectors pull data from AWS APIs and return it; they never write files or render.

One module per source: :mod:`collectors.xray`, :mod:`collectors.cloudwatch`,
:mod:`collectors.logs_insights`, :mod:`collectors.lambda_config`. Each keeps one contract
(:mod:`collectors.contract`): it declares what it needs, is built from one client factory
(:mod:`collectors.session`), and returns raw pages plus what failed
(:class:`collectors.base.CollectorResult`); :mod:`collectors.registry` lists them.
:mod:`collectors.paging` follows pagination tokens and :mod:`collectors.responses` refuses
answers cut short.

``API_CALLS`` lists every AWS API the collectors call, as IAM actions; the shipped least-privilege
policy (``collectors/iam_policy.json``) must allow each of them and nothing that writes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collectors.base import (
        CallStats,
        CollectorResult,
        Failure,
        RawPage,
        RetrySettings,
        Window,
    )
    from collectors.cloudwatch import CloudWatchCollector, MetricsResult
    from collectors.lambda_config import LambdaConfigCollector, LambdaConfigResult
    from collectors.logs_insights import LogsInsightsCollector, LogsResult
    from collectors.session import AwsTarget, ClientFactory
    from collectors.xray import XRayCollector, XRayResult

    API_CALLS: frozenset[str]

IAM_POLICY_FILE = "iam_policy.json"

# NOTE: each name is imported on first use (PEP 562): the store reads collectors.base's result
# types, and `analyze --store` should not pay for boto3 and every collector (~0.3 s).
_WHERE = {
    "CallStats": "collectors.base",
    "CollectorResult": "collectors.base",
    "Failure": "collectors.base",
    "RawPage": "collectors.base",
    "RetrySettings": "collectors.base",
    "Window": "collectors.base",
    "CloudWatchCollector": "collectors.cloudwatch",
    "MetricsResult": "collectors.cloudwatch",
    "LambdaConfigCollector": "collectors.lambda_config",
    "LambdaConfigResult": "collectors.lambda_config",
    "LogsInsightsCollector": "collectors.logs_insights",
    "LogsResult": "collectors.logs_insights",
    "AwsTarget": "collectors.session",
    "ClientFactory": "collectors.session",
    "XRayCollector": "collectors.xray",
    "XRayResult": "collectors.xray",
}


def __getattr__(name: str) -> object:
    if name == "API_CALLS":
        return _api_calls()
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _api_calls() -> frozenset[str]:
    """Every AWS API the collectors call, as IAM actions."""
    from collectors import session  # noqa: PLC0415 - boto3 loads only for clients
    from collectors.registry import REGISTRY  # noqa: PLC0415

    return session.API_CALLS.union(*(registration.api_calls for registration in REGISTRY))


__all__ = [
    "API_CALLS",
    "IAM_POLICY_FILE",
    "AwsTarget",
    "CallStats",
    "ClientFactory",
    "CloudWatchCollector",
    "CollectorResult",
    "Failure",
    "LambdaConfigCollector",
    "LambdaConfigResult",
    "LogsInsightsCollector",
    "LogsResult",
    "MetricsResult",
    "RawPage",
    "RetrySettings",
    "Window",
    "XRayCollector",
    "XRayResult",
]
