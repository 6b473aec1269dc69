"""``tracelens analyze``: every analysis as one JSON object (or a short text summary)."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from analyses.finding_thresholds import FindingSettings
from tracelens.cli.loading import InputOptions, analyze_targets
from tracelens.cli.options import (
    THRESHOLDS_EPILOG,
    export_dir,
    finding_settings,
    out_file,
    quiet,
    trace_inputs,
    write_export,
    write_output,
)
from tracelens.cli.progress import Progress
from tracelens.contract import merge_contracts, to_contract
from tracelens.summary import text_summary


@click.command(epilog=THRESHOLDS_EPILOG)
@trace_inputs(store_help="Analyze what `tracelens collect`/`agent` stored there instead of PATHs.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as one JSON object.")
@out_file(default=None, help="Write the output to FILE instead of standard output.")
@click.option(
    "--fail-on",
    type=click.Choice(["critical", "warning"]),
    help="Exit with status 3 when there is a finding of this severity or worse (for cron "
    "and CI); the output is written first.",
)
@finding_settings()
@export_dir()
@quiet()
def analyze(
    sources: InputOptions,
    findings: FindingSettings,
    as_json: bool,
    out: Path | None,
    fail_on: str | None,
    export_to: Path | None,
    quiet: bool,
) -> None:
    """Analyze exported X-Ray traces: cold starts, throttles, DNS, bottlenecks, service map.

    PATH is a file, a directory (read recursively), a .gz file, or - for standard input, holding
    BatchGetTraces responses, raw segment documents (one per line, as the X-Ray daemon receives
    them), a single document or a JSON array of them. The format is detected from the content.
    With --store, no PATH is needed; a store written by several targets ([[targets]]) is
    analyzed per account and region, each on its own data, and every row of the JSON's lists
    says which (account, region).

    Exit status: 0, or 3 with --fail-on when a finding of that severity or worse was found;
    1 on an error, 2 on a usage error.
    """
    progress = Progress(quiet=quiet)
    analyzed = analyze_targets(sources, progress, findings)
    if export_to is not None:
        for target, result in analyzed:
            folder = export_to if len(analyzed) == 1 else export_to / "-".join(target or ())
            write_export(result, folder, progress)
    contract = merge_contracts([to_contract(result, target=target) for target, result in analyzed])
    if as_json:
        data = orjson.dumps(contract, option=orjson.OPT_INDENT_2) + b"\n"
    elif len(analyzed) == 1:
        data = text_summary(analyzed[0][1]).encode()
    else:
        data = "\n".join(
            f"== {target[0]} ({target[1]})\n{text_summary(result)}"
            for target, result in analyzed
            if target is not None
        ).encode()
    if out is None:
        click.echo(data, nl=False)
    else:
        write_output(out, data)
        progress.done(f"wrote {out}")
    if fail_on is not None:
        failing = failing_findings([row["severity"] for row in contract["findings"]], fail_on)
        if failing:
            worst = ", ".join(f"{count} {name}" for name, count in failing.items())
            click.echo(f"--fail-on {fail_on}: {worst} finding(s)", err=True)
            raise SystemExit(FAIL_ON_EXIT_STATUS)


FAIL_ON_EXIT_STATUS = 3
_RANK = {"info": 0, "warning": 1, "critical": 2}


def failing_findings(severities: list[str], fail_on: str) -> dict[str, int]:
    """How many findings of each severity at or above ``fail_on`` (most severe first)."""
    floor = _RANK[fail_on]
    counts: dict[str, int] = {}
    for name in ("critical", "warning"):
        if _RANK[name] >= floor:
            count = severities.count(name)
            if count:
                counts[name] = count
    return counts
