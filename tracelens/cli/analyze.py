"""``tracelens analyze``: every analysis as one JSON object (or a short text summary)."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from tracelens.cli.loading import InputOptions, load_and_analyze
from tracelens.cli.options import out_file, quiet, trace_inputs, write_output
from tracelens.cli.progress import Progress
from tracelens.contract import to_contract
from tracelens.summary import text_summary


@click.command()
@trace_inputs(store_help="Analyze what `tracelens collect`/`agent` stored there instead of PATHs.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as one JSON object.")
@out_file(default=None, help="Write the output to FILE instead of standard output.")
@quiet()
def analyze(
    sources: InputOptions,
    as_json: bool,
    out: Path | None,
    quiet: bool,
) -> None:
    """Analyze exported X-Ray traces: cold starts, throttles, DNS, bottlenecks, service map.

    PATH is a file, a directory (read recursively), a .gz file, or - for standard input, holding
    BatchGetTraces responses, raw segment documents (one per line, as the X-Ray daemon receives
    them), a single document or a JSON array of them. The format is detected from the content.
    With --store, no PATH is needed.
    """
    progress = Progress(quiet=quiet)
    result = load_and_analyze(sources, progress)
    if as_json:
        data = orjson.dumps(to_contract(result), option=orjson.OPT_INDENT_2) + b"\n"
    else:
        data = text_summary(result).encode()
    if out is None:
        click.echo(data, nl=False)
    else:
        write_output(out, data)
        progress.done(f"wrote {out}")
