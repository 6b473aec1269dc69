"""Clients for the agent's own calls (the S3 store, alert sinks), from the configured session.

They use the configured profile, endpoint and retry settings, like the collectors. The role of
``[aws] role_arn`` is assumed for them too only with ``role_scope = "all"``: by default it is
the role the collectors read the account through, while the store and the alert topic belong
to the agent's own account (``tracelens config iam-policy`` prints the policies that follow).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from collectors.session import ClientFactory
from tracelens.agent.config import AgentConfig
from tracelens.store import Store, open_store


class AgentClients:
    """boto3 clients of any service for ``config`` (the session is made once, on first use)."""

    def __init__(self, config: AgentConfig, *, factory: ClientFactory | None = None) -> None:
        self._config = config
        if factory is None:
            # NOTE: with [[targets]] and no [aws] region, the agent's own calls go to the
            # first target's region.
            target = replace(config.aws, region=config.agent_region()).target()
            if config.aws.role_scope == "collect":
                target = replace(target, role_arn=None, external_id=None)
            factory = ClientFactory(target, retry=config.retry)
        self._factory = factory

    def client(self, service: str) -> Any:
        """A client of ``service`` in the configured region, endpoint and retry settings."""
        target = self._factory.target
        return self._factory.session().client(
            service,  # type: ignore[call-overload]
            region_name=target.region,
            endpoint_url=target.endpoint_url,
            config=self._factory.retry.botocore_config(),
        )


def open_agent_store(config: AgentConfig, clients: AgentClients) -> Store:
    """The configured store; on S3, through the configured session (profile, role, endpoint,
    retry settings) rather than a default one.

    Raises
    ------
    StoreError
        When the location is malformed or is an existing file.
    """
    if config.store.url.startswith("s3://"):
        return open_store(config.store.url, s3_client=clients.client("s3"))
    return open_store(config.store.url)
