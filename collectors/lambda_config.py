"""Lambda configuration: functions, reserved and provisioned concurrency, account limits.

Pages come in the shapes the AWS CLI prints, which the configuration parser reads:
``list-functions`` (``{"Functions": [...]}``), ``get-function`` (``{"Configuration": ...,
"Concurrency": {"ReservedConcurrentExecutions": N}}``, built from ListFunctions and
GetFunctionConcurrency), ``list-provisioned-concurrency-configs`` and ``get-account-settings``.
An API the endpoint lacks or the credentials may not call is skipped with one warning.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from collectors.base import AwsCollector, CollectorResult, RawPage, strip_metadata
from collectors.contract import BuildContext, CollectRequest, Needs, Registration
from collectors.metering import (
    CALL_ERRORS,
    CallMeter,
    error_code,
    error_message,
    failure_from,
    is_access_denied,
    is_unsupported,
)
from collectors.paging import PAGE_ERRORS, Gathered

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient  # noqa: F401 (named by the base class)

API_CALLS = frozenset(
    {
        "lambda:ListFunctions",
        "lambda:GetFunctionConcurrency",
        "lambda:ListProvisionedConcurrencyConfigs",
        "lambda:GetAccountSettings",
    }
)

LIST_FUNCTIONS = "lambda.list_functions"
GET_FUNCTION = "lambda.get_function"
PROVISIONED = "lambda.list_provisioned_concurrency_configs"
ACCOUNT_SETTINGS = "lambda.get_account_settings"
_KINDS = {
    "lambda:ListFunctions": LIST_FUNCTIONS,
    "lambda:ListProvisionedConcurrencyConfigs": PROVISIONED,
}


@dataclass(frozen=True, kw_only=True)
class LambdaConfigResult(CollectorResult):
    """A Lambda configuration run (no time window).

    Attributes
    ----------
    function_names
        Every function ListFunctions returned, in order.
    listed
        True when ListFunctions was read to its last page: only then is ``function_names``
        the account's whole list (a listing cut off by a failure is not).
    skipped_apis
        APIs not offered by the endpoint or not permitted (explained in ``warnings``).
    """

    function_names: tuple[str, ...] = ()
    listed: bool = False
    skipped_apis: frozenset[str] = frozenset()


class _SkippedApiError(Exception):
    """An API is unavailable for the whole run (not offered, or not permitted)."""


class _Run(Gathered):
    """The mutable state of one collection run."""

    def __init__(self, meter: CallMeter) -> None:
        super().__init__(meter)
        self.skipped: set[str] = set()
        self.listed = False

    def call(self, api: str, key: str, fn: Callable[..., Any], **params: Any) -> Any:
        """``fn(**params)``; None after recording a failure; _SkippedApiError if unavailable."""
        if api in self.skipped:
            raise _SkippedApiError(api)
        try:
            return self.meter.call(fn, **params)
        except CALL_ERRORS as exc:
            self.failed(api, key, exc)
            return None

    def failed(self, api: str, key: str, exc: BaseException) -> None:
        """Record ``exc``: a failure, a warning, or (raised) an API unavailable for the run."""
        if is_unsupported(exc) or is_access_denied(exc):
            reason = "not permitted" if is_access_denied(exc) else "not offered by endpoint"
            self.skipped.add(api)
            self.warnings.append(f"{api} skipped: {reason} ({error_code(exc)})")
            raise _SkippedApiError(api) from exc
        if error_code(exc) == "ResourceNotFoundException":
            self.warnings.append(f"{api} {key}: {error_message(exc)} (deleted meanwhile?)")
        else:
            self.failures.append(failure_from(api, key, exc))

    def read_pages(
        self, api: str, key: str, client: Any, method: str, params: Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """Each page of a paginated call, kept as it arrives; stops at a failure."""
        if api in self.skipped:
            return
        try:
            yield from self.keep_pages(_KINDS[api], api, client, method, params)
        except PAGE_ERRORS as exc:
            try:
                self.failed(api, key, exc)
            except _SkippedApiError:
                return


class LambdaConfigCollector(AwsCollector["LambdaClient"]):
    """Reads the configuration of the account's Lambda functions.

    Parameters
    ----------
    **options
        ``client``, ``session``, ``retry`` and ``sleep``, as in ``AwsCollector``.
    """

    SERVICE = "lambda"

    def collect(self, *, functions: Collection[str] | None = None) -> LambdaConfigResult:
        """Functions, their concurrency settings and the account settings.

        Parameters
        ----------
        functions
            Restrict the per-function calls to these names (None: every function listed).
        """
        run = _Run(CallMeter(settings=self._retry, sleep=self._sleep))
        with run.meter.watching(self.client):
            configurations = self._list_functions(run)
            for configuration in configurations:
                name = str(configuration["FunctionName"])
                if functions is None or name in functions:
                    self._concurrency(run, configuration)
                    self._provisioned(run, name)
            self._account_settings(run)
        function_names = tuple(str(c["FunctionName"]) for c in configurations)
        return LambdaConfigResult(
            source="lambda",
            window=None,
            complete=not run.failures,
            function_names=function_names,
            listed=run.listed,
            function_list=function_names if run.listed else None,
            skipped_apis=frozenset(run.skipped),
            **run.fields(),
        )

    def _list_functions(self, run: _Run) -> list[Mapping[str, Any]]:
        api = "lambda:ListFunctions"
        configurations: list[Mapping[str, Any]] = []
        failures_before = len(run.failures) + len(run.skipped)
        for page in run.read_pages(
            api, "functions", self.client, "list_functions", {"MaxItems": 50}
        ):
            configurations.extend(page["Functions"])
        run.listed = len(run.failures) + len(run.skipped) == failures_before
        return configurations

    def _concurrency(self, run: _Run, configuration: Mapping[str, Any]) -> None:
        api = "lambda:GetFunctionConcurrency"
        name = str(configuration["FunctionName"])
        fn = self.client.get_function_concurrency
        try:
            response = run.call(api, name, fn, FunctionName=name)
        except _SkippedApiError:
            return
        if response is None:
            return
        # NOTE: the shape `aws lambda get-function` prints; Concurrency only when reserved
        # concurrency is set (0 is a setting: the function is switched off).
        page: dict[str, Any] = {"Configuration": dict(configuration)}
        reserved = response.get("ReservedConcurrentExecutions")
        if reserved is not None:
            page["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        run.pages.append(RawPage(GET_FUNCTION, api, {"FunctionName": name}, page))

    def _provisioned(self, run: _Run, name: str) -> None:
        api = "lambda:ListProvisionedConcurrencyConfigs"
        method = "list_provisioned_concurrency_configs"
        for _ in run.read_pages(api, name, self.client, method, {"FunctionName": name}):
            pass

    def _account_settings(self, run: _Run) -> None:
        api = "lambda:GetAccountSettings"
        try:
            response = run.call(api, "account", self.client.get_account_settings)
        except _SkippedApiError:
            return
        if response is not None:
            page = strip_metadata(response)
            run.pages.append(RawPage(ACCOUNT_SETTINGS, api, {}, page))


class LambdaConfigSource:
    """The Lambda configuration collector under the collector contract (no windows).

    Its results carry the function list the per-function collectors read.
    """

    name = "lambda"
    needs = Needs(window=False, lists_functions=True)

    def __init__(self, collector: LambdaConfigCollector, functions: Collection[str]) -> None:
        self.collector = collector
        self._functions = tuple(functions) or None

    def collect(self, request: CollectRequest) -> CollectorResult:
        return self.collector.collect(functions=self._functions)


def _build(context: BuildContext) -> LambdaConfigSource:
    collector = LambdaConfigCollector(**context.client_options(context.factory.lambda_()))
    return LambdaConfigSource(collector, context.functions)


REGISTRATION = Registration(
    "lambda",
    _build,
    API_CALLS,
    windows=False,
    interval=timedelta(minutes=30),
    timeout=timedelta(minutes=5),
    lag=timedelta(0),
)
