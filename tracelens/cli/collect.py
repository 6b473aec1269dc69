"""``tracelens collect --once``: one collection cycle of every collector, then exit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from tracelens.agent.config import AgentConfig, ConfigError
from tracelens.agent.outcome import one_line
from tracelens.cli.options import aws_access, compose
from tracelens.timewindow import TimeWindowError, parse_instant

F = TypeVar("F", bound=Callable[..., Any])
MAX_WARNINGS_SHOWN = 5


def config_option() -> Callable[[F], F]:
    """``--config FILE`` (default: ``$TRACELENS_CONFIG``, else built-in defaults)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The agent's TOML config (default: $TRACELENS_CONFIG, else built-in defaults; "
        "see tracelens.example.toml).",
    )


def aws_options(function: F) -> F:
    """``--store``, ``--since``, ``--region``, ``--profile``, ``--endpoint-url``."""
    return compose(
        click.option(
            "--store",
            metavar="DIR|s3://BUCKET/PREFIX",
            help="Where to store data (default: $TRACELENS_STORE, else [store] url, else "
            "./tl-data).",
        ),
        click.option(
            "--since",
            metavar="WHEN",
            help="How far back a collector's first run reads (e.g. 3h, or an ISO 8601 time); "
            "later runs resume from their checkpoint.",
        ),
        aws_access(region_help="AWS region to collect from."),
    )(function)


def look_back(since: str | None) -> timedelta | None:
    """``--since`` as a look-back from now (None when not given)."""
    if since is None:
        return None
    now = datetime.now(UTC)
    try:
        start = parse_instant(since, now=now)
    except TimeWindowError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    if start >= now:
        raise click.BadParameter(f"{since!r} is not in the past", param_hint="--since")
    return now - start


def resolve_config(config_path: Path | None, **overrides: Any) -> AgentConfig:
    """The config file with command-line overrides, or one clear error listing every problem."""
    from tracelens.agent.config_file import final_problems, load_config, with_region_from_profile

    try:
        config = load_config(config_path).with_overrides(**overrides)
        config = with_region_from_profile(config)
        problems = final_problems(config)
        if problems:
            raise ConfigError(problems)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return config


def echo_outcome(outcome: Any, *, quiet: bool) -> None:
    """The per-collector line on stderr, then its first warnings."""
    click.echo(outcome.describe(), err=True)
    if quiet:
        return
    for note in outcome.notes:
        click.echo(f"  {one_line(note)}", err=True)
    for warning in outcome.warnings[:MAX_WARNINGS_SHOWN]:
        click.echo(f"  warning: {one_line(warning)}", err=True)
    hidden = len(outcome.warnings) - MAX_WARNINGS_SHOWN
    if hidden > 0:
        click.echo(f"  ... and {hidden} more warning(s)", err=True)


@click.command()
@click.option("--once", is_flag=True, help="Run one cycle of every collector, then exit.")
@aws_options
@config_option()
@click.option("-q", "--quiet", is_flag=True, help="Print only the per-collector lines.")
def collect(
    once: bool,
    store: str | None,
    since: str | None,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    config_path: Path | None,
    quiet: bool,
) -> None:
    """Collect X-Ray traces, AWS/Lambda metrics, Lambda log lines and function configuration
    into the store, each for the window since its checkpoint (or --since on the first run).

    Prints one line per collector on stderr (status, items, API calls, throttles, duration);
    exits non-zero when no collector completed (each failed, or left part of its window to be
    read again). Needs read-only access only: see
    collectors/iam_policy.json for the minimal IAM policy.
    """
    from botocore.exceptions import BotoCoreError

    from tracelens.agent.aws import AgentClients, open_agent_store
    from tracelens.agent.once import collect_once, once_failure
    from tracelens.agent.runner import build_runners
    from tracelens.store import StoreError

    if not once:
        raise click.UsageError(
            "collect runs a single cycle: pass --once (for continuous collection run "
            "`tracelens agent --config tracelens.toml`)"
        )
    config = resolve_config(
        config_path,
        store_url=store,
        since=look_back(since),
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
    )
    try:
        target = open_agent_store(config, AgentClients(config))
        runners = build_runners(config, target)
    except (StoreError, BotoCoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    several = len(runners) > 1
    if not quiet:
        first = runners[0].target
        shown = f"{len(runners)} targets" if several else f"{first.account} ({first.region})"
        click.echo(f"collecting {shown} into {target.url}", err=True)
    outcomes = collect_once(
        config,
        runners,
        on_outcome=lambda outcome: echo_outcome(outcome, quiet=quiet),
        on_target=(lambda each: click.echo(f"{each.key}:", err=True)) if several else None,
    )
    failure = once_failure(outcomes)
    if failure is not None:
        raise click.ClickException(failure)
