"""``tracelens store ...``: looking after a store (checking, repairing, compacting, pruning)."""

from __future__ import annotations

import click

MAX_LISTED = 50


@click.group()
def store() -> None:
    """Look after a store: check its files, repair them, compact them, apply a retention."""


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


@store.command()
@click.option(
    "--store",
    "location",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="The store (default: $TRACELENS_STORE, else ./tl-data).",
)
@click.option(
    "--small-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Merge parts smaller than this many MB (default 32).",
)
def compact(location: str | None, small_mb: float | None) -> None:
    """Merge the small Parquet parts of each partition (a date, and for spans a trace-id
    bucket) into one part.

    Safe beside a running agent and readers: the merged part is written before the small ones
    are removed, and rows present twice meanwhile are read once. Running it again changes
    nothing.
    """
    from tracelens.store import StoreError, open_store, store_location
    from tracelens.store.compacting import SMALL_PART_BYTES

    small = SMALL_PART_BYTES if small_mb is None else int(small_mb * 1024 * 1024)
    try:
        target = open_store(store_location(location))
        report = target.compact(small_bytes=small)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in report.problems[:MAX_LISTED]:
        click.echo(f"skipped {problem.describe()}")
    click.echo(
        f"compacted {len(report.removed):,} part(s) into {len(report.written):,} in {target.url} "
        f"({report.rows_before:,} rows -> {report.rows_after:,}, copies dropped)"
    )


@store.command()
@click.option(
    "--store",
    "location",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="The store (default: $TRACELENS_STORE, else ./tl-data).",
)
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="DURATION",
    help="Delete the days wholly older than this (e.g. 30d, 2w).",
)
def prune(location: str | None, older_than: str) -> None:
    """Apply a retention period: delete every date partition older than --older-than.

    Parquet parts, their checksums, the raw pages and the run records of those days go;
    checkpoints stay.
    """
    from tracelens.durations import DurationError, parse_duration
    from tracelens.store import StoreError, open_store, store_location

    try:
        period = parse_duration(older_than)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    if period.total_seconds() <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--older-than")
    try:
        target = open_store(store_location(location))
        report = target.prune(older_than=period)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"deleted {report.deleted:,} file(s) dated before {report.before} from {target.url}: "
        f"{len(report.parts):,} part(s), {len(report.raw):,} raw run(s)"
    )
