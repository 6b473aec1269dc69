"""Running the command line in tests, and counting what a command reads from a store."""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner, Result

from tracelens.cli import main
from tracelens.store import parts


def run_ok(*args: str) -> Result:
    """``tracelens ARGS...`` in this process; fails the test (with its output) unless it exits 0."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def count_part_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """From now on in this test, how many times each Parquet part of a store is read."""
    reads: Counter[str] = Counter()
    read_part = parts.read_part

    def counting(backend: Any, key: str, *args: Any) -> pl.DataFrame:
        reads[key] += 1
        return read_part(backend, key, *args)

    monkeypatch.setattr(parts, "read_part", counting)
    return reads
