"""``tracelens sample``: write the sample application's telemetry from the generator."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("sample_traces"),
    show_default=True,
    help="Directory to write the sample set into.",
)
@click.option("--seed", type=int, help="Random seed (default: the one sample_traces/ uses).")
@click.option(
    "--traces", type=click.IntRange(min=60), help="How many sampled requests to make (at least 60)."
)
def sample(out: Path, seed: int | None, traces: int | None) -> None:
    """Write a realistic sample data set: X-Ray traces, Lambda logs, AWS/Lambda metrics and
    function configuration of a small serverless application, with known answers."""
    from dataclasses import replace

    from tracelens.samples import SampleConfig, generate, write_sample_set

    config = SampleConfig()
    if seed is not None:
        config = replace(config, seed=seed)
    if traces is not None:
        config = replace(config, traces=traces)
    try:
        written = write_sample_set(generate(config), out)
    except OSError as exc:
        raise click.ClickException(f"cannot write under {out}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {len(written)} files under {out}")
