"""``tracelens agent``: the scheduled collection daemon."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from tracelens import settings
from tracelens.cli.collect import config_option, resolve_config

_QUIET_LOGGERS = ("apscheduler", "botocore", "boto3", "urllib3")


def configure_logging(default: str) -> None:
    """Log to stderr at ``$TRACELENS_LOG_LEVEL`` (else ``default``).

    Raises
    ------
    click.BadParameter
        When the variable names no logging level.
    """
    name = (settings.get(settings.LOG_LEVEL) or default).upper()
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise click.BadParameter(
            f"{name!r} is not a level (DEBUG, INFO, WARNING, ERROR)", param_hint=settings.LOG_LEVEL
        )
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    # NOTE: APScheduler logs two INFO lines per job run; the agent logs one line per cycle.
    for noisy in _QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@click.command()
@config_option()
def agent(config_path: Path | None) -> None:
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
    from tracelens.agent.runner import CollectionRunner
    from tracelens.agent.scheduler import Agent
    from tracelens.alerts.hook import AlertHook
    from tracelens.store import StoreError

    configure_logging("INFO")
    config = resolve_config(config_path)
    stop = threading.Event()
    try:
        clients = AgentClients(config)
        store = open_agent_store(config, clients)
        runner = CollectionRunner(config, store, stop=stop)
    except (StoreError, BotoCoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    alerts = AlertHook(config, store, clients)
    daemon = Agent(config, store, runner, stop=stop, alerts=alerts if alerts.enabled else None)
    names = ", ".join(s.name for s in config.enabled_collectors)
    logging.getLogger("tracelens.agent").info(
        "collecting %s from %s (%s) into %s; status file %s",
        names,
        config.aws.account,
        runner.region,
        store.url,
        config.daemon.status_file,
    )
    daemon.run_until_stopped()
