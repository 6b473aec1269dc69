"""One large newline-delimited file read by several processes, each taking a part of it."""

from __future__ import annotations

import gzip
import io
import os
import sys
import threading
import zlib
from pathlib import Path

import orjson
import polars as pl
import pytest

from tests.builders.ingest import OTHER_TRACE, same_input, segment, write
from tracelens.ingest import worker
from tracelens.ingest.decoders.base import ReadStats
from tracelens.ingest.framing import iter_documents
from tracelens.ingest.loader import load_traces
from tracelens.ingest.normalize import spans
from tracelens.ingest.opening import file_parts, shards, streams
from tracelens.ingest.opening.sources import (
    FilePart,
    Item,
    Source,
    UnreadableContentError,
    read_source,
)
from tracelens.ingest.rejections import RejectionLog


@pytest.fixture(autouse=True)
def split_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "PARALLEL_MIN_BYTES", 0)


def _sources(item: Item) -> list[Source]:
    refused = RejectionLog()
    sources = list(streams.item_sources(item, refused))
    assert refused.count == 0, refused.listed
    return sources


def _doc(number: int, **fields: object) -> bytes:
    return orjson.dumps(segment(f"{number:016x}", **{"name": f"doc {number}", **fields}))


def _daemon_capture(path: Path) -> Path:
    """A capture with trouble near its start, middle and end, so that each part holds some."""
    in_progress = segment("c" * 16, trace_id=OTHER_TRACE, in_progress=True)
    del in_progress["end_time"]
    lines = [b'{"format": "json", "version": 1}', orjson.dumps(in_progress), _doc(1)]
    lines += [_doc(n) for n in range(2, 300)]
    lines += [b"", b"{not json", orjson.dumps([segment("d" * 16), segment("not-an-id")])]
    lines += [_doc(n) for n in range(300, 600)]
    lines += [_doc(1, name="later copy"), orjson.dumps(segment("c" * 16, OTHER_TRACE))]
    lines += [b'{"id": "eeeeeeeeeeeeeeee", "name": "no start"}', b"   "]
    return write(path, b"\n".join(lines) + b"\n")


def _parts(runs: list[list[object]]) -> list[FilePart]:
    parts = [item for run in runs for item in run]
    assert all(isinstance(part, FilePart) for part in parts)
    return parts  # type: ignore[return-value]


def test_parts_are_cut_at_line_starts_and_cover_the_file(tmp_path: Path) -> None:
    capture = _daemon_capture(tmp_path / "capture.ndjson")
    data = capture.read_bytes()
    for processes in (2, 3, 4):
        parts = _parts(shards.split_items([capture], processes))
        assert len(parts) == processes
        assert b"".join(data[part.start : part.end] for part in parts) == data
        assert all(data[part.start - 1 : part.start] == b"\n" for part in parts[1:])


def test_a_part_numbers_its_lines_as_in_the_whole_file(tmp_path: Path) -> None:
    capture = _daemon_capture(tmp_path / "capture.ndjson")
    last = _parts(shards.split_items([capture], 2))[-1]
    source = read_source(last)
    data = capture.read_bytes()
    assert source.first_line == data[: last.start].count(b"\n") + 1 > 1
    rejections = RejectionLog()
    positions = [position for position, _ in iter_documents(source, rejections, ReadStats())]
    assert positions[0] == f"line {source.first_line}"
    last_line = data.count(b"\n")  # blank; the one before it has no start_time
    assert rejections.listed[-1].position == f"line {last_line - 1}"


def test_one_file_read_by_three_processes_equals_one_process(tmp_path: Path) -> None:
    capture = _daemon_capture(tmp_path / "capture.ndjson")
    assert len(_parts(shards.split_items([capture], 3))) == 3
    sequential = load_traces([capture], processes=1)
    parallel = load_traces([capture], processes=3)
    same_input(parallel, sequential)
    # Copies across parts: the first copy wins, the complete one supersedes the in-progress.
    assert parallel.duplicates == 2
    assert parallel.spans.filter(pl.col("id") == f"{1:016x}")["name"].item() == "doc 1"
    assert not parallel.spans.filter(pl.col("id") == "c" * 16)["in_progress"].item()
    positions = [rejection.position for rejection in parallel.rejections.listed]
    assert positions == ["line 303", "line 304[1]", "line 607"]


