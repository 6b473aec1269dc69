"""A successful response must be whole: the keys its API always returns, every byte announced.

botocore hands back HTTP 200 with an empty result when a JSON body is cut short (its parser
reads an unparsable body as "no members"), so a list key that is missing would read as
"nothing there" and a window would be passed over for good. :func:`check_response` runs after
every call a :class:`collectors.metering.CallMeter` watches and raises
:class:`IncompleteResponseError` instead; the meter calls again (it is transient), and a
collector that still gets no whole answer records a retryable failure, so its window stays
incomplete and its checkpoint does not move.

Which keys are required
-----------------------
botocore's output shapes mark no member of these operations ``required``, so the model's
``required`` list cannot say it. The rule used here:

1. The result list of an operation with a botocore paginator (its ``result_key``) is always
   returned, as an empty list when there is nothing: ``TraceSummaries``, ``Traces``,
   ``Functions``, ``ProvisionedConcurrencyConfigs``, ``MetricDataResults``, ``events``. Where a
   paginator names two result keys, only the one that is the payload is required (``Messages``
   and the deprecated ``searchedLogStreams`` may be absent).
2. The one member without which the answer means nothing, for operations without a paginator:
   StartQuery's ``queryId``, GetQueryResults' ``status`` (and ``results`` once the status is
   ``Complete``), GetAccountSettings' ``AccountLimit``, GetTraceSegmentDestination's
   ``Destination`` and ``Status``, GetIndexingRules' ``IndexingRules``.
3. Never required: pagination tokens (absent on the last page), members absent by design when
   unset (GetFunctionConcurrency's ``ReservedConcurrentExecutions``: an empty answer means no
   reserved concurrency), and best-effort calls (StopQuery).

A body shorter than its ``Content-Length`` is refused for every operation, whatever its keys:
that also covers answers such as GetFunctionConcurrency's whose keys may all be absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

INCOMPLETE_RESPONSE = "IncompleteResponse"

REQUIRED_KEYS: Mapping[str, frozenset[str]] = {
    "xray:GetTraceSummaries": frozenset({"TraceSummaries"}),
    "xray:BatchGetTraces": frozenset({"Traces"}),
    "xray:GetTraceSegmentDestination": frozenset({"Destination", "Status"}),
    "xray:GetIndexingRules": frozenset({"IndexingRules"}),
    "logs:StartQuery": frozenset({"queryId"}),
    "logs:GetQueryResults": frozenset({"status"}),
    "logs:StopQuery": frozenset(),
    "logs:FilterLogEvents": frozenset({"events"}),
    "cloudwatch:GetMetricData": frozenset({"MetricDataResults"}),
    "lambda:ListFunctions": frozenset({"Functions"}),
    "lambda:GetFunctionConcurrency": frozenset(),
    "lambda:ListProvisionedConcurrencyConfigs": frozenset({"ProvisionedConcurrencyConfigs"}),
    "lambda:GetAccountSettings": frozenset({"AccountLimit"}),
}

# Keys required only in some states of the answer: (api, key, state key, state value).
_CONDITIONAL: tuple[tuple[str, str, str, str], ...] = (
    ("logs:GetQueryResults", "results", "status", "Complete"),
)

# botocore's service name -> IAM prefix, where they differ.
_IAM_PREFIX = {"monitoring": "cloudwatch"}


class IncompleteResponseError(ClientError):
    """A 2xx response that is cut short or lacks a key its API always returns."""

    def __init__(self, api: str, detail: str) -> None:
        message = f"{api} answered without {detail}: the response was cut short; read it again"
        response: Any = {
            "Error": {"Code": INCOMPLETE_RESPONSE, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }
        super().__init__(response, api.partition(":")[2])


def iam_action(model: Any) -> str:
    """The IAM action of a botocore ``OperationModel``, e.g. ``"cloudwatch:GetMetricData"``."""
    service = str(model.service_model.service_name)
    return f"{_IAM_PREFIX.get(service, service)}:{model.name}"


def missing_keys(api: str, parsed: Mapping[str, Any]) -> list[str]:
    """The keys ``api`` always returns that ``parsed`` lacks (none for unlisted APIs)."""
    missing = sorted(key for key in REQUIRED_KEYS.get(api, frozenset()) if key not in parsed)
    for name, key, state_key, state in _CONDITIONAL:
        if name == api and parsed.get(state_key) == state and key not in parsed:
            missing.append(key)
    return missing


def short_body(http_response: Any) -> tuple[int, int] | None:
    """``(received, announced)`` bytes when the body is shorter than its Content-Length."""
    if getattr(http_response, "raw", None) is None:
        return None  # a stubbed response: no bytes went over the wire
    announced = http_response.headers.get("content-length")
    if announced is None or not str(announced).isdigit():
        return None
    received = len(http_response.content)
    return (received, int(announced)) if received < int(announced) else None


def check_response(
    http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any
) -> None:
    """botocore ``after-call`` handler: raise :class:`IncompleteResponseError` on a cut answer.

    Error responses (status 300 and above) are left to botocore, which raises them next.
    """
    if model is None or http_response is None or http_response.status_code >= 300:
        return
    api = iam_action(model)
    short = short_body(http_response)
    if short is not None:
        received, announced = short
        raise IncompleteResponseError(api, f"its whole body ({received} of {announced} bytes)")
    if isinstance(parsed, Mapping):
        missing = missing_keys(api, parsed)
        if missing:
            raise IncompleteResponseError(api, " and ".join(missing))
