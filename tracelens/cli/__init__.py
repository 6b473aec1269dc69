"""The ``tracelens`` command: parses options, calls one library function, formats the result."""

from __future__ import annotations

import click

from tracelens import __version__
from tracelens.cli import _allocator  # noqa: F401  (before anything imports polars)
from tracelens.cli.agent import agent
from tracelens.cli.analyze import analyze
from tracelens.cli.collect import collect
from tracelens.cli.config import config
from tracelens.cli.demo import demo
from tracelens.cli.report import report
from tracelens.cli.sample import sample


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tracelens")
def main() -> None:
    """Find throttles, cold starts, VPC DNS latency and bottlenecks in AWS Lambda applications,
    from X-Ray traces, CloudWatch metrics and Lambda logs.

    \b
    Offline, from exported traces:
      tracelens analyze sample_traces/xray --json
      tracelens report sample_traces/xray --out report.html
    """


main.add_command(analyze)
main.add_command(report)
main.add_command(sample)
main.add_command(collect)
main.add_command(demo)
main.add_command(agent)
main.add_command(config)