@pytest.mark.parametrize(
    "content",
    [
        # Compressed: the byte offsets are not those of lines.
        gzip.compress(b"\n".join(_doc(n) for n in range(200)) + b"\n"),
        # One document over many lines: read as a whole, never line by line.
        orjson.dumps(segment(), option=orjson.OPT_INDENT_2) * 50,
        # One JSON array on one line.
        orjson.dumps([segment(f"{n:016x}") for n in range(200)]),
    ],
    ids=["gzip", "multi-line document", "one-line array"],
)
def test_files_not_read_line_by_line_are_not_cut(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "export", content)
    assert shards.split_items([path], 3) == [[path]]


def test_parts_travel_to_workers_with_any_file_name(tmp_path: Path) -> None:
    name = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.ndjson"))
    items = [name, FilePart(name, 10, 20), "plain"]
    assert worker._items_from_json(worker._items_to_json(items)) == [str(name), items[1], "plain"]


@pytest.mark.parametrize(("chunk_rows", "pending"), [(25_000, 10_000), (7, 10_000), (25_000, 2)])
def test_rejections_are_listed_in_input_order_however_chunks_fall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int, pending: int
) -> None:
    # Some rules are checked when a chunk of documents becomes a frame, others while reading:
    # the listing must not depend on where chunks end.
    monkeypatch.setattr(spans, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(spans, "PENDING_REFUSALS", pending)
    lines = []
    for n in range(40):
        lines.append(_doc(n) if n % 3 else orjson.dumps(segment(f"bad-id-{n}")))  # late
        if n % 5 == 0:
            lines.append(b"[1, 2")  # refused while reading
    capture = write(tmp_path / "capture.ndjson", b"\n".join(lines) + b"\n")
    listed = load_traces([capture], processes=1).rejections.listed
    numbers = [int(rejection.position.removeprefix("line ")) for rejection in listed]
    assert numbers == sorted(numbers) and len(numbers) == 14 + 8


def test_empty_files_beside_a_cut_file_are_still_read(tmp_path: Path) -> None:
    capture = _daemon_capture(tmp_path / "b-capture.ndjson")
    empty = [write(tmp_path / name, b"") for name in ("a-empty.json", "c-empty.json")]
    items = [empty[0], capture, empty[1]]
    runs = shards.split_items(items, 3)
    assert len(runs) == 3 and runs[0][0] == empty[0] and runs[-1][-1] == empty[1]
    sequential = load_traces(items, processes=1)
    same_input(load_traces(items, processes=3), sequential)
    assert [r.source for r in sequential.rejections.listed].count(str(empty[1])) == 1


def test_a_large_file_is_read_a_piece_at_a_time_with_its_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = _daemon_capture(tmp_path / "capture.ndjson")
    data = capture.read_bytes()
    whole = load_traces([capture], processes=1)
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 5_000)
    sources = _sources(capture)
    assert len(sources) > 5 and all(source.lines for source in sources)
    assert b"".join(source.data for source in sources) == data
    for source in sources:
        before = data.split(source.data, 1)[0]
        assert source.first_line == before.count(b"\n") + 1
    same_input(load_traces([capture], processes=1), whole)
    same_input(load_traces([capture], processes=3), whole)
    # A worker's part starts mid-file: its first piece counts the lines before it.
    for part in _parts(shards.split_items([capture], 3)):
        pieces = _sources(part)
        assert len(pieces) > 1
        assert pieces[0].first_line == data[: part.start].count(b"\n") + 1
        assert b"".join(piece.data for piece in pieces) == data[part.start : part.end]


def test_only_line_by_line_inputs_are_read_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 1_000)
    small = write(tmp_path / "small.ndjson", _doc(1) + b"\n" + _doc(2) + b"\n")
    array = [segment(f"{n:016x}") for n in range(99)]
    whole = [
        small,
        write(tmp_path / "array.json", orjson.dumps(array)),
        write(tmp_path / "array.json.gz", gzip.compress(orjson.dumps(array))),
    ]
    for item in whole:
        (source,) = _sources(item)
        assert not source.lines


