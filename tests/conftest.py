"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders.endpoint import Aws, reset_moto, serve_moto


@pytest.fixture(scope="session", autouse=True)
def _checked_figures() -> Iterator[None]:
    """Every report figure drawn in the tests is checked against plotly's schema (a report
    skips the checks for speed: tracelens.report.figures.VALIDATE)."""
    from tracelens.report import figures

    figures.VALIDATE = True
    yield
    figures.VALIDATE = False


@pytest.fixture(scope="session")
def aws_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty directory standing in for ~/.aws."""
    return tmp_path_factory.mktemp("aws-home")


@pytest.fixture(scope="session")
def moto_url(aws_home: Path) -> Iterator[str]:
    """One moto server for the whole run (tests reset it with ``reset_moto``)."""
    yield from serve_moto(aws_home)


@pytest.fixture
def aws(moto_url: str) -> Aws:
    """The moto server, reset: each test starts from an empty account."""
    reset_moto(moto_url)
    return Aws(moto_url)
