"""``tracelens agent``: the scheduled collection daemon."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tracelens.cli.collect import config_option, resolve_config

F = TypeVar("F", bound=Callable[..., Any])


def configure_logging(default: str, fmt: str | None = None) -> None:
    """Log to stderr at ``$TRACELENS_LOG_LEVEL`` (else ``default``), as text or JSON
    (``--log-format``, else ``$TRACELENS_LOG_FORMAT``).

    Raises
    ------
    click.BadParameter
        When the level or the format names nothing known.
    """
    from tracelens.agent.logsetup import LoggingError, resolve
    from tracelens.agent.logsetup import configure_logging as apply

    try:
        level, shape = resolve(None, fmt, default_level=default)
    except LoggingError as exc:
        raise click.BadParameter(str(exc)) from exc
    apply(level, shape)


def log_format_option() -> Callable[[F], F]:
    """``--log-format text|json``."""
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        help="Log lines as text, or one JSON object each for containers and CloudWatch "
        "(default: $TRACELENS_LOG_FORMAT, else text).",
    )


@click.command()
@config_option()
@log_format_option()
def agent(config_path: Path | None, log_format: str | None) -> None:
    """Run the collection daemon: every collector on its own interval (timeout, lag), the HTML
    report rewritten on its own interval, and a status file (plus an optional health endpoint
    on 127.0.0.1) showing the last success of each collector.

    A failing collector never stops the others. SIGTERM or Ctrl-C finishes the current write
    and exits. Check the config first with `tracelens config check`; the agent only reads AWS
    (minimal IAM policy: collectors/iam_policy.json).
    """
    import threading

    from botocore.exceptions import BotoCoreError

    from tracelens.agent.aws import AgentClients, open_agent_store
    from tracelens.agent.runner import build_runners
    from tracelens.agent.scheduler import Agent, EndpointError
    from tracelens.alerts.hook import AlertHook
    from tracelens.store import StoreError

    configure_logging("INFO", log_format)
    config = resolve_config(config_path)
    stop = threading.Event()
    try:
        clients = AgentClients(config)
        store = open_agent_store(config, clients)
        runners = build_runners(config, store, stop=stop)
    except (StoreError, BotoCoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    alerts = AlertHook(config, store, clients)
    daemon = Agent(config, store, runners, stop=stop, alerts=alerts if alerts.enabled else None)
    for runner in runners:
        logging.getLogger("tracelens.agent").info(
            "collecting %s from %s (%s) into %s; status file %s",
            ", ".join(runner.target.collectors),
            runner.account,
            runner.region,
            store.url,
            config.daemon.status_file,
        )
    try:
        daemon.run_until_stopped()
    except EndpointError as exc:
        raise click.ClickException(str(exc)) from exc
