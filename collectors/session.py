"""boto3 sessions and clients for one AWS account and region, read-only.

A :class:`AwsTarget` names where to read from: a region, optionally a named profile, a role to
assume (with an external id) and an endpoint URL (a local AWS-compatible endpoint in tests).
:class:`ClientFactory` turns it into typed clients with the collectors' retry settings. When no
``endpoint_url`` is given, botocore still honours ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` from the environment.

Nothing here calls AWS until a client makes its first request; an assumed role's credentials
are fetched on first use and refreshed before they expire.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)

from collectors.base import RetrySettings

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_xray import XRayClient

API_CALLS = frozenset({"sts:AssumeRole"})


class CredentialsError(RuntimeError):
    """No source credentials were found for the target (nothing to sign requests with)."""


@dataclass(frozen=True)
class AwsTarget:
    """One account and region to collect from.

    Attributes
    ----------
    account
        A label for the account in results and reports (not used to call AWS).
    region
        The AWS region, e.g. ``"eu-west-1"``.
    profile
        A named profile from the AWS config files; None uses the default credential chain.
    role_arn
        A role to assume with the profile's credentials, e.g. to read another account.
    external_id
        The external id the role's trust policy requires, if any.
    endpoint_url
        An explicit endpoint for every service (a local AWS-compatible server).
    role_session_name
        The session name recorded in CloudTrail for the assumed role.
    """

    account: str
    region: str
    profile: str | None = None
    role_arn: str | None = None
    # NOTE: not a credential, but it guards the role against confused-deputy use: keep it
    # out of reprs and logs anyway.
    external_id: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    role_session_name: str = "tracelens"

    def __post_init__(self) -> None:
        if not self.region:
            msg = f"AwsTarget {self.account!r} has no region; set e.g. region='us-east-1'"
            raise ValueError(msg)
        if self.external_id is not None and self.role_arn is None:
            msg = f"AwsTarget {self.account!r} sets external_id without role_arn"
            raise ValueError(msg)


class _AssumedRoleProvider(CredentialProvider):
    """Credentials of an assumed role, fetched on first use and refreshed before expiry."""

    METHOD = "tracelens-assume-role"
    CANONICAL_NAME = None

    def __init__(self, fetcher: AssumeRoleCredentialFetcher) -> None:
        super().__init__()
        self._fetcher = fetcher

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(
            refresh_using=self._fetcher.fetch_credentials, method=self.METHOD
        )


class ClientFactory:
    """Typed boto3 clients for one :class:`AwsTarget`.

    Parameters
    ----------
    target
        Where to read from.
    retry
        Retry mode, attempts and timeouts applied to every client.
    session
        A source session to use instead of one built from ``target.profile``.
    """

    def __init__(
        self,
        target: AwsTarget,
        *,
        retry: RetrySettings | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        self.target = target
        self.retry = retry or RetrySettings()
        self._source = session
        self._session: boto3.Session | None = None

    def session(self) -> boto3.Session:
        """The session clients are made from (with the assumed role's credentials, if any)."""
        if self._session is None:
            self._session = self._build_session()
        return self._session

    def xray(self) -> XRayClient:
        """An X-Ray client."""
        client: XRayClient = self.client("xray")
        return client

    def cloudwatch(self) -> CloudWatchClient:
        """A CloudWatch client."""
        client: CloudWatchClient = self.client("cloudwatch")
        return client

    def logs(self) -> CloudWatchLogsClient:
        """A CloudWatch Logs client."""
        client: CloudWatchLogsClient = self.client("logs")
        return client

    def lambda_(self) -> LambdaClient:
        """A Lambda client."""
        client: LambdaClient = self.client("lambda")
        return client

    def client(self, service: str) -> Any:
        """A client of any service (a botocore service name) with the target's region,
        endpoint and retry settings: what a collector without a typed helper here uses."""
        return self.session().client(
            service,  # type: ignore[call-overload]
            region_name=self.target.region,
            endpoint_url=self.target.endpoint_url,
            config=self.retry.botocore_config(),
        )

    def _source_session(self) -> boto3.Session:
        if self._source is not None:
            return self._source
        return boto3.Session(profile_name=self.target.profile, region_name=self.target.region)

    def _build_session(self) -> boto3.Session:
        source = self._source_session()
        if self.target.role_arn is None:
            return source
        credentials = source.get_credentials()
        if credentials is None:
            msg = (
                f"no credentials to assume {self.target.role_arn} for account "
                f"{self.target.account!r}: configure a profile or AWS_* environment variables"
            )
            raise CredentialsError(msg)
        extra_args: dict[str, str] = {"RoleSessionName": self.target.role_session_name}
        if self.target.external_id is not None:
            extra_args["ExternalId"] = self.target.external_id
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=functools.partial(
                source.client,
                region_name=self.target.region,
                endpoint_url=self.target.endpoint_url,
                config=self.retry.botocore_config(),
            ),
            source_credentials=credentials,
            role_arn=self.target.role_arn,
            extra_args=extra_args,
        )
        core = botocore.session.Session()
        core.register_component(
            "credential_provider", CredentialResolver([_AssumedRoleProvider(fetcher)])
        )
        return boto3.Session(botocore_session=core, region_name=self.target.region)
