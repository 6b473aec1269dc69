"""``tracelens store ...``: looking after a store (checking its files, repairing them)."""

from __future__ import annotations

import click

MAX_LISTED = 50


@click.group()
def store() -> None:
    """Look after a store: check its files against their checksums, repair them."""


@store.command()
@click.option(
    "--store",
    "location",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="The store (default: $TRACELENS_STORE, else ./tl-data).",
)
@click.option(
    "--repair", is_flag=True, help="Rebuild the damaged parts from the raw pages they came from."
)
def verify(location: str | None, repair: bool) -> None:
    """Read every Parquet part and compare it with the checksum written beside it.

    Lists the parts that changed after they were written or cannot be read (the readers skip
    them, with a warning); with --repair, writes them again from the raw pages. Exits 1 when a
    damaged part remains.
    """
    from tracelens.store import StoreError, open_store, store_location

    try:
        target = open_store(store_location(location))
        report = target.verify(repair=repair)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in report.damaged[:MAX_LISTED]:
        click.echo(f"damaged {problem.describe()}")
    if len(report.damaged) > MAX_LISTED:
        click.echo(f"... and {len(report.damaged) - MAX_LISTED:,} more damaged part(s)")
    for key in report.rebuilt:
        click.echo(f"rebuilt {target.backend.location(key)}")
    for problem in report.unrepaired:
        click.echo(f"not repaired {problem.describe()} (its raw run is missing or unreadable)")
    click.echo(
        f"checked {report.checked:,} part(s) in {target.url}: {len(report.damaged):,} damaged, "
        f"{len(report.rebuilt):,} rebuilt, {len(report.unchecked):,} without a checksum "
        "(written before checksums were kept)",
        err=True,
    )
    remaining = report.unrepaired if repair else report.damaged
    if remaining:
        hint = "" if repair else "; run again with --repair to rebuild them from the raw pages"
        raise click.ClickException(f"{len(remaining):,} damaged part(s){hint}")
