"""``tracelens store ...``: looking after a store (checking, repairing, rolling up, compacting,
pruning)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from tracelens.cli import engines
from tracelens.cli.engines import engine_options
from tracelens.cli.options import store_url

if TYPE_CHECKING:
    from tracelens.store import Store

MAX_LISTED = 50


@contextlib.contextmanager
def _opened(
    location: str | None, config: str | None = None, *, configured: bool
) -> Iterator[Store]:
    """The store at ``location``. Else, for a command that reads a config file (``configured``:
    rollup and summary, whose ``config`` is their ``--config``), the configured one
    (:func:`tracelens.cli.options.store_url`); for the others (verify, compact, prune: they
    change files, and take no ``--config``) ``$TRACELENS_STORE``, else ``./tl-data``, never a
    store named by ``$TRACELENS_CONFIG``. A store that cannot be opened or read, or a bad value,
    inside the block ends the command with its message."""
    from tracelens.store import StoreError, open_store, store_location

    try:
        url = store_url(location, config) if configured else store_location(location)
        yield open_store(url)
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def store() -> None:
    """Look after a store: check its files, repair them, roll up, compact, apply a retention."""


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
    with _opened(location, configured=False) as target:
        report = target.verify(repair=repair)
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


_STORE_OPTION = click.option(
    "--store",
    "location",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="The store (default: $TRACELENS_STORE, else ./tl-data).",
)
# Of a command with --config: the config file's [store] url comes between.
_CONFIGURED_STORE_OPTION = click.option(
    "--store",
    "location",
    metavar="DIR|s3://BUCKET/PREFIX",
    help="The store (default: $TRACELENS_STORE, else [store] url of the config file, else "
    "./tl-data).",
)


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    from tracelens.timewindow import TimeWindow, TimeWindowError

    try:
        window = TimeWindow.parse(since, until)
    except TimeWindowError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    return window.start, window.end


@store.command()
@_CONFIGURED_STORE_OPTION
@click.option("--since", metavar="WHEN", help="First day to roll up (6h, 30d or ISO 8601).")
@click.option("--until", metavar="WHEN", help="Last moment to roll up, same forms as --since.")
@click.option("--force", is_flag=True, help="Compute days whose rollup is current again too.")
@engine_options()
def rollup(
    location: str | None,
    since: str | None,
    until: str | None,
    force: bool,
    engine: engines.EngineOptions,
    config: str | None,
) -> None:
    """Write the hourly rollups of the stored spans (counts, DDSketch percentiles per function
    and service-map edge), one file per day beside the span table.

    Days whose rollup was computed from the same span parts are skipped. Collection cycles
    and `tracelens import` already roll up the days they wrote; run it after an import with
    --no-rollup, on a store written before rollups, or with --force. The days (or, with
    --split bucket, their trace-id buckets) are computed on --engine: each worker reads its
    partition's spans from the store and returns its rollup. A day with a failed partition is
    not written; the command then exits 1 naming it. The config file's [engine] table gives
    the defaults of --engine, --address, --workers and --split.

    \b
      tracelens store rollup --store s3://lake/prod --engine dask \\
          --address tcp://scheduler:8786
    """
    from tracelens.rollup_partitions import build

    start, end = _window(since, until)
    last = None if end is None else (end - timedelta(microseconds=1)).astimezone(UTC).date()
    with _opened(location, config, configured=True) as target, engines.started(engine) as runner:
        report = build(
            runner,
            target.backend,
            first=None if start is None else start.astimezone(UTC).date(),
            last=last,
            force=force,
            by_bucket=engine.by_bucket,
            progress=engines.PartitionProgress(runner, _task_label),
        )
    for problem in report.problems[:MAX_LISTED]:
        click.echo(f"skipped {problem.describe()}", err=True)
    for day in report.built:
        click.echo(f"rolled up {day.isoformat()}")
    click.echo(
        f"{len(report.built):,} day(s) rolled up, {len(report.current):,} already current "
        f"in {target.url}",
        err=True,
    )
    if report.failed:
        days = ", ".join(d.isoformat() for d in report.failed_days)
        raise click.ClickException(
            engines.failures_error(report.failed, _task_label) + f"\nnot written: {days}"
        )


def _task_label(task: Any) -> str:
    return str(task.partition.label)


@store.command()
@_CONFIGURED_STORE_OPTION
@click.option("--since", metavar="WHEN", help="Start of the window (30d, or ISO 8601).")
@click.option("--until", metavar="WHEN", help="End of the window, same forms as --since.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@engine_options(optional=True)
def summary(
    location: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
    engine: engines.EngineOptions,
    config: str | None,
) -> None:
    """Per function and service-map edge: counts and percentiles over a long window, merged
    from the hourly rollups (`tracelens store rollup`) instead of reading every span.

    Counts are exact; percentiles are within 1% (DDSketch). The window is rounded out to whole
    hours. Findings, throttles, DNS VPC attachment, the bottlenecks' slow_share, example
    traces and waterfalls are not in this summary: use `tracelens analyze/report --store` for
    them. Days with spans but no rollup, or whose
    rollup is stale or unreadable, are rolled up from their spans for this run (nothing is
    written), as `analyze/report --store` does, and named.

    With --engine, the rollups are computed from the spans instead, partition by partition on
    that engine (nothing is written): the same JSON, with "source": "spans". Partitions that
    fail are named; the rest is printed, then the command exits 1. --address, --workers and
    --split default to the config file's [engine] table.

    \b
      tracelens store summary --store s3://lake/prod --since 30d --json \\
          --engine dask --address tcp://scheduler:8786
    """
    import orjson

    from tracelens.rollup import from_spans_note, lacking_note, read
    from tracelens.rollup import summary as rollup_summary
    from tracelens.rollup_partitions import read_spans

    start, end = _window(since, until)
    failed: list[Any] = []
    with _opened(location, config, configured=True) as target:
        if engine.name is None:
            result = read(target.backend, since=start, until=end)
        else:
            with engines.started(engine) as runner:
                result, failed = read_spans(
                    runner,
                    target.backend,
                    since=start,
                    until=end,
                    by_bucket=engine.by_bucket,
                    progress=engines.PartitionProgress(runner, _task_label),
                )
    data = rollup_summary(result)
    if engine.name is not None:
        data["source"] = "spans"
    notes = data["rollups"]
    for note in (from_spans_note(result.from_spans_days), lacking_note(result.lacking)):
        if note is not None:
            click.echo(f"note: {note}", err=True)
    for problem in notes["unreadable"]:
        click.echo(f"skipped {problem}", err=True)
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(_summary_text(data))
    if failed:
        raise click.ClickException(
            engines.failures_error(failed, _task_label)
            + f"\ntheir days are not counted: {_days(notes['missing_days'])}"
        )


def _days(days: list[str]) -> str:
    return ", ".join(days[:5]) + (f" and {len(days) - 5} more" if len(days) > 5 else "")


def _summary_text(data: dict[str, Any]) -> str:
    window = data["input"]["window"]
    lines = [
        f"From hourly rollups ({len(data['rollups']['days'])} day(s), "
        f"{window['since'] or 'start'} to {window['until'] or 'now'}): "
        f"{data['input']['traces']:,} traces, {data['input']['segments']:,} segments. "
        "Percentiles within 1% (DDSketch); counts exact.",
        "",
        f"{'function':40} {'invocations':>12} {'errors':>8} {'faults':>8} {'cold':>6} "
        f"{'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}",
    ]

    def ms(value: float | None) -> str:
        return "unknown" if value is None else f"{value:.1f}"

    for f in data["functions"]:
        d = f["duration_ms"]
        lines.append(
            f"{_escape_text(f['name'])[:40]:40} {f['invocations']:>12,} {f['errors']:>8,} "
            f"{f['faults']:>8,} {f['cold_starts']:>6,} {ms(d['p50']):>9} {ms(d['p95']):>9} "
            f"{ms(d['p99']):>9}"
        )
    lines += [
        "",
        "Entry points, service-map nodes and edges, DNS, bottlenecks and asynchronous "
        "invocations: --json.",
        "Not in rollups (need the spans: `tracelens analyze --store`): "
        + "; ".join(data["rollups"]["needs_spans"]),
    ]
    return "\n".join(lines) + "\n"


def _escape_text(text: str) -> str:
    """Trace text for a terminal: control characters shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@store.command()
