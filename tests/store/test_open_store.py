"""Choosing and opening a store location."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracelens.store import (
    DEFAULT_LOCATION,
    STORE_ENV,
    LocalBackend,
    S3Backend,
    StoreError,
    open_store,
    store_location,
)
from tracelens.store.s3 import parse_s3_url


def test_the_location_given_wins_over_the_environment() -> None:
    env = {STORE_ENV: "s3://bucket/agent"}
    assert store_location("./here", environ=env) == "./here"
    assert store_location(None, environ=env) == "s3://bucket/agent"
    assert store_location(None, environ={}) == DEFAULT_LOCATION
    assert STORE_ENV == "TRACELENS_STORE"


def test_paths_open_local_stores_and_s3_urls_open_s3_stores(tmp_path: Path) -> None:
    local = open_store(tmp_path / "data")
    remote = open_store("s3://bucket/some/prefix/")

    assert isinstance(local.backend, LocalBackend) and local.url == str(tmp_path / "data")
    assert not (tmp_path / "data").exists()  # created on the first write
    assert isinstance(remote.backend, S3Backend) and remote.url == "s3://bucket/some/prefix"
    assert parse_s3_url("s3://bucket") == ("bucket", "")


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("s3:///prefix", "is not an S3 location"),
        ("https://example.com/x", "a local directory or an s3://bucket/prefix URL"),
    ],
)
def test_malformed_locations_are_refused(location: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        open_store(location)


def test_a_file_is_not_a_store(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(StoreError, match="exists and is not a directory"):
        open_store(file)
