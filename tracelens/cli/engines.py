"""The ``--engine/--address/--workers`` options of the commands that work partition by
partition, their progress line and their failure messages."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from tracelens.engines import DEFAULT_ENGINE, ENGINES, Engine, EngineError, PartitionFailure

F = TypeVar("F", bound=Callable[..., Any])

MAX_FAILURES_LISTED = 20
_MILESTONES = 10  # progress lines when stderr is not a terminal


def engine_options(
    *, default: str | None = DEFAULT_ENGINE, absent: str | None = None
) -> Callable[[F], F]:
    """``--engine``, ``--address``, ``--workers`` and ``--split``; ``absent`` says what the
    command does without ``--engine`` when there is no default."""
    when_absent = f"Default: {default}" if default else (absent or "")

    def decorate(command: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--engine",
                    type=click.Choice(ENGINES),
                    default=default,
                    show_default=False,
                    help=(
                        "Where the partitions are computed: this process (local), local worker "
                        "processes (processes) or a Dask cluster (dask; --address, else a local "
                        f"cluster). {when_absent}"
                    ),
                ),
                click.option(
                    "--address",
                    metavar="tcp://HOST:8786",
                    help="The Dask scheduler to run on (--engine dask); its workers need "
                    "tracelens and read access to the store.",
                ),
                click.option(
                    "--workers",
                    type=click.IntRange(min=1),
                    help="Worker processes for --engine processes, or for the local Dask "
                    "cluster (default: the number of CPUs).",
                ),
                click.option(
                    "--split",
                    type=click.Choice(["day", "bucket"]),
                    default="day",
                    show_default=True,
                    help="The unit of work: a day of spans, or a day's trace-id bucket (1/16 "
                    "of a day: for days too large for one worker's memory).",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


@contextlib.contextmanager
def started(name: str, address: str | None, workers: int | None) -> Iterator[Engine]:
    """The engine for the ``with`` block, closed after it; or a usage error saying what to fix."""
    from tracelens.engines import open_engine

    try:
        runner = open_engine(name, address=address, workers=workers)
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
