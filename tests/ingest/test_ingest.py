"""Ingest of exported X-Ray data: formats, normalization, deduplication and bad input."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pytest

from tests.builders.ingest import OTHER_TRACE, TRACE, batch_page, segment, write
from tracelens.ingest.loader import load_traces
from tracelens.ingest.normalize import normalize_documents
from tracelens.ingest.opening.sources import InputError, expand_paths
from tracelens.schema import SPAN_SCHEMA


def test_microsecond_precision_and_duration_are_kept() -> None:
    spans = normalize_documents([segment()])
    row = spans.row(0, named=True)
    assert row["start_time"].microsecond == 123456
    assert row["duration_ms"] == pytest.approx(200.001)


def test_nested_subsegments_are_flattened_with_parent_owner_and_depth() -> None:
    doc = segment(
        subsegments=[
            {
                "id": "b" * 16,
                "name": "api.example.com",
                "namespace": "remote",
                "start_time": 1762828480.2,
                "end_time": 1762828480.3,
                "http": {
                    "request": {"url": "https://API.example.com:8443/v1?q=1", "method": "GET"}
                },
                "subsegments": [
                    {
                        "id": "c" * 16,
                        "name": "dns",
                        "start_time": 1762828480.2,
                        "end_time": 1762828480.21,
                    }
                ],
            }
        ]
    )
    spans = normalize_documents([doc]).sort("depth")
    assert spans.get_column("depth").to_list() == [0, 1, 2]
    assert spans.get_column("parent_id").to_list() == [None, "a" * 16, "b" * 16]
    assert set(spans.get_column("segment_id")) == {"a" * 16}
    assert spans.get_column("kind").to_list() == ["segment", "subsegment", "subsegment"]
    assert spans.get_column("host").to_list()[1] == "api.example.com"


def test_aws_fields_cause_and_annotations() -> None:
    doc = segment(
        origin="AWS::Lambda::Function",
        annotations={"note": "<b>café</b>"},
        subsegments=[
            {
                "id": "b" * 16,
                "name": "DynamoDB",
                "namespace": "aws",
                "start_time": 1762828480.2,
                "end_time": 1762828480.3,
                "throttle": True,
                "error": True,
                "http": {"response": {"status": "400"}},
                "aws": {"operation": "GetItem", "table_name": "orders", "retries": 3},
                "cause": {
                    "exceptions": [
                        {"type": "ProvisionedThroughputExceededException", "message": "Rate"}
                    ]
                },
            },
            {
                "id": "c" * 16,
                "name": "Lambda",
                "namespace": "aws",
                "start_time": 1762828480.2,
                "end_time": 1762828480.3,
                "aws": {
                    "operation": "Invoke",
                    "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:payments:live",
                },
                "cause": "0123456789abcdef",
            },
        ],
    )
    spans = normalize_documents([doc]).sort("id")
    root, dynamo, invoke = spans.iter_rows(named=True)
    assert orjson.loads(root["annotations"]) == {"note": "<b>café</b>"}
    assert (dynamo["aws_operation"], dynamo["aws_resource"], dynamo["aws_retries"]) == (
        "GetItem",
        "orders",
        3,
    )
    assert dynamo["http_status"] == 400 and dynamo["throttle"] and dynamo["exception_count"] == 1
    assert dynamo["exception_type"] == "ProvisionedThroughputExceededException"
    assert invoke["function_name"] == "payments"
    assert invoke["cause_ref"] == "0123456789abcdef"


def test_every_format_is_detected_by_content(tmp_path: Path) -> None:
    docs = [segment(f"{i:016x}", trace_id=TRACE if i < 3 else OTHER_TRACE) for i in range(6)]
    write(tmp_path / "page.txt", orjson.dumps(batch_page(docs[:2])))
    header = b'{"format": "json", "version": 1}\n'
    write(
        tmp_path / "daemon.json",
        header + orjson.dumps(docs[2]) + b"\n" + orjson.dumps(docs[3]) + b"\n",
    )
    write(tmp_path / "array.ndjson", orjson.dumps([docs[4]], option=orjson.OPT_INDENT_2))
    (tmp_path / "nested").mkdir()
    write(
        tmp_path / "nested" / "one.gz",
        gzip.compress(orjson.dumps(docs[5], option=orjson.OPT_INDENT_2)),
    )
    loaded = load_traces([tmp_path])
    assert loaded.rejections.count == 0
    assert (loaded.segments, loaded.traces, loaded.sources) == (6, 2, 4)


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    data = orjson.dumps(batch_page([segment()]))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert load_traces(["-"]).segments == 1


def test_duplicates_count_once_and_completed_supersedes_in_progress(tmp_path: Path) -> None:
    in_progress = segment("d" * 16, in_progress=True)
    del in_progress["end_time"]
    complete = segment("d" * 16)
    write(tmp_path / "a.json", orjson.dumps(batch_page([in_progress, segment("e" * 16)])))
    write(tmp_path / "b.json", orjson.dumps(batch_page([complete, segment("e" * 16)])))
    loaded = load_traces([tmp_path])
    assert (loaded.documents, loaded.segments, loaded.duplicates) == (4, 2, 2)
    assert loaded.spans.filter(pl.col("id") == "d" * 16).get_column("in_progress").to_list() == [
        False
    ]


def test_in_progress_document_alone_is_kept_without_end() -> None:
    doc = segment(in_progress=True)
    del doc["end_time"]
    row = normalize_documents([doc]).row(0, named=True)
    assert row["in_progress"] and row["end_time"] is None and row["duration_ms"] is None


def test_independent_subsegment_joins_its_owning_segment() -> None:
    parent = segment(
        subsegments=[
            {"id": "b" * 16, "name": "work", "start_time": 1762828480.2, "end_time": 1762828480.3}
        ]
    )
    independent = {
        "type": "subsegment",
        "trace_id": TRACE,
        "parent_id": "b" * 16,
        "id": "c" * 16,
        "name": "api.example.com",
        "namespace": "remote",
        "start_time": 1762828480.21,
        "end_time": 1762828480.29,
        "subsegments": [
            {"id": "f" * 16, "name": "dns", "start_time": 1762828480.21, "end_time": 1762828480.22}
        ],
    }
    spans = normalize_documents([independent, parent])
    rows = {r["id"]: r for r in spans.iter_rows(named=True)}
    assert rows["c" * 16]["segment_id"] == "a" * 16 and rows["c" * 16]["depth"] == 2
    assert rows["f" * 16]["segment_id"] == "a" * 16 and rows["f" * 16]["depth"] == 3
    assert rows["c" * 16]["kind"] == "subsegment"


def test_unicode_html_and_unknown_fields_survive() -> None:
    doc = segment(
        name="</script><img src=x onerror=alert(1)> – 東京",
        extra={"anything": [1, 2]},
        service={"v": 1},
    )
    assert (
        normalize_documents([doc]).item(0, "name") == "</script><img src=x onerror=alert(1)> – 東京"
    )


BAD_LINES = [
    (
        b'{"trace_id": "%s", "id": "1111111111111111", "name": "x", "start_time": NaN, "end_time": 1}',
        "invalid JSON",
    ),
    (
        b'{"trace_id": "%s", "id": "2222222222222222", "name": "x", "start_time": Infinity, "end_time": 1}',
        "invalid JSON",
    ),
    (
        b'{"trace_id": "%s", "id": "3333333333333333", "name": "x", "start_time": 1762828480, "end_time": 1762828481,}',
        "invalid JSON",
    ),
    (b'{"trace_id": "%s", "id": "4444444444444444", "name": "x", "start_ti', "invalid JSON"),
    (
        b'{"trace_id": "%s", "name": "x", "start_time": 1762828480, "end_time": 1762828481}',
        "missing required field: `id`",
    ),
    (
        b'{"trace_id": "%s", "id": "5555555555555555", "start_time": 1762828480, "end_time": 1762828481}',
        "missing required field: `name`",
    ),
    (
        b'{"trace_id": "%s", "id": "6666666666666666", "name": "x", "end_time": 1762828481}',
        "missing required field: `start_time`",
    ),
    (
        b'{"id": "7777777777777777", "name": "x", "start_time": 1762828480, "end_time": 1762828481}',
        "missing required field: trace_id",
    ),
    (
        b'{"trace_id": "%s", "id": "8888888888888888", "name": 5, "start_time": 1762828480, "end_time": 1762828481}',
        "wrong type",
    ),
    (
        b'{"trace_id": "%s", "id": "9999999999999999", "name": "x", "start_time": "1", "end_time": 1762828481}',
        "wrong type",
    ),
    (
        b'{"trace_id": "%s", "id": "not-hex", "name": "x", "start_time": 1762828480, "end_time": 1762828481}',
        "invalid id: not-hex",
    ),
    (
        b'{"trace_id": "%s", "id": "aaaaaaaaaaaaaaa0", "name": "x", "start_time": 1762828480}',
        "missing required field: end_time",
    ),
    (
        b'{"trace_id": "%s", "id": "bbbbbbbbbbbbbbb0", "name": "x", "start_time": 1762828480, "end_time": 1762828481,'
        b' "subsegments": [{"id": "cccccccccccccc00", "start_time": 1762828480, "end_time": 1762828481}]}',
        "missing required field: `name` at $.subsegments[0]",
    ),
    # Numbers the span frame cannot hold refuse the document instead of failing the run.
    (
        b'{"trace_id": "%s", "id": "ddddddddddddddd0", "name": "x", "start_time": 1762828480,'
        b' "end_time": 1762828481, "http": {"response": {"status": 99999999999}}}',
        "wrong type: expected `int` <= 2147483647 at $.http.response.status",
    ),
    (
        b'{"trace_id": "%s", "id": "ddddddddddddddd1", "name": "x", "start_time": 1762828480,'
        b' "end_time": 1762828481, "aws": {"retries": 4294967296}}',
        "at $.aws.retries",
    ),
    (
        b'{"trace_id": "%s", "id": "ddddddddddddddd2", "name": "x", "start_time": 1e300,'
        b' "end_time": 1e300}',
        "at $.start_time",
    ),
    (
        b'{"trace_id": "%s", "id": "ddddddddddddddd3", "name": "x", "start_time": -5,'
        b' "end_time": 1762828481}',
        "time out of range: expected epoch seconds in [2000-01-01, 2100-01-01) UTC at $.start_time",
    ),
    (
        b'{"trace_id": "%s", "id": "ddddddddddddddd4", "name": "x", "start_time": 1762828480,'
        b' "end_time": 1762828481, "http": {"response": {"status": "2\xc2\xb2"}}}',
        "wrong type: http.response.status is '2\xb2'",
    ),
    (
        b'{"trace_id": "%s", "id": "ddddddddddddddd5", "name": "x", "start_time": 1762828480,'
        b' "end_time": 1762828481, "http": {"response": {"status": "99999999999"}}}',
        "wrong type: http.response.status is '99999999999'",
    ),
]


def test_each_bad_document_is_rejected_with_reason_and_position(tmp_path: Path) -> None:
    good = [orjson.dumps(segment(f"{i:016x}")) for i in range(1, 4)]
    lines = [good[0]] + [line.replace(b"%s", TRACE.encode()) for line, _ in BAD_LINES] + good[1:]
    path = write(tmp_path / "mixed.ndjson", b"\n".join(lines) + b"\n")
    loaded = load_traces([path])
    assert loaded.segments == 3, "good documents around bad ones are all kept"
    assert loaded.rejections.count == len(BAD_LINES)
    assert loaded.documents == 3 + len(BAD_LINES)
    # Malformed ids are found when a chunk becomes a frame, so order by position to compare.
    by_position = {r.position: r for r in loaded.rejections.listed}
    for number, (_, expected) in enumerate(BAD_LINES, start=2):
        rejection = by_position[f"line {number}"]
        assert rejection.source == str(path)
        assert expected in rejection.reason, rejection.reason


def _nested(depth: int) -> str:
    inner = ""
    for level in reversed(range(depth)):
        children = f', "subsegments": [{inner}]' if inner else ""
        inner = (
            f'{{"id": "{level + 16:016x}", "name": "n", "start_time": 1762828480,'
            f' "end_time": 1762828481{children}}}'
        )
    return (
        f'{{"trace_id": "{TRACE}", "id": "{1:016x}", "name": "x", "start_time": 1762828480,'
        f' "end_time": 1762828481, "subsegments": [{inner}]}}'
    )


@pytest.mark.parametrize("shape", ["document", "line", "page"])
def test_nesting_too_deep_is_refused_and_a_deep_tree_is_read(tmp_path: Path, shape: str) -> None:
    def export(text: str) -> bytes:
        if shape == "page":
            page = {"Traces": [{"Id": TRACE, "Segments": [{"Id": "1" * 16, "Document": text}]}]}
            return orjson.dumps(page)
        return text.encode() + (b"\n" + orjson.dumps(segment("f" * 16)) if shape == "line" else b"")

    deep = load_traces([write(tmp_path / "deep.json", export(_nested(600)))])
    assert deep.rejections.count == 1 and deep.spans.filter(pl.col("id") == "1" * 16).is_empty()
    # The JSON parser stops at 1024 levels of arrays and objects, the decoder a little sooner.
    reason = deep.rejections.listed[0].reason
    assert reason.startswith(("too deeply nested", "invalid JSON: depth limit exceeded"))
    if shape == "line":
        assert deep.spans.filter(pl.col("id") == "f" * 16).height == 1
    fine = load_traces([write(tmp_path / "fine.json", export(_nested(200)))])
    assert fine.rejections.count == 0
    assert fine.spans.filter(pl.col("trace_id") == TRACE)["depth"].max() == 200


def test_a_bad_first_line_costs_only_itself(tmp_path: Path) -> None:
    bad_first = b'{"trace_id": "%s", "id": "1111111111111111", "name": "x", "start_time": NaN}'
    lines = [bad_first.replace(b"%s", TRACE.encode()), orjson.dumps(segment("2" * 16))]
    loaded = load_traces([write(tmp_path / "daemon.ndjson", b"\n".join(lines))])
    assert loaded.segments == 1 and loaded.rejections.count == 1
    assert loaded.rejections.listed[0].position == "line 1"


def test_truncated_file_is_one_clear_rejection(tmp_path: Path) -> None:
    data = orjson.dumps(batch_page([segment()]), option=orjson.OPT_INDENT_2)
    path = write(tmp_path / "cut.json", data[: len(data) // 2])
    loaded = load_traces([path, write(tmp_path / "ok.json", orjson.dumps(segment("f" * 16)))])
    assert loaded.segments == 1 and loaded.rejections.count == 1
    assert loaded.rejections.listed[0].source == str(path)
    assert "invalid JSON" in loaded.rejections.listed[0].reason


def test_bad_document_inside_a_batch_page_names_trace_and_segment(tmp_path: Path) -> None:
    page = batch_page([segment(), segment("b" * 16)])
    page["Traces"][0]["Segments"][1]["Document"] = (
        '{"id": "bbbbbbbbbbbbbbbb", "name": "x", "start_time": NaN}'
    )
    loaded = load_traces([write(tmp_path / "p.json", orjson.dumps(page))])
    assert loaded.segments == 1
    assert loaded.rejections.listed[0].position == "Traces[0].Segments[1]"


def test_unrecognized_json_and_empty_files_are_rejected(tmp_path: Path) -> None:
    loaded = load_traces(
        [write(tmp_path / "x.json", b'{"hello": 1}'), write(tmp_path / "e.json", b"  \n")]
    )
    assert loaded.rejections.count == 2
    assert "unrecognized input" in loaded.rejections.listed[0].reason
    assert loaded.rejections.listed[0].position == "whole file"
    assert "empty input" in loaded.rejections.listed[1].reason


@pytest.mark.parametrize(
    ("response", "hint"),
    [
        ({"TraceSummaries": [], "ApproximateTime": 1.0}, "aws xray batch-get-traces"),
        ({"Services": [], "StartTime": 1}, "holds no segments"),
        ({"MetricDataResults": [], "Messages": []}, "pass it with --metrics"),
        ({"Functions": []}, "pass it with --functions"),
        ({"events": [], "searchedLogStreams": []}, "pass it with --logs"),
        ({"results": [], "status": "Complete"}, "pass it with --logs"),
    ],
)
def test_other_aws_responses_passed_as_traces_say_what_to_do(
    tmp_path: Path, response: dict, hint: str
) -> None:
    loaded = load_traces([write(tmp_path / "x.json", orjson.dumps(response))])
    (rejection,) = loaded.rejections.listed
    assert rejection.position == "whole file"
    assert rejection.reason.startswith("not trace data: ") and hint in rejection.reason


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: b"\xef\xbb\xbf" + text.encode(),  # Out-File -Encoding utf8
        lambda text: text.encode("utf-16"),  # Windows PowerShell's `>`: UTF-16 LE with a BOM
        lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
    ],
    ids=["utf-8 bom", "utf-16 le", "utf-16 be"],
)
def test_exports_with_a_byte_order_mark_are_read(tmp_path: Path, encode) -> None:
    page = orjson.dumps(batch_page([segment(name="café ✓ <b>")])).decode()
    export = write(tmp_path / "export.json", encode(page))
    lines = write(
        tmp_path / "lines.ndjson", encode(f"{orjson.dumps(segment('b' * 16)).decode()}\n" * 2)
    )
    loaded = load_traces([export, lines])
    assert loaded.rejections.count == 0 and loaded.duplicates == 1
    assert sorted(loaded.spans["name"]) == ["café ✓ <b>", "orders-api/prod"]


def test_text_that_is_not_what_its_byte_order_mark_says_is_refused(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.json", b"\xff\xfe{\x00\x00\xd8")  # a lone surrogate
    loaded = load_traces([broken])
    assert [r.position for r in loaded.rejections.listed] == ["whole file"]
    assert loaded.rejections.listed[0].reason.startswith("invalid JSON")


def test_unreadable_paths_raise_input_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no-such-file"):
        load_traces([tmp_path / "no-such-file.json"])


@pytest.mark.parametrize(
    "damage",
    [lambda data: b"\x1f\x8b\x08garbage", lambda data: data[: len(data) // 2]],
    ids=["corrupt", "truncated"],
)
def test_a_damaged_gzip_file_is_refused_and_the_other_inputs_are_read(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    good = write(tmp_path / "a.json", orjson.dumps(batch_page([segment("a" * 16)])))
    bad = write(tmp_path / "b.json.gz", damage(gzip.compress(good.read_bytes())))
    loaded = load_traces([tmp_path])
    assert loaded.segments == 1
    (refused,) = loaded.rejections.listed
    assert (refused.source, refused.position) == (str(bad), "whole file")
    assert refused.reason.startswith("unreadable gzip: ")
    assert refused.reason.endswith("nothing in it was read: re-export or re-download the file")


def test_empty_input_still_has_the_span_schema() -> None:
    spans = normalize_documents([])
    assert dict(spans.schema) == SPAN_SCHEMA


def test_annotations_keep_any_json_number() -> None:
    big = 123456789012345678901234567890
    spans = normalize_documents([segment(annotations={"order": big, "ratio": 1e308})])
    assert spans.item(0, "annotations") == '{"order":123456789012345678901234567890,"ratio":1e308}'


def test_a_symbolic_link_back_up_the_tree_is_followed_once(tmp_path: Path) -> None:
    export = tmp_path / "export"
    (export / "sub").mkdir(parents=True)
    write(export / "sub" / "page.json", orjson.dumps(batch_page([segment()])))
    (export / "sub" / "up").symlink_to("..")  # a loop a naive walk never leaves
    (export / "elsewhere").symlink_to(export / "sub")  # the same files by another name
    loaded = load_traces([export])
    assert loaded.sources == 1 and loaded.segments == 1
    assert expand_paths([export]) == [export / "elsewhere" / "page.json"]
