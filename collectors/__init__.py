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

from collectors import session
from collectors.base import CallStats, CollectorResult, Failure, RawPage, RetrySettings, Window
from collectors.cloudwatch import CloudWatchCollector, MetricsResult
from collectors.lambda_config import LambdaConfigCollector, LambdaConfigResult
from collectors.logs_insights import LogsInsightsCollector, LogsResult
from collectors.registry import REGISTRY
from collectors.session import AwsTarget, ClientFactory
from collectors.xray import XRayCollector, XRayResult

API_CALLS: frozenset[str] = session.API_CALLS.union(
    *(registration.api_calls for registration in REGISTRY)
)

IAM_POLICY_FILE = "iam_policy.json"

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
