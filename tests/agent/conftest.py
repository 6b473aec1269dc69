"""Fixtures of the agent tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders.agent import FAST_CONFIG


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A fast config file."""
    path = tmp_path / "tracelens.toml"
    path.write_text(FAST_CONFIG)
    return path
