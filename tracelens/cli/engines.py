"""The ``--engine/--address/--workers/--split`` options of the commands that work partition by
partition (over the config file's ``[engine]``), their progress line and their failure
messages."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import click

from tracelens.cli.options import command_config, compose, config_file_option
from tracelens.engines import (
    DEFAULT_ENGINE,
    ENGINES,
    SPLITS,
    Engine,
    EngineError,
    PartitionFailure,
)

F = TypeVar("F", bound=Callable[..., Any])

MAX_FAILURES_LISTED = 20
_MILESTONES = 10  # progress lines when stderr is not a terminal


@dataclass(frozen=True)
class EngineOptions:
    """The engine a command runs on: each of ``--engine``, ``--address``, ``--workers`` and
    ``--split``, else the config file's ``[engine]`` key, else its default.

    ``name`` is None when the command was given no engine and runs without one (``store
    summary`` then reads the stored rollups)."""

    name: str | None
    address: str | None = None
    workers: int | None = None
    split: str = SPLITS[0]

    @property
    def by_bucket(self) -> bool:
        """True when a day's trace-id buckets are the unit of work."""
        return self.split == "bucket"


def _chosen(params: dict[str, Any], *, optional: bool) -> EngineOptions:
    config = command_config(params["config"])
    if config is None:
        from tracelens.agent.config import EngineSettings  # NOTE: boto3 loads with a config

        declared = EngineSettings()
    else:
        declared = config.engine
    name, address = params.pop("engine"), params.pop("address")
    workers, split = params.pop("workers"), params.pop("split")
    if name is None and optional:
        if address is not None or workers is not None or split is not None:
            raise click.UsageError("--address, --workers and --split go with --engine")
        return EngineOptions(None)
    name = name or declared.name
    if address is None and name == "dask":
        address = declared.address
    return EngineOptions(
        name, address, workers or declared.workers or None, split or declared.split
    )


def engine_options(*, optional: bool = False) -> Callable[[F], F]:
    """``--engine``, ``--address``, ``--workers`` and ``--split``, handed to the command as one
    ``engine`` argument (an :class:`EngineOptions`), and ``--config``, handed on as ``config``
    (the command reads its other settings from the same file); ``optional``: without
    ``--engine``, the command runs without one (and the config's ``[engine] name`` is not
    read)."""
    default = (
        "Without it, the stored rollups are read."
        if optional
        else f"Default: [engine] name of the config file, else {DEFAULT_ENGINE}."
    )

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def collecting(**params: Any) -> Any:
            return command(engine=_chosen(params, optional=optional), **params)

        wrapped = cast(F, collecting)  # the command, its engine options collected
        return compose(
            click.option(
                "--engine",
                type=click.Choice(ENGINES),
                help=(
                    "Where the partitions are computed: this process (local), local worker "
                    "processes (processes) or a Dask cluster (dask; --address, else a local "
                    f"cluster). {default}"
                ),
            ),
            click.option(
                "--address",
                metavar="tcp://HOST:8786",
                help="The Dask scheduler to run on (--engine dask; default: [engine] address "
                "of the config file); its workers need tracelens and read access to the store.",
            ),
            click.option(
                "--workers",
                type=click.IntRange(min=1),
                help="Worker processes for --engine processes, or for the local Dask cluster "
                "(default: [engine] workers of the config file, else the number of CPUs).",
            ),
            click.option(
                "--split",
                type=click.Choice(SPLITS),
                help="The unit of work: a day of spans, or a day's trace-id bucket (1/16 of a "
                "day: for days too large for one worker's memory). Default: [engine] split of "
                "the config file, else day.",
            ),
            config_file_option(
                reads="its [store] url is the default of --store, its [engine] table the "
                "defaults of these options"
            ),
        )(wrapped)

    return decorate


@contextlib.contextmanager
def started(chosen: EngineOptions) -> Iterator[Engine]:
    """The engine for the ``with`` block, closed after it; or a usage error saying what to fix."""
    from tracelens.engines import open_engine

    assert chosen.name is not None  # NOTE: a command without an engine starts none
    try:
        runner = open_engine(chosen.name, address=chosen.address, workers=chosen.workers)
    except EngineError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield runner
    finally:
        runner.close()


class PartitionProgress:
    """``N/M partitions`` on stderr: a live line on a terminal, every tenth otherwise; each
    failure as it happens."""

    def __init__(self, engine: Engine, label: Callable[[Any], str]) -> None:
        self._engine = engine
        self._label = label
        self._failed = 0
        self._printed = -1
        self._tty = sys.stderr.isatty()

    def __call__(self, finished: int, total: int, failure: PartitionFailure[Any] | None) -> None:
        if failure is not None:
            self._failed += 1
            self._clear()
            click.echo(f"failed {self._label(failure.partition)}: {failure.describe()}", err=True)
        failed = f", {self._failed} failed" if self._failed else ""
        line = f"{finished}/{total} partition(s) done on {self._engine.where}{failed}"
        if self._tty:
            click.echo(f"\r\x1b[K{line}", err=True, nl=finished == total)
            return
        step = max(1, total // _MILESTONES)
        if finished == total or finished // step != self._printed // step:
            self._printed = finished
            click.echo(line, err=True)

    def _clear(self) -> None:
        if self._tty:
            click.echo("\r\x1b[K", err=True, nl=False)


def fix_for(failure: PartitionFailure[Any]) -> str:
    """What to do about a failed partition."""
    if failure.kind in ("ModuleNotFoundError", "ImportError"):
        return "install tracelens on the workers (the deploy/Dockerfile image)"
    if failure.kind in ("StoreError", "MissingKeyError", "NoCredentialsError"):
        return (
            "the workers read the store themselves: give them network access to it, read "
            "permissions (docs/distributed.md) and this machine's endpoint settings "
            "(AWS_ENDPOINT_URL), or a shared directory at the same path"
        )
    if failure.kind in ("KilledWorker", "BrokenProcessPool", "MemoryError"):
        return "a worker died (often out of memory): rerun with --split bucket or more memory"
    return "rerun with --engine local to see the error in this process"


def failures_error(failures: list[PartitionFailure[Any]], label: Callable[[Any], str]) -> str:
    """The message of the exit status 1 after a partial result."""
    lines = [
        f"{label(f.partition)}: {f.describe()}; {fix_for(f)}"
        for f in failures[:MAX_FAILURES_LISTED]
    ]
    if len(failures) > MAX_FAILURES_LISTED:
        lines.append(f"... and {len(failures) - MAX_FAILURES_LISTED} more")
    return f"{len(failures)} partition(s) failed:\n  " + "\n  ".join(lines)
