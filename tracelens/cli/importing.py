"""``tracelens import``: exported traces, logs, metrics and configuration into the store."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import click

from tracelens.cli.options import side_inputs
from tracelens.cli.progress import Progress

if TYPE_CHECKING:
    from tracelens.store import Store

UNKNOWN = "unknown"


@click.command("import")
@click.argument("paths", nargs=-1, metavar="PATH...")
@side_inputs()
@click.option(
    "--store",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="The store to load into (default: $TRACELENS_STORE, else ./tl-data).",
)
@click.option(
    "--account",
    default=UNKNOWN,
    show_default=True,
    help="The AWS account the files come from (rows are kept per account).",
)
@click.option(
    "--region",
    default=UNKNOWN,
    show_default=True,
    help="The AWS region the files come from (rows are kept per region).",
)
@click.option(
    "--no-rollup",
    "no_rollup",
    is_flag=True,
    help="Do not compute the hourly rollups of the days imported at the end (then run "
    "`tracelens store rollup` before long-window reports).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
def import_(
    paths: tuple[str, ...],
    logs: tuple[str, ...],
    metrics: tuple[str, ...],
    functions: tuple[str, ...],
    store: str | None,
    account: str,
    region: str,
    no_rollup: bool,
    quiet: bool,
) -> None:
    """Load exported traces (PATH: every format `analyze` reads), logs, metrics and function
    configuration into the store, where `analyze --store`, `report --store` and the agent read
    them.

    Importing the same files again changes nothing; data also collected or imported from other
    files is kept once when read. Prints progress on stderr and a summary at the end; exits
    non-zero when nothing could be stored. At the end, the hourly rollups of the days whose
    traces were imported are computed again (each day from its span parts), so long-window
    reports merge current rollups.

    \b
      tracelens import exports/ --logs logs/ --functions functions.json --store tl-data
    """
    from tracelens.ingest.opening.sources import InputError
    from tracelens.store import StoreError, open_store, store_location
    from tracelens.store.importing import ImportReport, import_paths

    if not (paths or logs or metrics or functions):
        raise click.UsageError("give PATHs with traces, or --logs/--metrics/--functions")
    progress = Progress(quiet=quiet)

    def show(report: ImportReport) -> None:
        rows = sum(report.rows.values())
        progress.done(f"stored run {report.runs:,}: {report.pieces:,} file(s), {rows:,} rows")

    try:
        target = open_store(store_location(store))
        report = import_paths(
            target,
            traces=paths,
            logs=logs,
            metrics=metrics,
            functions=functions,
            account=account,
            region=region,
            progress=show,
        )
    except (InputError, StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for rejection in report.rejections.listed[:5]:
        click.echo(f"refused {rejection.describe()}", err=True)
    rows = ", ".join(f"{count:,} {table}" for table, count in sorted(report.rows.items()))
    click.echo(
        f"imported {report.pieces:,} file(s) into {target.url} in {report.runs:,} run(s): "
        f"{rows or 'no rows'}; {report.rejections.count:,} record(s) refused",
        err=True,
    )
    if not report.rows:
        raise click.ClickException("nothing was stored: no record in the files was accepted")
    if report.span_days and not no_rollup:
        _roll_up(target, report.span_days, progress)


def _roll_up(target: Store, days: set[date], progress: Progress) -> None:
    """Refresh the rollups of ``days``; a failure is a warning (the spans are stored)."""
    from tracelens.rollup import refresh
    from tracelens.store import StoreError

    progress.stage(f"rolling up {len(days):,} day(s)")
    try:
        built = refresh(target.backend, days)
    except (StoreError, OSError) as exc:
        click.echo(f"warning: rollups not computed ({exc}); run `tracelens store rollup`", err=True)
        return
    for problem in built.problems[:5]:
        click.echo(f"rollup skipped {problem.describe()}", err=True)
    progress.done(f"rolled up {len(built.built):,} day(s), {len(built.current):,} already current")
