"""The ``tracelens`` command: parses options, calls one library function, formats the result."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
from typing import Any

import click

from tracelens import __version__
from tracelens.cli import _allocator  # noqa: F401  (before anything imports polars)

# Each command's module (`module:attribute` when the attribute is not the command's name, as
# for `import`), imported only when that command runs or shows its help: the analyzer
# should not pay for boto3 and the agent's modules (~0.4 s) on every start.
_COMMANDS: dict[str, str] = {
    "analyze": "tracelens.cli.analyze",
    "report": "tracelens.cli.report",
    "sample": "tracelens.cli.sample",
    "collect": "tracelens.cli.collect",
    "import": "tracelens.cli.importing:import_",
    "store": "tracelens.cli.store",
    "engine": "tracelens.cli.engine_stack:engine",
    "demo": "tracelens.cli.demo",
    "agent": "tracelens.cli.agent",
    "config": "tracelens.cli.config",
}

# What `tracelens --help` lists, without importing the commands (tests check these against
# the commands' own help).
_SUMMARIES: dict[str, str] = {
    "analyze": "Analyze exported X-Ray traces into findings, or one JSON object.",
    "report": "Write one self-contained HTML report for on-call.",
    "sample": "Write a realistic sample data set with known answers.",
    "collect": "Collect traces, metrics, logs and configuration into the store once.",
    "import": "Load exported traces, logs, metrics and configuration into the store.",
    "store": "Look after a store: check its files against their checksums, repair them.",
    "engine": "Run the Dask cluster of --engine dask on AWS (ECS Fargate), reading the S3 lake.",
    "demo": "Run tracelens end to end against a local AWS endpoint (no account).",
    "agent": "Run the collection daemon (collectors and report on schedules).",
    "config": "Check the agent's config file, or print its IAM policy.",
}


class _LazyGroup(click.Group):
    """A group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = _COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, name = where.partition(":")  # NOTE: `module:name` when not the command's name
        command = getattr(importlib.import_module(module), name or cmd_name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(_SUMMARIES.items()))

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command; output that cannot be written is one message, not a traceback."""
        try:
            return super().main(*args, **kwargs)
        except OSError as exc:
            if exc.filename is not None:
                # NOTE: the last resort for a path that cannot be used (a directory that cannot
                # be listed, a file that cannot be written): the path and why, not a traceback.
                reason = exc.strerror or type(exc).__name__
                click.echo(f"error: {exc.filename}: {reason}", err=True)
                raise SystemExit(1) from None
            if exc.errno not in _OUTPUT_ERRORS:
                raise
            _output_failed(exc)
            raise SystemExit(1) from None


# Errors of a write to standard output: a full disk or quota, a file too large, a closed pipe.
_OUTPUT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPIPE, errno.EIO}


def _output_failed(exc: OSError) -> None:
    # NOTE: stdout is pointed at the null device so that the interpreter's own flush at exit
    # does not fail again with "Exception ignored ... BrokenPipeError/OSError".
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    if exc.errno != errno.EPIPE:  # a reader that went away needs no message
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"error: cannot write the output: {exc.strerror or exc}\n")
            sys.stderr.flush()


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="tracelens")
def main() -> None:
    """Find throttles, cold starts, VPC DNS latency and bottlenecks in AWS Lambda applications,
    from X-Ray traces, CloudWatch metrics and Lambda logs.

    \b
    Offline, from exported traces:
      tracelens analyze sample_traces/xray --json
      tracelens report sample_traces/xray --out report.html
    """
