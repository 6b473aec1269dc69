"""Clients for the agent's own calls (the S3 store, alert sinks), from the configured session.

They use the same profile, assumed role, endpoint and retry settings as the collectors: one
set of credentials and one IAM policy (``tracelens config iam-policy``) for the whole agent.
"""

from __future__ import annotations

from typing import Any

from collectors.session import ClientFactory
from tracelens.agent.config import AgentConfig


class AgentClients:
    """boto3 clients of any service for ``config`` (the session is made once, on first use)."""

    def __init__(self, config: AgentConfig, *, factory: ClientFactory | None = None) -> None:
        self._config = config
        self._factory = factory or ClientFactory(config.aws.target(), retry=config.retry)

    def client(self, service: str) -> Any:
        """A client of ``service`` in the configured region, endpoint and retry settings."""
        target = self._factory.target
        return self._factory.session().client(
            service,  # type: ignore[call-overload]
            region_name=target.region,
            endpoint_url=target.endpoint_url,
            config=self._factory.retry.botocore_config(),
        )
