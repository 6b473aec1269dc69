"""One pagination helper: the pages of a call, each through the call meter, and what a
collection run gathers from them.

The token names come from botocore's paginator model for the operation (``input_token`` /
``output_token``), so every collector follows ``NextToken``, ``NextMarker`` or ``nextToken``
the same way. Each page is one metered call (re-called on throttling, 5xx and answers cut
short); an error that outlasts the re-calls is raised from the iteration, after the pages
that arrived, so the caller decides what failed. :class:`Gathered` keeps each page as a
:class:`collectors.base.RawPage` as it arrives, with the run's failures and warnings.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from collectors.base import CallStats, Failure, RawPage, strip_metadata
from collectors.metering import CALL_ERRORS, CallMeter

if TYPE_CHECKING:
    import botocore.session


class PagingError(RuntimeError):
    """An operation without a botocore paginator, or one that repeats its token."""


# What a loop over :func:`paginate` catches to record a failure.
PAGE_ERRORS: tuple[type[Exception], ...] = (*CALL_ERRORS, PagingError)


@functools.cache
def _paginator_models() -> botocore.session.Session:
    # NOTE: imported on first use: the store reads this package without a client.
    import botocore.session  # noqa: PLC0415

    return botocore.session.get_session()


@functools.cache
def tokens(service: str, api_version: str, operation: str) -> tuple[str, str]:
    """``(input_token, output_token)`` of ``operation`` from botocore's paginator model.

    Raises
    ------
    PagingError
        When botocore has no paginator for the operation (or it has several tokens).
    """
    try:
        model = _paginator_models().get_paginator_model(service, api_version)
        config = model.get_paginator(operation)
    except Exception as exc:  # NOTE: botocore raises ValueError or DataNotFoundError here
        raise PagingError(f"{service} {operation} has no paginator in botocore") from exc
    input_token, output_token = config["input_token"], config["output_token"]
    if not isinstance(input_token, str) or not isinstance(output_token, str):
        raise PagingError(f"{service} {operation} paginates with several tokens")
    return input_token, output_token


def paginate(
    meter: CallMeter,
    client: Any,
    method: str,
    params: Mapping[str, Any],
    *,
    token_names: tuple[str, str] | None = None,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(request, page)`` for each page of ``client.<method>(**params)``, in order.

    ``request`` is the parameters of that page's call (with its token); ``page`` the parsed
    answer without ``ResponseMetadata``. ``token_names`` (input, output) is for the few
    operations whose model has a token but botocore no paginator (X-Ray GetIndexingRules).

    Raises
    ------
    botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError
        From the iteration, when a page's call failed for good (see :meth:`CallMeter.call`).
    PagingError
        When the endpoint hands back the token it was just given (it would loop forever).
    """
    meta = client.meta
    operation = meta.method_to_api_mapping[method]
    service_model = meta.service_model
    input_token, output_token = token_names or tokens(
        service_model.service_name, service_model.api_version, operation
    )
    request = dict(params)
    fn = getattr(client, method)
    while True:
        page = strip_metadata(meter.call(fn, **request))
        yield dict(request), page
        token = page.get(output_token)
        if not token:
            return
        if token == request.get(input_token):
            raise PagingError(f"{operation} answered with the token it was given: {token!r}")
        request[input_token] = token


class GatheredFields(TypedDict):
    """The fields of a :class:`collectors.base.CollectorResult` a :class:`Gathered` fills."""

    pages: tuple[RawPage, ...]
    failures: tuple[Failure, ...]
    warnings: tuple[str, ...]
    stats: CallStats


class Gathered:
    """What one collection run has gathered so far: the pages kept (in the order received),
    what failed, the warnings, and the call meter every call of the run goes through.

    Each collector's run state extends it with what it tracks besides.
    """

    def __init__(self, meter: CallMeter) -> None:
        self.meter = meter
        self.pages: list[RawPage] = []
        self.failures: list[Failure] = []
        self.warnings: list[str] = []

    def keep_pages(
        self,
        kind: str,
        api: str,
        client: Any,
        method: str,
        params: Mapping[str, Any],
        *,
        token_names: tuple[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Each page of ``client.<method>(**params)`` (:func:`paginate`), kept as a
        ``RawPage(kind, api, request, page)`` before it is handed on.

        Raises
        ------
        botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, PagingError
            From the iteration, as :func:`paginate`, after the pages that arrived were kept.
        """
        for request, page in paginate(self.meter, client, method, params, token_names=token_names):
            self.pages.append(RawPage(kind, api, request, page))
            yield page

    def fields(self) -> GatheredFields:
        """``pages``, ``failures``, ``warnings`` and ``stats`` as a result takes them."""
        return GatheredFields(
            pages=tuple(self.pages),
            failures=tuple(self.failures),
            warnings=tuple(self.warnings),
            stats=self.meter.stats,
        )
