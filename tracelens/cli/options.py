"""Options shared by several commands, declared once."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from analyses.finding_thresholds import FindingSettings
from tracelens.atomic import NotRegularFileError, refuse_unless_replaceable, replace_atomically
from tracelens.cli.progress import Progress

if TYPE_CHECKING:
    from tracelens.agent.config import AgentConfig

F = TypeVar("F", bound=Callable[..., Any])


def compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying ``decorators`` as if stacked in this order (the first outermost)."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def aws_access(*, region_help: str) -> Callable[[F], F]:
    """``--region`` (``region_help`` says its default), ``--profile``, ``--endpoint-url``: how
    a command reaches AWS."""
    return compose(
        click.option("--region", help=region_help),
        click.option("--profile", help="Named AWS profile for credentials."),
        click.option(
            "--endpoint-url",
            metavar="URL",
            help="An AWS-compatible endpoint for every service (e.g. a local test server).",
        ),
    )


def side_inputs() -> Callable[[F], F]:
    """``--logs``, ``--metrics``, ``--functions``: repeatable, in the shapes AWS tools print."""
    return compose(
        click.option(
            "--logs",
            "logs",
            multiple=True,
            metavar="PATH",
            help="Lambda log lines: text export, `aws logs filter-log-events` JSON, Logs "
            "Insights GetQueryResults JSON, or JSON-format platform.* records. Repeatable.",
        ),
        click.option(
            "--metrics",
            "metrics",
            multiple=True,
            metavar="PATH",
            help="`aws cloudwatch get-metric-data --output json` responses; each query's "
            "Label is '<FunctionName> <MetricName> <Stat>' ('(account) ...' for account "
            "level). Repeatable.",
        ),
        click.option(
            "--functions",
            "functions",
            multiple=True,
            metavar="PATH",
            help="`aws lambda list-functions` output, plus optionally get-function, "
            "list-provisioned-concurrency-configs and get-account-settings responses. Repeatable.",
        ),
    )


def strictness() -> Callable[[F], F]:
    return click.option(
        "--strict",
        is_flag=True,
        help="Exit non-zero if any document or record is rejected, naming the file and position.",
    )


def quiet() -> Callable[[F], F]:
    return click.option(
        "-q", "--quiet", is_flag=True, help="Print nothing on standard error but errors."
    )


def time_window() -> Callable[[F], F]:
    """``--since``/``--until``: a duration back from now (``6h``) or an ISO 8601 time."""
    return compose(
        click.option(
            "--since",
            metavar="WHEN",
            help="Start of the window: a duration back from now (30m, 6h, 2d) or an ISO 8601 "
            "time. Keeps whole traces that start inside the window, and the log records and "
            "metric datapoints inside it.",
        ),
        click.option("--until", metavar="WHEN", help="End of the window, same forms as --since."),
    )


def _writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse an --out that cannot be written before any work is done, not after it."""
    if value is None:
        return None
    folder = value.parent if str(value.parent) else Path()
    problem = None
    try:
        refuse_unless_replaceable(value)
    except NotRegularFileError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    if not folder.is_dir():
        problem = f"directory {folder} does not exist; create it or choose another --out"
    elif not os.access(value if value.exists() else folder, os.W_OK):
        problem = "permission denied"
    if problem is not None:
        raise click.BadParameter(f"cannot write {value}: {problem}", ctx=ctx, param=param)
    return value


def out_file(*, default: Path | None, help: str) -> Callable[[F], F]:
    """``--out FILE``, checked to be writable when the command starts."""
    return click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default,
        show_default=default is not None,
        callback=_writable_file,
        help=help,
    )


def export_dir() -> Callable[[F], F]:
    """``--export DIR``: the main tables as CSV and the service map as GraphML and JSON."""
    return click.option(
        "--export",
        "export_to",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="DIR",
        help="Also write entry_points/functions/edges/nodes.csv and the service map as "
        "service_map.graphml and service_map.json into DIR (made when missing).",
    )


def write_export(result: Any, directory: Path | None, progress: Progress) -> None:
    """Write the ``--export`` files when asked (and say so), or stop with one clear message."""
    from tracelens.export import export_tables

    if directory is None:
        return
    try:
        export_tables(result, directory)
    except OSError as exc:
        raise click.ClickException(f"cannot export to {directory}: {exc}") from exc
    progress.done(f"exported tables to {directory}")


def write_output(path: Path, data: bytes) -> None:
    """Write a command's output file, or stop with one clear message (disk full, ...)."""
    try:
        replace_atomically(path, data)
    except NotRegularFileError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


_INPUT_OPTIONS = (
    "paths",
    "store",
    "logs",
    "metrics",
    "functions",
    "strict",
    "since",
    "until",
    "from_rollups",
    "span_window",
)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    from tracelens.durations import DurationError, parse_duration

    if value is None:
        return None
    try:
        parsed = parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc
    if parsed < timedelta(hours=1):
        raise click.BadParameter("must be 1h or more", ctx=ctx, param=param)
    return parsed


def rollup_options() -> Callable[[F], F]:
    """``--from-rollups`` and ``--span-window``: which data answers which section (with
    ``--store``)."""
    return compose(
        click.option(
            "--from-rollups",
            "from_rollups",
            type=click.Choice(["auto", "never"]),
            default="auto",
            show_default=True,
            help="With --store: auto merges hourly rollups for the long-window totals, "
            "percentiles, trend and findings when --since/--until spans more than "
            "--span-window (every "
            "other section from the spans of its last --span-window); never reads every span.",
        ),
        click.option(
            "--span-window",
            "span_window",
            metavar="DURATION",
            callback=_duration,
            help="How much of a long window is read as spans (default: the config file's "
            "[report] span_window, else 7d).",
        ),
    )


