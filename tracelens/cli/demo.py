"""``tracelens demo``: the agent end to end against a local endpoint, then the report."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("tracelens-demo"),
    show_default=True,
    help="Directory for the report, the status file and the demo's store.",
)
@click.option(
    "--cycles",
    type=click.IntRange(min=1, max=20),
    default=3,
    show_default=True,
    help="Collection cycles of every collector before the report is written.",
)
@click.option(
    "--transaction-search",
    is_flag=True,
    help="Seed the traces as span records in aws/spans (CloudWatch Transaction Search) and "
    "read them with the spans collector, its destination declared in the demo's config (the "
    "local endpoint lacks GetTraceSegmentDestination).",
)
def demo(out: Path, cycles: int, transaction_search: bool) -> None:
    """Run tracelens end to end with no AWS account: start a local AWS-compatible endpoint
    (moto) on 127.0.0.1, seed it with a simulated serverless application's last hour
    (Lambda functions, X-Ray segments, AWS/Lambda metrics, log lines), collect it with the
    agent's collectors on a fast schedule, and write the HTML report. With
    --transaction-search the traces are span records in the aws/spans log group, as under
    CloudWatch Transaction Search, read by the spans collector.
    """
    from tracelens.agent.demo import DemoError, run_demo

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        result = run_demo(out, cycles=cycles, say=say, transaction_search=transaction_search)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write under {out}: {exc.strerror or exc}") from exc
    say(f"done in {result.elapsed_s:.1f}s; status file {result.status_file}")
    say(f"explore the store: tracelens analyze --store {result.store} --json")
    click.echo(f"report: {result.report}")
