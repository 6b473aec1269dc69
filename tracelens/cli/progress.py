"""Progress and status lines on standard error, so standard output stays machine-readable."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import click


@dataclass
class Progress:
    """Reports long work on stderr: a live line on a terminal, milestones otherwise."""

    quiet: bool = False
    started: float = field(default_factory=time.perf_counter)
    _last: float = 0.0

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def source_read(self, name: str, documents: int) -> None:
        if self.quiet or not sys.stderr.isatty():
            return
        now = time.perf_counter()
        if now - self._last < 0.2:
            return
        self._last = now
        click.echo(f"\r\x1b[Kreading {name} ({documents:,} documents)", err=True, nl=False)

    def stage(self, message: str) -> None:
        """Show what runs now, on a terminal (the next :meth:`done` replaces it)."""
        if self.quiet or not sys.stderr.isatty():
            return
        click.echo(f"\r\x1b[K{message} ...", err=True, nl=False)

    def done(self, message: str) -> None:
        if self.quiet:
            return
        if sys.stderr.isatty():
            click.echo("\r\x1b[K", err=True, nl=False)
        click.echo(f"{message} ({self.elapsed_s:.1f}s)", err=True)