def trace_inputs(*, store_help: str) -> Callable[[F], F]:
    """PATH..., ``--store``, the side inputs, ``--strict`` and ``--since/--until``, handed to
    the command as one ``sources`` argument (a ``tracelens.cli.loading.InputOptions``).

    The span window is ``--span-window``, else the ``[report] span_window`` of the command's
    config file (:func:`command_config`), else 7d."""
    from tracelens.cli.loading import InputOptions
    from tracelens.windowplan import SPAN_WINDOW

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def collecting(**params: Any) -> Any:
            given = {name: params.pop(name) for name in _INPUT_OPTIONS}
            if given["span_window"] is None:
                config = command_config(params.get("config"))
                given["span_window"] = SPAN_WINDOW if config is None else config.report.span_window
            return command(sources=InputOptions(**given), **params)

        return compose(
            click.argument("paths", nargs=-1, metavar="PATH..."),
            click.option("--store", metavar="DIR|s3://BUCKET/PREFIX", help=store_help),
            side_inputs(),
            strictness(),
            time_window(),
            rollup_options(),
        )(collecting)  # type: ignore[return-value]

    return decorate


def _thresholds_epilog() -> str:
    from analyses.finding_thresholds import describe_thresholds

    # NOTE: "\b" keeps click from rewrapping the list into one paragraph.
    lines = "\n".join(f"  {line}" for line in describe_thresholds())
    return (
        "\b\nFinding thresholds (--threshold NAME=VALUE, or the config file's [findings] "
        f"table), with their defaults:\n{lines}"
    )


THRESHOLDS_EPILOG = _thresholds_epilog()
"""The ``--help`` epilog listing every finding threshold, its default, unit and reason."""


_CONFIGS = "tracelens.configs"


def command_config(path: str | Path | None) -> AgentConfig | None:
    """The config file of the running command: ``--config`` (``path``), else
    ``$TRACELENS_CONFIG``; None when neither names one (every default applies). Read once per
    command, whichever of its options asks; a config with problems is a usage error listing
    them all."""
    from tracelens import settings

    if path is None and settings.get(settings.CONFIG) is None:
        return None
    ctx = click.get_current_context()
    read: dict[str, AgentConfig] = ctx.meta.setdefault(_CONFIGS, {})
    key = "" if path is None else str(path)
    if key not in read:
        # NOTE: the agent's stack (boto3) loads only when a config file is read.
        from tracelens.agent.config import ConfigError
        from tracelens.agent.config_file import load_config

        try:
            read[key] = load_config(path)
        except ConfigError as exc:
            raise click.UsageError(str(exc), ctx=ctx) from exc
    return read[key]


def store_url(given: str | None, config_path: str | Path | None) -> str:
    """The store a command reads: ``--store`` (``given``), else the ``[store] url`` of its config
    file (:func:`command_config`; ``$TRACELENS_STORE`` overrides it), else ``$TRACELENS_STORE``,
    else ``./tl-data``."""
    from tracelens.store import store_location

    if given:
        return given
    config = command_config(config_path)
    return config.store.url if config is not None else store_location(None)


def config_file_option(*, reads: str) -> Callable[[F], F]:
    """``--config FILE`` of a command that takes some defaults from the config file (``reads``
    says which), handed to the command as ``config`` (read it with :func:`command_config`)."""
    return click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False),
        help=f"A tracelens TOML config file: {reads} (default: $TRACELENS_CONFIG when set; "
        "command-line options win over it).",
    )


def finding_settings() -> Callable[[F], F]:
    """``--config``, ``--threshold NAME=VALUE`` and ``--silence KEY``, handed to the command as
    one ``findings`` argument (an ``analyses.finding_thresholds.FindingSettings``): the config
    file's ``[findings]`` table, then the options over it."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def collecting(**params: Any) -> Any:
            from analyses.finding_thresholds import (
                ThresholdError,
                parse_threshold,
                with_overrides,
            )

            config = command_config(params.pop("config"))
            base = FindingSettings() if config is None else config.findings
            overrides: dict[str, float | int] = {}
            for text in params.pop("thresholds"):
                try:
                    name, value = parse_threshold(text)
                except ThresholdError as exc:
                    raise click.BadParameter(str(exc), param_hint="--threshold") from exc
                overrides[name] = value
            silence = (*base.silence, *params.pop("silence"))
            chosen = FindingSettings(
                thresholds=with_overrides(base.thresholds, overrides), silence=silence
            )
            return command(findings=chosen, **params)

        return compose(
            config_file_option(
                reads="its [findings] table sets thresholds and silenced findings, and its "
                "[report] span_window is the default of --span-window"
            ),
            click.option(
                "--threshold",
                "thresholds",
                multiple=True,
                metavar="NAME=VALUE",
                help="Set a finding threshold (listed below). Repeatable.",
            ),
            click.option(
                "--silence",
                "silence",
                multiple=True,
                metavar="KEY",
                help="Leave out the finding with this key ('<kind>:<subject>', shown with each "
                "finding). Repeatable.",
            ),
        )(collecting)  # type: ignore[return-value]

    return decorate
