"""Calling AWS with bounded retries, and counting what the calls cost.

botocore already retries throttling and transient errors (standard/adaptive mode). The
:class:`CallMeter` adds what the collectors need on top: counts per run (calls, throttles,
retries — including those botocore retried silently), a few collector-level re-calls after
botocore gives up, and a classification of errors into throttled / transient / unsupported /
denied so that each collector can decide between "retry later", "skip with a warning" and
"record a failure".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from collectors.base import CallStats, Failure, RetrySettings
from collectors.responses import INCOMPLETE_RESPONSE, check_response

if TYPE_CHECKING:
    from botocore.client import BaseClient

R = TypeVar("R")

# Errors of a request that reached, or tried to reach, the service. Anything else (invalid
# parameters, missing credentials) is a bug or a configuration error and propagates.
CALL_ERRORS: tuple[type[Exception], ...] = (ClientError, ConnectionError, HTTPClientError)

log = logging.getLogger(__name__)

# NOTE: the union of the codes botocore's standard retry mode treats as throttling and the
# ones the four services document. CloudWatch (JSON protocol, query compatible) reports
# `Throttling`; Logs Insights reports too many concurrent queries as LimitExceededException.
THROTTLING_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "SlowDown",
    }
)

TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        INCOMPLETE_RESPONSE,
    }
)

# NOTE: an endpoint that lacks an API (moto, LocalStack, a partition) answers with a generic
# 404/501 page, which botocore turns into the code "404"/"501", or with an unknown-operation
# code. Lambda's modelled ResourceNotFoundException is also a 404 but keeps its own code.
UNSUPPORTED_ERROR_CODES = frozenset(
    {"404", "501", "UnknownOperationException", "InvalidAction", "NotImplemented"}
)

ACCESS_DENIED_ERROR_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of ``exc``, or its class name for errors raised before a response."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    """The AWS error message of ``exc`` (never request parameters or credentials)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", ""))
    return str(exc)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a service error, when there was a response."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def is_throttle(exc: BaseException) -> bool:
    """True for a throttling error (the request may succeed later at a lower rate)."""
    return error_code(exc) in THROTTLING_ERROR_CODES


def is_transient(exc: BaseException) -> bool:
    """True for a 5xx, timeout or connection error (the request may succeed if sent again)."""
    if isinstance(exc, ConnectionError | HTTPClientError):
        return True
    if error_code(exc) in TRANSIENT_ERROR_CODES:
        return True
    status = http_status(exc)
    return status is not None and status >= 500 and status != 501


def is_retryable(exc: BaseException) -> bool:
    """True when the same request may succeed later."""
    return is_throttle(exc) or is_transient(exc)


def is_unsupported(exc: BaseException) -> bool:
    """True when the endpoint does not offer the API at all."""
    return error_code(exc) in UNSUPPORTED_ERROR_CODES


def is_access_denied(exc: BaseException) -> bool:
    """True when the credentials lack permission for the API."""
    return error_code(exc) in ACCESS_DENIED_ERROR_CODES


def failure_from(api: str, key: str, exc: BaseException) -> Failure:
    """A :class:`Failure` record for ``exc``."""
    return Failure(
        api=api,
        key=key,
        code=error_code(exc),
        message=error_message(exc),
        retryable=is_retryable(exc),
    )


def _retry_attempts(response: Mapping[str, Any]) -> int:
    metadata = response.get("ResponseMetadata") or {}
    return int(metadata.get("RetryAttempts", 0))


class CallMeter:
    """Makes calls for one collector run and counts them.

    Parameters
    ----------
    settings
        Collector-level re-call budget and backoff.
    sleep
        Called with a delay in seconds between collector-level re-calls (tests pass a no-op).

    Notes
    -----
    Counts are exact when a client serves one run at a time: :meth:`watching` observes every
    request the client makes while the block runs, whichever thread makes it.
    """

    def __init__(self, *, settings: RetrySettings, sleep: Callable[[float], None]) -> None:
        self._settings = settings
        self._sleep = sleep
        self._api_calls = 0
        self._throttles = 0
        self._retries = 0
        self._attempts_seen = 0
        self._hook_throttles = 0

    @property
    def stats(self) -> CallStats:
        """Counts so far."""
        return CallStats(
            api_calls=self._api_calls, throttles=self._throttles, retries=self._retries
        )

    @contextmanager
    def watching(self, client: BaseClient) -> Iterator[None]:
        """Count every HTTP attempt ``client`` makes while the block runs, and refuse answers
        cut short.

        botocore emits ``needs-retry`` once per attempt, throttled or not, before it decides
        whether to retry; the handler only observes (it returns None, so botocore's own retry
        handler still decides). ``after-call`` runs :func:`collectors.responses.check_response`,
        which turns a 2xx answer that is cut short into a transient error :meth:`call` retries.
        """
        events = client.meta.events
        events.register("needs-retry", self._on_attempt)
        events.register("after-call", check_response)
        try:
            yield
        finally:
            events.unregister("needs-retry", self._on_attempt)
            events.unregister("after-call", check_response)

    def _on_attempt(self, response: Any = None, **_: Any) -> None:
        self._attempts_seen += 1
        if response is None:
            return
        parsed = response[1]
        code = parsed.get("Error", {}).get("Code") if isinstance(parsed, Mapping) else None
        if code in THROTTLING_ERROR_CODES:
            self._hook_throttles += 1
            self._throttles += 1

    def call(self, fn: Callable[..., R], /, **params: Any) -> R:
        """``fn(**params)``, re-called with backoff on throttling or transient errors.

        Raises
        ------
        botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError
            The last error, when it is not retryable or the re-call budget is spent.
        """
        attempt = 1
        while True:
            self._api_calls += 1
            throttles_before = self._hook_throttles
            attempts_before = self._attempts_seen
            try:
                response = fn(**params)
            except CALL_ERRORS as exc:
                self._count_failed_call(exc, throttles_before, attempts_before)
                if not is_retryable(exc) or attempt >= self._settings.call_attempts:
                    raise
                self._retries += 1
                delay_s = self._settings.backoff_s(attempt)
                log.info("%s; calling again in %.1f s", error_code(exc), delay_s)
                self._sleep(delay_s)
                attempt += 1
                continue
            if isinstance(response, Mapping):
                self._retries += _retry_attempts(response)
            return response

    def _count_failed_call(
        self, exc: BaseException, throttles_before: int, attempts_before: int
    ) -> None:
        if isinstance(exc, ClientError):
            self._retries += _retry_attempts(exc.response)
        else:
            # NOTE: connection errors carry no ResponseMetadata; the hook saw each attempt.
            self._retries += max(self._attempts_seen - attempts_before - 1, 0)
        # NOTE: a throttle that reached us over HTTP was already counted by the hook; one
        # that never went over HTTP (a stubbed client) is counted here.
        if is_throttle(exc) and self._hook_throttles == throttles_before:
            self._throttles += 1