@_STORE_OPTION
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
    from tracelens.store.compacting import SMALL_PART_BYTES

    small = SMALL_PART_BYTES if small_mb is None else int(small_mb * 1024 * 1024)
    with _opened(location, configured=False) as target:
        report = target.compact(small_bytes=small)
    for problem in report.problems[:MAX_LISTED]:
        click.echo(f"skipped {problem.describe()}")
    dropped = report.rows_before - report.rows_after
    copies = (
        f"{dropped:,} {'copy' if dropped == 1 else 'copies'} dropped" if dropped else "no copies"
    )
    click.echo(
        f"compacted {len(report.removed):,} part(s) into {len(report.written):,} in {target.url} "
        f"({report.rows_before:,} rows -> {report.rows_after:,}, {copies})"
    )


@store.command()
@_STORE_OPTION
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="DURATION",
    help="Delete the days wholly older than this (e.g. 30d, 2w).",
)
def prune(location: str | None, older_than: str) -> None:
    """Apply a retention period: delete every date partition older than --older-than.

    Their hourly rollups, Parquet parts, checksums, raw pages and run records go; checkpoints
    stay.
    """
    from tracelens.durations import DurationError, parse_duration

    try:
        period = parse_duration(older_than)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    if period.total_seconds() <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--older-than")
    with _opened(location, configured=False) as target:
        report = target.prune(older_than=period)
    click.echo(
        f"deleted {report.deleted:,} file(s) dated before {report.before} from {target.url}: "
        f"{len(report.parts):,} part(s), {len(report.raw):,} raw run(s), "
        f"{len(report.rollups):,} rollup(s)"
    )
