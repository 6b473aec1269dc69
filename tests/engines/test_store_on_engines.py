"""`store summary --engine` / `store rollup --engine`: the same JSON on every engine, from a
local store and from an S3 store (moto's server), on a real local Dask cluster of worker
processes; failed partitions are named with the fix, and their days neither written nor
counted."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from click.testing import CliRunner

from tests.builders.agent import run_tracelens, subprocess_env
from tests.builders.endpoint import reset_moto
from tests.builders.engines import local_cluster
from tests.builders.results import BUCKET, aws_client
from tracelens import rollup_partitions
from tracelens.cli import main
from tracelens.engines import MapResult, Progress
from tracelens.engines.local import LocalEngine
from tracelens.samples.bulk import write_bulk
from tracelens.store import open_store
from tracelens.store import rollups as files

START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
P = TypeVar("P")
R = TypeVar("R")


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _json(*args: str) -> dict[str, Any]:
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = orjson.loads(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three days of the sample application in two import runs (two span parts a bucket)."""
    root = tmp_path_factory.mktemp("engine-exports")
    for n, seed in enumerate((21, 22)):
        write_bulk(
            root / f"run{n}", 1_500, seed=seed, fmt="batch", start=START, period=timedelta(days=3)
        )
    return [root / "run0", root / "run1"]


