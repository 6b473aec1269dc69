"""Every collector the agent runs, in run order: a new collector is one more line here.

The function-listing collector (Lambda configuration) comes first: the per-function
collectors read the functions it lists.
"""

from __future__ import annotations

from collectors import cloudwatch, lambda_config, logs_insights, spans, xray
from collectors.contract import Registration

REGISTRY: tuple[Registration, ...] = (
    lambda_config.REGISTRATION,
    xray.REGISTRATION,
    cloudwatch.REGISTRATION,
    logs_insights.REGISTRATION,
    spans.REGISTRATION,
)

NAMES: tuple[str, ...] = tuple(registration.name for registration in REGISTRY)


def registration(name: str) -> Registration:
    """The registration of collector ``name``.

    Raises
    ------
    KeyError
        When no collector has that name.
    """
    for candidate in REGISTRY:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no collector {name!r}; known: {', '.join(NAMES)}")