def _pieces_cover(sources: list[Source], text: bytes) -> None:
    assert len(sources) > 3 and all(source.lines for source in sources)
    assert b"".join(source.data for source in sources) == text
    lines = 1
    for source in sources:
        assert source.first_line == lines
        lines += source.data.count(b"\n")


def test_gzip_files_and_standard_input_are_read_in_pieces_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 1_000)
    monkeypatch.setattr(file_parts, "HEAD_BYTES", 2_000)
    capture = _daemon_capture(tmp_path / "capture.ndjson")
    text = capture.read_bytes()
    packed = write(tmp_path / "capture.ndjson.gz", gzip.compress(text))
    _pieces_cover(_sources(packed), text)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    _pieces_cover(_sources("-"), text)
    expected = load_traces([capture], processes=1)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    for read in (load_traces([packed], processes=1), load_traces(["-"], processes=1)):
        assert read.spans.equals(expected.spans)
        assert [(r.position, r.reason) for r in read.rejections.listed] == [
            (r.position, r.reason) for r in expected.rejections.listed
        ]


def test_a_truncated_gzip_capture_keeps_what_was_read_and_refuses_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 1_000)
    monkeypatch.setattr(file_parts, "HEAD_BYTES", 2_000)
    text = _daemon_capture(tmp_path / "capture.ndjson").read_bytes()
    packed = gzip.compress(text)
    cut = write(tmp_path / "cut.ndjson.gz", packed[: len(packed) // 2])

    loaded = load_traces([cut], processes=1)

    refused = loaded.rejections.listed[-1]
    assert refused.source == str(cut)
    assert refused.reason.startswith("unreadable gzip: ")
    assert "the lines before it were" in refused.reason and "re-download" in refused.reason
    first_lost = int(refused.position.removeprefix("line "))
    assert 10 < first_lost < text.count(b"\n")
    # Exactly the lines before the fault were read, as if the file had ended there.
    read = b"".join(text.splitlines(keepends=True)[: first_lost - 1])
    prefix = load_traces([write(tmp_path / "prefix.ndjson", read)], processes=1)
    assert loaded.spans.equals(prefix.spans)
    assert loaded.rejections.count == prefix.rejections.count + 1


def test_a_gzip_capture_that_breaks_mid_piece_loses_at_most_one_read_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 10**9)  # one piece, cut short by the fault
    monkeypatch.setattr(file_parts, "HEAD_BYTES", 2_000)
    monkeypatch.setattr(streams, "_STEP_BYTES", 3_000)
    text = _daemon_capture(tmp_path / "capture.ndjson").read_bytes()
    packed = gzip.compress(text)
    cut = write(tmp_path / "cut.ndjson.gz", packed[: len(packed) * 2 // 3])
    pieces: list[Source] = []

    with pytest.raises(UnreadableContentError) as fault:
        pieces.extend(streams.gzip_sources(cut, RejectionLog()))

    # What any decompressor can still get out of the cut file, up to its last line end.
    recoverable = zlib.decompressobj(wbits=31).decompress(cut.read_bytes())
    recoverable = recoverable[: recoverable.rfind(b"\n") + 1]
    read = b"".join(piece.data for piece in pieces)
    assert recoverable.startswith(read)
    longest_line = max(len(line) for line in text.splitlines())
    assert len(recoverable) - len(read) <= 3_000 + longest_line
    lines_read = read.count(b"\n")
    assert lines_read > 10 and fault.value.position == f"line {lines_read + 1}"


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_a_pipe_given_as_a_path_is_read_once_and_whole(tmp_path: Path, packed: bool) -> None:
    # `tracelens analyze <(zcat export.gz)` hands over a pipe: peeking at its start to tell
    # its format would eat the bytes peeked.
    # its format would eat the bytes peeked. The shell names the pipe /dev/fd/N.
    lines = b"\n".join(_doc(n) for n in range(50)) + b"\n"
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as stream:
            stream.write(gzip.compress(lines) if packed else lines)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        loaded = load_traces([f"/dev/fd/{read_end}"], processes=1)
    finally:
        writer.join()
        os.close(read_end)
    assert loaded.segments == 50 and loaded.rejections.count == 0
