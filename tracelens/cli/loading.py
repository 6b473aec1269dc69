"""Loading inputs for a command, with the CLI's error and strictness rules."""

from __future__ import annotations

from collections.abc import Sequence

import click

from tracelens.cli.progress import Progress
from tracelens.ingest.sources import InputError
from tracelens.inputs import Inputs, load_inputs


def load_for_command(
    paths: Sequence[str],
    *,
    logs: Sequence[str],
    metrics: Sequence[str],
    functions: Sequence[str],
    strict: bool,
    progress: Progress,
) -> Inputs:
    """Load inputs or stop the command with one clear message (never a traceback)."""
    try:
        inputs = load_inputs(
            paths, logs=logs, metrics=metrics, functions=functions, progress=progress.source_read
        )
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    traces = inputs.traces
    progress.done(
        f"read {traces.documents:,} documents from {traces.sources:,} file(s): "
        f"{traces.segments:,} segments in {traces.traces:,} traces, "
        f"{traces.duplicates:,} duplicates, {inputs.rejected:,} rejected"
    )
    rejections = inputs.all_rejections()
    if strict and rejections.count:
        first = rejections.listed[0]
        raise click.ClickException(
            f"--strict: {rejections.count} input record(s) rejected; first: {first.describe()}"
        )
    if not traces.segments and not strict:
        click.echo("warning: no segment documents were accepted", err=True)
    return inputs
