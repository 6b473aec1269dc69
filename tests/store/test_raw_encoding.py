"""The raw object is written a page at a time; its digest and content stay what they were."""

from __future__ import annotations

import gzip
import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import orjson
import pytest

from tests.builders.results import ACCOUNT, REGION, T0, traces_at, xray_result
from tracelens.store import raw
from tracelens.store.errors import CorruptFileError


def _run() -> raw.RawRun:
    result = xray_result(traces_at([T0 + timedelta(seconds=s) for s in range(12)]))
    return raw.RawRun.of(result, account=ACCOUNT, region=REGION, stored_at=T0)


def _whole_identity(run: raw.RawRun) -> bytes:
    """The identity as one JSON value, keys sorted: what the digest has always covered."""
    pages = [
        {"kind": p.kind, "api": p.api, "request": p.request, "response": p.response}
        for p in run.pages
    ]
    identity = {
        "format": raw.FORMAT,
        "source": run.source,
        "account": run.account,
        "region": run.region,
        "window": run.window.as_dict() if run.window else None,
        "pages": pages,
    }
    return orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)


def test_the_digest_is_the_hash_of_the_whole_identity() -> None:
    run = _run()

    encoded = raw.encode(run)

    assert encoded.digest == hashlib.sha256(_whole_identity(run)).hexdigest()[: raw.DIGEST_CHARS]


def test_the_object_compressed_on_a_thread_is_the_run_as_one_json_value() -> None:
    run = _run()

    with ThreadPoolExecutor(1) as pool:
        data = raw.encode(run, pool).data()

    envelope = orjson.loads(gzip.decompress(data))
    assert envelope["pages"] == orjson.loads(_whole_identity(run))["pages"]
    assert envelope["stored_at"] == T0.isoformat()
    decoded = raw.decode(data, "here")
    assert (decoded.window, decoded.stored_at, decoded.complete) == (run.window, T0, True)
    assert [page.response for page in decoded.pages[1:]] == [p.response for p in run.pages[1:]]
    assert raw.encode(run).data() == data  # the bytes depend on the content alone


def test_a_raw_run_that_is_not_json_or_not_a_run_names_the_file_and_what_is_wrong() -> None:
    with pytest.raises(CorruptFileError) as not_json:
        raw.decode(gzip.compress(b"{oops"), "runs/a.json.gz")
    assert not_json.value.location == "runs/a.json.gz"
    assert not_json.value.reason.startswith("invalid JSON inside the gzip file (")
    with pytest.raises(CorruptFileError) as not_a_run:
        raw.decode(gzip.compress(b"[1, 2]"), "runs/b.json.gz")
    assert not_a_run.value.reason.startswith("not a raw run object (")
