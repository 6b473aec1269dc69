"""The engine and the store of `store rollup` and `store summary`: each of --engine, --address,
--workers, --split and --store, else the config file's [engine] key or [store] url (--config,
else $TRACELENS_CONFIG), else its default. The engine is recorded where the command opens it
and run in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

import tracelens.store
from tests.builders.cli import run_ok
from tracelens import rollup_partitions, settings
from tracelens.cli import main
from tracelens.engines import Engine
from tracelens.engines.local import LocalEngine

CLUSTER = """
[engine]
name = "dask"
address = "tcp://scheduler:8786"
workers = 3
split = "bucket"
"""


class Opened:
    """What the command asked for: (engine, address, workers) per engine opened, and whether
    a day's buckets were the unit of work of each rollup."""

    def __init__(self) -> None:
        self.engines: list[tuple[str, str | None, int | None]] = []
        self.by_bucket: list[bool] = []

    def open_engine(
        self, name: str, *, address: str | None = None, workers: int | None = None
    ) -> Engine:
        self.engines.append((name, address, workers))
        return LocalEngine()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[Opened]:
    seen = Opened()
    build = rollup_partitions.build

    def recording_build(*args: Any, **kwargs: Any) -> Any:
        seen.by_bucket.append(kwargs["by_bucket"])
        return build(*args, **kwargs)

    monkeypatch.delenv(settings.CONFIG, raising=False)
    monkeypatch.setattr("tracelens.engines.open_engine", seen.open_engine)
    monkeypatch.setattr(rollup_partitions, "build", recording_build)
    yield seen


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    path = tmp_path / "tracelens.toml"
    path.write_text(CLUSTER)
    return path


def test_without_options_or_a_config_the_defaults_apply(tmp_path: Path, opened: Opened) -> None:
    run_ok("store", "rollup", "--store", str(tmp_path / "store"))
    assert opened.engines == [("processes", None, None)]
    assert opened.by_bucket == [False]


def test_the_config_file_gives_what_the_options_do_not(
    tmp_path: Path, cluster: Path, opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "store")
    run_ok("store", "rollup", "--store", store, "--config", str(cluster))
    run_ok("store", "rollup", "--store", store, "--config", str(cluster), "--workers", "2")
    run_ok("store", "rollup", "--store", store, "--config", str(cluster), "--address", "tcp://b:1")
    # an engine other than dask takes no scheduler address from the config
    run_ok("store", "rollup", "--store", store, "--config", str(cluster), "--engine", "local")
    run_ok("store", "rollup", "--store", store, "--config", str(cluster), "--split", "day")
    monkeypatch.setenv(settings.CONFIG, str(cluster))  # the default config file
    run_ok("store", "rollup", "--store", store)

    assert opened.engines == [
        ("dask", "tcp://scheduler:8786", 3),
        ("dask", "tcp://scheduler:8786", 2),
        ("dask", "tcp://b:1", 3),
        ("local", None, 3),
        ("dask", "tcp://scheduler:8786", 3),
        ("dask", "tcp://scheduler:8786", 3),
    ]
    assert opened.by_bucket == [True, True, True, True, False, True]


def test_summary_reads_the_rollups_unless_given_an_engine(
    tmp_path: Path, cluster: Path, opened: Opened
) -> None:
    store = str(tmp_path / "store")
    stored = run_ok("store", "summary", "--store", store, "--config", str(cluster), "--json")
    assert opened.engines == [] and orjson.loads(stored.stdout)["source"] == "rollups"

    computed = run_ok(
        "store", "summary", "--store", store, "--config", str(cluster), "--engine", "dask", "--json"
    )
    assert opened.engines == [("dask", "tcp://scheduler:8786", 3)]
    assert orjson.loads(computed.stdout)["source"] == "spans"


def test_a_config_with_problems_is_a_usage_error_naming_them(
    tmp_path: Path, opened: Opened
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[engine]\nnmae = "dask"\n')
    result = CliRunner().invoke(
        main, ["store", "rollup", "--store", str(tmp_path / "s"), "--config", str(config)]
    )
    assert result.exit_code == 2
    assert "[engine] nmae: unknown setting; did you mean 'name'?" in result.output
    assert opened.engines == []


@pytest.mark.parametrize("command", ["rollup", "summary"])
def test_the_help_says_where_each_default_comes_from(command: str) -> None:
    text = " ".join(run_ok("store", command, "--help").stdout.split())
    for option in ("address", "workers", "split"):
        assert f"[engine] {option} of the config file" in text
    assert "--config FILE" in text and "$TRACELENS_CONFIG" in text
    if command == "rollup":
        assert "Default: [engine] name of the config file, else processes." in text


def _stores_opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on in this test, the location of every store opened, in order."""
    seen: list[str] = []
    real = tracelens.store.open_store

    def recording(location: str | Path, **kwargs: Any) -> Any:
        seen.append(str(location))
        return real(location, **kwargs)

    monkeypatch.setattr(tracelens.store, "open_store", recording)
    return seen


@pytest.mark.parametrize("command", ["rollup", "summary"])
def test_the_store_is_the_option_else_the_config_files_else_the_default(
    command: str, tmp_path: Path, opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured, given = tmp_path / "configured", tmp_path / "given"
    config = tmp_path / "tracelens.toml"
    config.write_text(f'[store]\nurl = "{configured}"\n')
    seen = _stores_opened(monkeypatch)
    monkeypatch.delenv(settings.STORE, raising=False)
    monkeypatch.chdir(tmp_path)
    extra = ["--engine", "local"] if command == "rollup" else ["--json"]

    run_ok("store", command, "--config", str(config), *extra)
    run_ok("store", command, "--config", str(config), "--store", str(given), *extra)
    monkeypatch.setenv(settings.CONFIG, str(config))  # the default config file
    run_ok("store", command, *extra)
    monkeypatch.setenv(settings.STORE, str(given))  # the variable overrides [store] url
    run_ok("store", command, "--config", str(config), *extra)
    monkeypatch.delenv(settings.STORE)
    monkeypatch.delenv(settings.CONFIG)
    run_ok("store", command, *extra)

    assert seen == [str(configured), str(given), str(configured), str(given), "tl-data"]


@pytest.mark.parametrize("arguments", [["verify"], ["compact"], ["prune", "--older-than", "30d"]])
def test_commands_that_change_files_never_take_the_store_of_the_default_config_file(
    arguments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NOTE: verify --repair, compact and prune rewrite or delete files; they take no --config,
    # so a config file named by $TRACELENS_CONFIG (say, production's) is not theirs to follow.
    configured = tmp_path / "configured"
    config = tmp_path / "tracelens.toml"
    config.write_text(f'[store]\nurl = "{configured}"\n')
    seen = _stores_opened(monkeypatch)
    monkeypatch.delenv(settings.STORE, raising=False)
    monkeypatch.setenv(settings.CONFIG, str(config))
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(main, ["store", *arguments], catch_exceptions=False)
    monkeypatch.setenv(settings.STORE, str(tmp_path / "named"))
    CliRunner().invoke(main, ["store", *arguments], catch_exceptions=False)

    assert seen == ["tl-data", str(tmp_path / "named")]
