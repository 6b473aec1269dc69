"""Hostile and impossible input: times, special files, sizes, loops (see README "Bad input")."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tracelens.ingest import framing
from tracelens.ingest.loader import load_traces
from tracelens.ingest.normalize import normalize_documents
from tracelens.ingest.opening import file_parts, streams
from tracelens.ingest.opening.sources import FilePart, InputError
from tracelens.ingest.rejections import RejectionLog
from tracelens.limits import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_STRING_CHARS,
    OVERSIZE_LINE,
    OVERSIZE_VALUE,
)

ROOT = Path(__file__).resolve().parents[2]
TRACE = "1-6912a0c0-0123456789abcdef01234567"
START = 1762828480.0


def segment(seg_id: str = "a" * 16, **fields: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "trace_id": TRACE,
        "id": seg_id,
        "name": "orders-api/prod",
        "start_time": START,
        "end_time": START + 0.2,
    }
    doc.update(fields)
    return doc


def batch_page(documents: list[dict[str, object]]) -> dict[str, object]:
    segments = [{"Id": d["id"], "Document": orjson.dumps(d).decode()} for d in documents]
    return {"Traces": [{"Id": TRACE, "Segments": segments}], "UnprocessedTraceIds": []}


def ndjson(path: Path, *documents: dict[str, object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(document) + b"\n" for document in documents))
    return path


IMPOSSIBLE_TIMES = [
    # (start_time, end_time, what the reason says)
    (START, 253402300800.0, "at $.end_time"),  # the year 10000
    (0.0, 1e12, "at $.start_time"),
    (EARLIEST_TIME - 1.0, START, "at $.start_time"),
    (START, LATEST_TIME, "at $.end_time"),
    (1.0e300, 1.0e300, "at $.start_time"),
]


@pytest.mark.parametrize(("start", "end", "reason"), IMPOSSIBLE_TIMES)
def test_impossible_times_refuse_the_document_with_the_reason(
    tmp_path: Path, start: float, end: float, reason: str
) -> None:
    path = ndjson(
        tmp_path / "times.ndjson",
        segment("1" * 16),
        segment("2" * 16, start_time=start, end_time=end),
        segment("3" * 16),
    )
    loaded = load_traces([path])
    assert loaded.segments == 2
    assert sorted(loaded.spans["id"]) == ["1" * 16, "3" * 16]
    [rejection] = loaded.rejections.listed
    assert rejection.position == "line 2"
    assert rejection.reason.startswith("time out of range: expected epoch seconds in [2000-01-01")
    assert rejection.reason.endswith(reason), rejection.reason


def test_an_end_before_the_start_refuses_the_document(tmp_path: Path) -> None:
    path = ndjson(tmp_path / "t.ndjson", segment(end_time=START - 1), segment("b" * 16))
    loaded = load_traces([path])
    assert loaded.spans["id"].to_list() == ["b" * 16]
    reason = loaded.rejections.listed[0].reason
    assert reason == f"impossible times: end_time {START - 1!r} is before start_time {START!r}"


def test_impossible_times_of_a_nested_subsegment_refuse_its_document() -> None:
    child = {"id": "b" * 16, "name": "ddb", "start_time": START, "end_time": START - 5}
    log = RejectionLog()
    spans = normalize_documents([segment(subsegments=[child]), segment("c" * 16)], rejections=log)
    assert spans["id"].to_list() == ["c" * 16]
    assert log.listed[0].reason.startswith("impossible times: subsegments[0].end_time")


def test_times_at_the_edges_of_the_range_are_kept() -> None:
    spans = normalize_documents(
        [
            segment("1" * 16, start_time=EARLIEST_TIME, end_time=EARLIEST_TIME),
            segment("2" * 16, start_time=LATEST_TIME - 1, end_time=LATEST_TIME - 0.5),
            segment("3" * 16, start_time=START, in_progress=True, end_time=None),
        ]
    )
    assert spans.height == 3


def _tracelens(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # NOTE: in a child with a time limit: before special files were refused, these blocked.
    return subprocess.run(
        [sys.executable, "-m", "tracelens", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize("option", ["", "--logs", "--metrics", "--functions"])
def test_a_named_pipe_given_as_an_input_is_refused_with_one_message(
    tmp_path: Path, option: str
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    traces = ndjson(tmp_path / "t.ndjson", segment())
    args = [str(traces), option, str(fifo)] if option else [str(fifo)]
    result = _tracelens("analyze", *args, "--json", "-q", cwd=tmp_path)
    assert result.returncode != 0
    assert f"{fifo}: not a regular file or directory (a named pipe)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_named_pipe_given_as_the_config_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    result = _tracelens("config", "check", "--config", str(fifo), cwd=tmp_path)
    assert result.returncode != 0
    assert "not a regular file (a named pipe)" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_character_device_is_refused() -> None:
    with pytest.raises(InputError, match=r"/dev/zero: not a regular file or directory \(a char"):
        load_traces(["/dev/zero"])


def test_special_files_inside_a_directory_are_skipped_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    ndjson(folder / "a.ndjson", segment("1" * 16))
    os.mkfifo(folder / "b-fifo")
    (folder / "c-zero").symlink_to("/dev/zero")
    ndjson(folder / "d.ndjson", segment("2" * 16))
    loaded = load_traces([folder])
    assert loaded.segments == 2 and loaded.rejections.count == 0
    assert loaded.read_stats.skipped == [
        f"skipped {folder / 'b-fifo'}: a named pipe, not a file",
        f"skipped {folder / 'c-zero'}: a character device, not a file",
    ]


@pytest.fixture
def small_values(monkeypatch: pytest.MonkeyPatch) -> int:
    """Values of at most 2,000 bytes, so that tests stay small (the real cap: tracelens.limits)."""
    monkeypatch.setattr(streams, "MAX_VALUE_BYTES", 2_000)
    monkeypatch.setattr(framing, "MAX_VALUE_BYTES", 2_000)
    monkeypatch.setattr(file_parts, "HEAD_BYTES", 500)
    return 2_000


def test_an_oversize_line_is_refused_with_its_position_and_the_rest_read(
    tmp_path: Path, small_values: int
) -> None:
    lines = [orjson.dumps(segment("1" * 16)), orjson.dumps(segment("2" * 16, name="x" * 5_000))]
    lines += [orjson.dumps(segment("3" * 16))]
    text = b"\n".join(lines) + b"\n"
    (tmp_path / "c.ndjson.gz").write_bytes(gzip.compress(text))
    loaded = load_traces([tmp_path / "c.ndjson.gz"], processes=1)
    assert sorted(loaded.spans["id"]) == ["1" * 16, "3" * 16]
    [rejection] = loaded.rejections.listed
    assert (rejection.position, rejection.reason) == ("line 2", OVERSIZE_LINE)


@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_standard_input_holding_one_oversize_value_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch, small_values: int, packed: bool
) -> None:
    page = orjson.dumps([segment(f"{n:016x}") for n in range(100)])
    assert len(page) > small_values
    text = page + b" " * 10**7
    endless = io.BytesIO(gzip.compress(text) if packed else text)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(endless))
    loaded = load_traces(["-"], processes=1)
    assert loaded.segments == 0
    [rejection] = loaded.rejections.listed
    assert (rejection.source, rejection.position) == ("<stdin>", "whole file")
    assert rejection.reason == OVERSIZE_VALUE
    if not packed:
        assert endless.tell() < 3 * 2**20, "reading stops a read step (1 MiB) after the cap"


def test_a_small_gzip_file_is_decompressed_a_piece_at_a_time(
    tmp_path: Path, small_values: int
) -> None:
    # A gzip "bomb": a few kilobytes holding blanks around one document, then too much.
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * 10**6 + orjson.dumps(segment()) + b" " * 10**6))
    loaded = load_traces([bomb], processes=1)
    assert loaded.segments == 1 and loaded.rejections.count == 0
    page = orjson.dumps(batch_page([segment(f"{n:016x}") for n in range(100)]))
    bomb.write_bytes(gzip.compress(page))
    refused = load_traces([bomb], processes=1)
    assert refused.segments == 0
    assert refused.rejections.listed[0].reason == OVERSIZE_VALUE


def test_a_large_plain_file_holding_one_oversize_value_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_values: int
) -> None:
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 1_000)
    path = tmp_path / "page.json"
    path.write_bytes(orjson.dumps(batch_page([segment(f"{n:016x}") for n in range(100)])))
    loaded = load_traces([path], processes=1)
    assert loaded.segments == 0
    assert loaded.rejections.listed[0].reason == OVERSIZE_VALUE


def test_a_symbolic_link_loop_inside_a_directory_is_skipped_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    ndjson(folder / "a.ndjson", segment("1" * 16))
    (folder / "loop").symlink_to("loop")
    (folder / "ping").symlink_to("pong")
    (folder / "pong").symlink_to("ping")
    loaded = load_traces([folder])
    assert loaded.segments == 1 and loaded.rejections.count == 0
    assert loaded.read_stats.skipped == [
        f"skipped {folder / name}: Too many levels of symbolic links"
        for name in ("loop", "ping", "pong")
    ]


def test_long_strings_are_cut_where_they_enter_saying_so() -> None:
    long = "n" * (MAX_STRING_CHARS + 10)
    spans = normalize_documents(
        [
            segment(
                name=long,
                http={"request": {"url": "https://example.com/" + long}},
                cause={"exceptions": [{"type": "E", "message": long}]},
                annotations={"big": long * 20, "n": 1},
            )
        ]
    )
    row = spans.row(0, named=True)
    mark = f"… [cut at {MAX_STRING_CHARS} of {MAX_STRING_CHARS + 10} characters]"
    assert row["name"] == "n" * MAX_STRING_CHARS + mark
    assert row["exception_message"] == "n" * MAX_STRING_CHARS + mark
    assert row["http_url"].endswith(f" of {MAX_STRING_CHARS + 30} characters]")
    annotations = orjson.loads(row["annotations"])
    assert annotations["n"] == 1
    assert annotations["big"].endswith(
        f"[cut at {MAX_STRING_CHARS} of {len(long) * 20} characters]"
    )
    # Ordinary strings are untouched.
    assert normalize_documents([segment()]).row(0, named=True)["name"] == "orders-api/prod"


def test_files_that_are_not_trace_data_in_a_directory_are_skipped_with_one_note(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "export"
    (folder / "notes").mkdir(parents=True)
    ndjson(folder / "a.ndjson", segment("1" * 16))
    (folder / "b.json").write_bytes(orjson.dumps(batch_page([segment("2" * 16)])))
    (folder / "README.md").write_text("# Exported traces\n\nFrom prod, 6 h.\n")
    (folder / "notes" / "todo.txt").write_text("look at the cold starts\n")
    (folder / "map.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (folder / "broken.json").write_text('{"trace_id": ')  # looks like JSON: still refused
    loaded = load_traces([folder])
    assert loaded.segments == 2
    assert [r.source for r in loaded.rejections.listed] == [str(folder / "broken.json")]
    assert loaded.read_stats.skipped == [
        f"skipped 3 file(s) under {folder} that are not trace data (they do not start with "
        f"{{ or [): {folder / 'README.md'}, {folder / 'map.png'}, {folder / 'notes' / 'todo.txt'}"
    ]


def test_strict_does_not_fail_on_files_skipped_in_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    ndjson(folder / "a.ndjson", segment("1" * 16))
    (folder / "README.md").write_text("# Exported traces\n")
    result = _tracelens("analyze", str(folder), "--strict", "--json", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["input"]["rejected"] == 0
    assert "note: skipped 1 file(s) under" in result.stderr


def test_text_logs_in_a_directory_of_side_inputs_are_still_read(tmp_path: Path) -> None:
    from tracelens.ingest.opening.sources import expand_paths

    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "orders.log").write_text("START RequestId: 8f5e Version: $LATEST\n")
    assert expand_paths([folder]) == [folder / "orders.log"]


HEADER = b'{"format": "json", "version": 1}\n'


def test_daemon_documents_written_over_several_lines_are_read(tmp_path: Path) -> None:
    pretty = [orjson.dumps(segment(f"{n:016x}"), option=orjson.OPT_INDENT_2) for n in (1, 2)]
    broken = orjson.dumps(segment("3" * 16), option=orjson.OPT_INDENT_2).replace(b'",\n', b'"\n')
    compact = orjson.dumps(segment("4" * 16))
    capture = HEADER + pretty[0] + b"\n" + HEADER + broken + b"\n" + HEADER + pretty[1]
    capture += b"\n" + HEADER + compact + b"\n" + compact.replace(b"4" * 16, b"5" * 16) + b"\n"
    path = tmp_path / "capture.txt"
    path.write_bytes(capture)
    loaded = load_traces([path])
    assert sorted(loaded.spans["id"]) == [f"{n:016x}" for n in (1, 2)] + ["4" * 16, "5" * 16]
    [rejection] = loaded.rejections.listed
    first = capture[: capture.index(broken)].count(b"\n") + 1
    last = first + broken.count(b"\n")
    assert rejection.position == f"line {first}"
    assert rejection.reason.startswith("invalid JSON")
    assert rejection.reason.endswith(f"(a document over lines {first}-{last})")


def test_without_a_daemon_header_each_line_stands_alone(tmp_path: Path) -> None:
    pretty = orjson.dumps(segment(), option=orjson.OPT_INDENT_2)
    path = tmp_path / "lines.ndjson"
    path.write_bytes(orjson.dumps(segment("1" * 16)) + b"\n" + pretty + b"\n")
    loaded = load_traces([path])
    assert loaded.spans["id"].to_list() == ["1" * 16]
    assert loaded.rejections.count == pretty.count(b"\n") + 1


def test_a_small_gzip_capture_cut_short_keeps_the_lines_before_the_cut(tmp_path: Path) -> None:
    text = b"".join(orjson.dumps(segment(f"{n:016x}")) + b"\n" for n in range(1, 2001))
    packed = gzip.compress(text)
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(packed[: len(packed) * 3 // 4])
    loaded = load_traces([cut], processes=1)
    assert loaded.segments > 1000
    [rejection] = loaded.rejections.listed
    assert rejection.position == f"line {loaded.segments + 1}"
    assert rejection.reason.startswith("unreadable gzip")


@pytest.mark.parametrize("shape", ["lines", "page"])
def test_trailing_garbage_after_a_gzip_stream_costs_no_document(tmp_path: Path, shape: str) -> None:
    documents = [segment(f"{n:016x}") for n in range(1, 4)]
    if shape == "lines":
        text = b"".join(orjson.dumps(document) + b"\n" for document in documents)
    else:
        text = orjson.dumps(batch_page(documents))
    path = tmp_path / "export.json.gz"
    path.write_bytes(gzip.compress(text) + b"garbage after the stream")
    loaded = load_traces([path], processes=1)
    assert loaded.segments == 3
    [rejection] = loaded.rejections.listed
    assert rejection.reason.startswith("unreadable gzip")


def _deep(levels: int) -> bytes:
    """A valid document nested deeper than the JSON parser follows (written as text)."""
    inner = (
        b'{"id": "ffffffffffffffff", "name": "n", "start_time": 1762828480, "end_time": 1762828480'
    )
    for level in range(levels):
        inner = (
            b'{"id": "%016x", "name": "n", "start_time": 1762828480, "end_time": 1762828480,'
            b' "subsegments": [%s}]' % (level, inner)
        )
    return orjson.dumps(segment("9" * 16))[:-1] + b', "subsegments": [' + inner + b"}]}"


def test_one_bad_escape_in_a_page_costs_only_the_document_holding_it(tmp_path: Path) -> None:
    page = orjson.dumps(batch_page([segment(f"{n:016x}", name=f"doc-{n}") for n in (1, 2, 3)]))
    assert page.count(b"doc-2") == 1
    path = tmp_path / "page.json"
    path.write_bytes(page.replace(b"doc-2", b"doc\\q2"))  # \q is no JSON escape
    loaded = load_traces([path])
    assert sorted(loaded.spans["id"]) == [f"{n:016x}" for n in (1, 3)]
    reasons = {r.position: r.reason for r in loaded.rejections.listed}
    assert reasons["Traces[0].Segments[1]"].startswith("invalid JSON")
    bad_escape = page.index(b"doc-2") + 3
    assert reasons[f"byte {bad_escape:,}"] == "invalid JSON: a bad escape, read as a backslash"


def test_an_array_keeps_its_documents_around_one_too_deep_or_broken(tmp_path: Path) -> None:
    items = [orjson.dumps(segment("1" * 16)), _deep(1100)]
    items += [orjson.dumps(segment("2" * 16)), b'{"id": "x\\q"}', orjson.dumps(segment("3" * 16))]
    path = tmp_path / "array.json"
    path.write_bytes(b"[" + b",\n ".join(items) + b"]")
    loaded = load_traces([path])
    assert sorted(loaded.spans["id"]) == ["1" * 16, "2" * 16, "3" * 16]
    assert [r.position for r in loaded.rejections.listed] == ["[1]", "[3]"]
    assert loaded.rejections.listed[0].reason.startswith("invalid JSON: depth limit exceeded")


def test_invalid_utf8_in_a_field_tracelens_does_not_read_refuses_the_document(
    tmp_path: Path,
) -> None:
    bad = orjson.dumps(segment("2" * 16, note="caf\u00e9")).replace(b"\xc3\xa9", b"\xe9")
    path = tmp_path / "capture.ndjson"
    path.write_bytes(orjson.dumps(segment("1" * 16)) + b"\n" + bad + b"\n")
    loaded = load_traces([path])
    assert loaded.spans["id"].to_list() == ["1" * 16]
    [rejection] = loaded.rejections.listed
    assert rejection.position == "line 2"
    assert rejection.reason.startswith(f"invalid UTF-8 at byte {bad.index(b'caf') + 3} of the line")


def test_a_huge_line_in_a_large_plain_file_is_refused_without_being_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_values: int
) -> None:
    monkeypatch.setattr(file_parts, "PIECE_BYTES", 1_000)
    lines = [orjson.dumps(segment(f"{n:016x}")) for n in range(1, 101)]
    lines += [b'{"name": "' + b"x" * 50_000 + b'"}']
    lines += [orjson.dumps(segment(f"{n:016x}")) for n in range(101, 201)]
    path = tmp_path / "capture.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    log = RejectionLog()
    sources = list(streams.item_sources(path, log))
    assert max(len(source.data) for source in sources) <= 1_000 + small_values
    assert [(r.position, r.reason) for r in log.listed] == [("line 101", OVERSIZE_LINE)]
    loaded = load_traces([path], processes=1)
    assert loaded.segments == 200
    assert [r.position for r in loaded.rejections.listed] == ["line 101"]
    # A part of the file starting before the line, its first line number not known yet.
    part = FilePart(path, len(b"\n".join(lines[:50])) + 1, path.stat().st_size)
    part_log = RejectionLog()
    list(streams.item_sources(part, part_log))
    assert [r.position for r in part_log.listed] == ["line 101"]