def _import(exports: list[Path], location: str) -> None:
    for run in exports:
        # NOTE: the days are rolled up by the engines under test, not by the import
        result = _invoke("import", str(run), "--store", location, "-q", "--no-rollup")
        assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def local_store(exports: list[Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    location = str(tmp_path_factory.mktemp("engine-store") / "store")
    _import(exports, location)
    result = _invoke("store", "rollup", "--store", location, "--engine", "local")
    assert result.exit_code == 0, result.output
    return location


def _same_everywhere(location: str, dask_address: str, *, buckets: bool = True) -> dict[str, Any]:
    """The summary from the stored rollups, checked equal to every engine's from the spans."""
    reference = _json("store", "summary", "--store", location, "--json")
    assert reference["input"]["traces"] > 0 and len(reference["rollups"]["days"]) >= 3
    expected = reference | {"source": "spans"}
    runs = [
        ["--engine", "local"],
        ["--engine", "processes", "--workers", "2"],
        ["--engine", "dask", "--address", dask_address],
    ]
    if buckets:
        runs.append(["--engine", "dask", "--address", dask_address, "--split", "bucket"])
    for options in runs:
        got = _json("store", "summary", "--store", location, "--json", *options)
        assert got == expected, options
    return reference


@pytest.mark.slow
def test_every_engine_gives_the_same_summary_of_a_local_store(
    local_store: str, dask_address: str
) -> None:
    _same_everywhere(local_store, dask_address)


@pytest.mark.slow
def test_a_window_is_rounded_and_cut_the_same_way_on_an_engine(
    local_store: str, dask_address: str
) -> None:
    window = ["--since", "2026-11-02T10:30:00Z", "--until", "2026-11-04T05:10:00Z"]
    stored = _json("store", "summary", "--store", local_store, "--json", *window)
    computed = _json(
        "store", "summary", "--store", local_store, "--json", *window,
        "--engine", "dask", "--address", dask_address,
    )  # fmt: skip
    assert computed == stored | {"source": "spans"}
    assert stored["input"]["window"]["since"] == "2026-11-02T10:00:00Z"


@pytest.mark.slow
def test_rollups_written_on_dask_equal_the_single_pass_ones(
    local_store: str, dask_address: str, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    import shutil

    shutil.copytree(local_store, store)
    before = _json("store", "summary", "--store", str(store), "--json")
    result = _invoke(
        "store", "rollup", "--store", str(store), "--force",
        "--engine", "dask", "--address", dask_address, "--split", "bucket",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rolled up 2026-11-02" in result.stdout
    assert "partition(s) done on the Dask cluster at" in result.stderr
    assert _json("store", "summary", "--store", str(store), "--json") == before
    backend = open_store(str(store)).backend
    for day, keys in files.span_days(backend, None, None).items():
        footer = files.read_footer(backend, day)
        assert isinstance(footer, files.RollupFooter) and footer.span_parts == keys


@pytest.fixture
def s3_location(moto_url: str, exports: list[Path], monkeypatch: pytest.MonkeyPatch) -> str:
    """The same three days imported into an S3 store on the reset moto server; this process
    reaches it through AWS_ENDPOINT_URL like the cluster's workers."""
    reset_moto(moto_url)
    aws_client(moto_url, "s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    location = f"s3://{BUCKET}/team/prod"
    _import(exports, location)
    return location


@pytest.mark.slow
@pytest.mark.integration
def test_every_engine_gives_the_same_summary_of_an_s3_store(
    s3_location: str, dask_address: str
) -> None:
    result = _invoke(
        "store", "rollup", "--store", s3_location, "--engine", "dask", "--address", dask_address
    )
    assert result.exit_code == 0, result.output
    _same_everywhere(s3_location, dask_address, buckets=False)


@pytest.mark.slow
@pytest.mark.integration
def test_the_documented_aws_commands_run(s3_location: str, dask_address: str) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "distributed.md").read_text()
    commands = [
        line.strip().split()[1:]
        for line in text.splitlines()
        if line.strip().startswith("tracelens store") and '"$ADDRESS"' in line
    ]
    assert [c[:2] for c in commands] == [["store", "rollup"], ["store", "summary"]]
    for command in commands:
        names = {"s3://LAKE-BUCKET/PREFIX": s3_location, '"$ADDRESS"': dask_address}
        result = _invoke(*[names.get(word, word) for word in command])
        assert result.exit_code == 0, (command, result.output)
    assert orjson.loads(result.stdout)["source"] == "spans"


@pytest.mark.slow
@pytest.mark.integration
def test_workers_that_cannot_reach_the_store_are_named_with_the_fix(
    s3_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # workers whose endpoint is a closed port: this process reaches the store, they do not
    cluster = local_cluster(1, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"})
    try:
        address = cluster.scheduler_address
        summary = _invoke(
            "store", "summary", "--store", s3_location, "--json", "--engine", "dask",
            "--address", address,
        )  # fmt: skip
        rolled = _invoke(
            "store", "rollup", "--store", s3_location, "--force", "--engine", "dask",
            "--address", address,
        )  # fmt: skip
    finally:
        cluster.close()
    assert summary.exit_code == 1
    partial = orjson.loads(summary.stdout)
    assert partial["input"]["traces"] == 0 and partial["rollups"]["days"] == []
    days = sorted(
        d.isoformat() for d in files.span_days(open_store(s3_location).backend, None, None)
    )
    assert len(days) >= 3 and partial["rollups"]["missing_days"] == days
    assert partial["rollups"]["unreadable"][0].startswith(
        f"{s3_location}/spans/date={days[0]}: not computed: StoreError: cannot list"
    )
    for output in (summary.stderr, rolled.stderr):
        assert f"{len(days)} partition(s) failed" in output
        assert f"spans/date={days[0]}: StoreError: cannot list" in output
        assert "the workers read the store themselves" in output
    assert rolled.exit_code == 1 and f"not written: {', '.join(days)}" in rolled.stderr
    assert files.rollup_days(open_store(s3_location).backend, None, None) == []


class _FailingDay(LocalEngine):
    """The local engine, with every partition of one day failing as a worker error would."""

    def __init__(self, day: date) -> None:
        self._day = day

    def map(
        self, function: Callable[[P], R], partitions: Sequence[P], progress: Progress | None = None
    ) -> MapResult[P, R]:
        def work(task: Any) -> Any:
            if task.partition.day == self._day:
                raise MemoryError("the worker ran out of memory")
            return function(task)

        return super().map(work, partitions, progress)


def test_a_failed_day_is_not_written_and_the_others_are(local_store: str, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(local_store, tmp_path / "store")
    backend = open_store(tmp_path / "store").backend
    for day in files.rollup_days(backend, None, None):
        backend.delete(files.rollup_key(day))
    days = sorted(files.span_days(backend, None, None))
    failing = days[1]

    report = rollup_partitions.build(_FailingDay(failing), backend, force=True, by_bucket=True)

    assert report.built == [d for d in days if d != failing]
    assert report.failed_days == [failing]
    assert {f.kind for f in report.failed} == {"MemoryError"}
    assert len(report.failed) == len(
        rollup_partitions.partitions_of(
            files.span_days(backend, failing, failing)[failing], failing, by_bucket=True
        )
    )
    assert files.rollup_days(backend, None, None) == report.built


def test_engine_options_without_an_engine_are_refused(tmp_path: Path) -> None:
    for options in (["--split", "bucket"], ["--address", "tcp://127.0.0.1:8786"]):
        result = _invoke("store", "summary", "--store", str(tmp_path), *options)
        assert result.exit_code == 2 and "go with --engine" in result.output, options
    result = _invoke("store", "rollup", "--store", str(tmp_path), "--address", "tcp://h:8786")
    assert result.exit_code == 1 and "use it with --engine dask" in result.output


@pytest.mark.slow
def test_a_local_dask_cluster_prints_no_port_warning_when_8787_is_taken(
    local_store: str, aws_home: Path
) -> None:
    # Another cluster's scheduler holds 8787 (or this one does, if it is free): the command's
    # own local cluster neither warns about it nor needs it.
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # NOTE: already held by another process
            holder.bind(("127.0.0.1", 8787))
            holder.listen()
        done = run_tracelens(
            "store", "summary", "--store", local_store, "--json", "--engine", "dask",
            "--workers", "1",
            env=subprocess_env(aws_home, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
            timeout_s=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "already in use" not in done.stderr
    assert "Warning" not in done.stderr
    assert orjson.loads(done.stdout)["source"] == "spans"
