"""End-to-end CLI behaviour: help, errors, strictness, outputs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import click
import polars as pl
import pytest
from click.testing import CliRunner

from tracelens.cli import _allocator, main

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"
TRACE = "1-6912a0c0-0123456789abcdef01234567"
GOOD = json.dumps(
    {
        "trace_id": TRACE,
        "id": "a" * 16,
        "name": "svc",
        "start_time": 1762828480.1,
        "end_time": 1762828480.2,
    }
)


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", all_commands(main), ids=lambda c: " ".join(c) or "tracelens")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


def test_commands_listed_without_importing_them_are_the_real_ones() -> None:
    context = click.Context(main)
    names = main.list_commands(context)
    assert names == [
        "analyze",
        "report",
        "sample",
        "collect",
        "import",
        "store",
        "engine",
        "demo",
        "agent",
        "config",
    ]
    for name in names:
        command = main.get_command(context, name)
        assert command is not None and command.name == name
    listing = CliRunner().invoke(main, ["--help"]).output
    assert all(f"  {name}  " in listing for name in names)
    assert main.get_command(context, "nope") is None


def _modules_loaded_by(*args: str) -> set[str]:
    probe = (
        "import sys\n"
        "from tracelens.cli import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(done.stdout.split())


def test_help_and_offline_analyze_skip_the_agent_stack() -> None:
    # Starting fast matters on call: `--help` loads no data libraries, and the offline
    # analyzer does not load boto3 or the agent.
    assert not {"polars", "boto3", "plotly"} & _modules_loaded_by("--help")
    analyzed = _modules_loaded_by(
        "analyze", str(SAMPLES / "xray"), "--json", "-q", "--out", os.devnull
    )
    assert "polars" in analyzed
    assert not {"boto3", "tracelens.agent.config", "collectors"} & analyzed


def test_analyze_of_a_local_store_skips_boto3(tmp_path: Path) -> None:
    # A local store needs no AWS client: boto3 and the collectors' clients cost ~0.2 s.
    store = tmp_path / "store"
    imported = CliRunner().invoke(
        main, ["import", str(SAMPLES / "xray"), "--store", str(store), "-q"]
    )
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "analysis.json"
    analyzed = _modules_loaded_by(
        "analyze", "--store", str(store), "--json", "-q", "--out", str(out)
    )
    assert json.loads(out.read_text())["input"]["segments"] > 0
    assert "tracelens.store" in analyzed
    assert not {"boto3", "botocore.session", "botocore.client", "collectors.session"} & analyzed


def test_strict_names_file_and_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    nan_line = (
        f'{{"trace_id": "{TRACE}", "id": "bbbbbbbbbbbbbbbb", "name": "x", "start_time": NaN}}'
    )
    bad.write_text(f"{GOOD}\n{nan_line}\n")
    lenient = CliRunner().invoke(main, ["analyze", str(bad), "--json", "-q"])
    assert lenient.exit_code == 0
    contract = json.loads(lenient.stdout)
    assert contract["input"]["rejected"] == 1
    assert contract["input"]["rejections"][0] == {
        "source": str(bad),
        "position": "line 2",
        "reason": contract["input"]["rejections"][0]["reason"],
    }
    strict = CliRunner().invoke(main, ["analyze", str(bad), "--json", "--strict", "-q"])
    assert strict.exit_code != 0
    assert f"{bad} (line 2)" in strict.output and "invalid JSON" in strict.output


def test_a_truncated_gzip_export_is_refused_where_it_breaks(tmp_path: Path) -> None:
    lines = [GOOD.replace("a" * 16, f"{n:016x}") for n in range(2000)]
    text = "\n".join(lines).encode() + b"\n"
    packed = gzip.compress(text, mtime=0)
    cut = tmp_path / "export.ndjson.gz"
    cut.write_bytes(packed[: len(packed) * 3 // 4])
    lenient = CliRunner().invoke(main, ["analyze", str(cut), "--json", "-q"])
    assert lenient.exit_code == 0, lenient.output
    contract = json.loads(lenient.stdout)
    assert contract["input"]["rejected"] == 1
    (refused,) = contract["input"]["rejections"]
    # The lines before the break are read, the rest refused from the first line it cut.
    kept = contract["input"]["segments"]
    assert kept > 1000
    assert (refused["source"], refused["position"]) == (str(cut), f"line {kept + 1}")
    assert refused["reason"].startswith("unreadable gzip: ")
    strict = CliRunner().invoke(main, ["analyze", str(cut), "--strict", "-q"])
    assert strict.exit_code != 0
    assert f"{cut} (line {kept + 1}): unreadable gzip" in strict.output
    assert "Traceback" not in strict.output


def test_unreadable_path_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["analyze", str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    assert "missing.json: no such file or directory" in result.output
    assert "Traceback" not in result.output


def test_standard_input_and_out_file(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = CliRunner().invoke(
        main, ["analyze", "-", "--json", "--out", str(out), "-q"], input=GOOD
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["input"]["segments"] == 1


def test_text_summary_leads_with_findings() -> None:
    result = CliRunner().invoke(main, ["analyze", str(SAMPLES), "-q"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[2] == "Findings:"
    assert "[critical]" in result.stdout


def test_text_summary_lists_the_first_rejections(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(GOOD + "\n" + "{broken\n" * 7)
    result = CliRunner().invoke(main, ["analyze", str(bad), str(SAMPLES / "metrics"), "-q"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("Rejected (first in input order):")
    assert lines[start + 1].startswith(f"  {bad} (line 2): invalid JSON")
    assert lines[start + 5].startswith(f"  {bad} (line 6): invalid JSON")
    assert lines[start + 6] == "  ... and 3 more (use --json)"
    clean = CliRunner().invoke(main, ["analyze", str(SAMPLES), "-q"])
    assert "Rejected" not in clean.stdout


def test_analyze_keeps_whole_traces_starting_inside_since_until() -> None:
    from tracelens.ingest.loader import load_traces

    spans = load_traces([SAMPLES / "xray"]).spans
    starts = spans.group_by("trace_id").agg(pl.col("start_time").min())
    since, until = "2026-11-20T09:20:00Z", "2026-11-20T09:40:00+00:00"
    inside = starts.filter(
        (pl.col("start_time") >= datetime(2026, 11, 20, 9, 20, tzinfo=UTC))
        & (pl.col("start_time") < datetime(2026, 11, 20, 9, 40, tzinfo=UTC))
    )
    assert 0 < inside.height < starts.height
    args = ["analyze", str(SAMPLES), "--json", "-q", "--since", since, "--until", until]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["input"]["traces"] == inside.height
    assert document["input"]["window"] == {
        "since": "2026-11-20T09:20:00Z",
        "until": "2026-11-20T09:40:00Z",
    }
    whole = json.loads(CliRunner().invoke(main, ["analyze", str(SAMPLES), "--json", "-q"]).stdout)
    assert whole["input"]["window"] == {"since": None, "until": None}
    assert sum(f["invocations"] for f in document["functions"]) < sum(
        f["invocations"] for f in whole["functions"]
    )


def test_a_window_without_traces_warns_and_a_bad_one_is_a_usage_error() -> None:
    empty = CliRunner().invoke(main, ["analyze", str(SAMPLES), "-q", "--since", "2030-01-01"])
    assert empty.exit_code == 0
    assert "warning: no trace starts at or after 2030-01-01T00:00:00Z" in empty.stderr
    assert "0 traces starting at or after 2030-01-01T00:00:00Z" in empty.stdout
    bad = CliRunner().invoke(main, ["analyze", str(SAMPLES), "--since", "yesterday-ish"])
    assert bad.exit_code == 2 and "--since/--until" in bad.output


def test_report_writes_a_self_contained_page_and_prints_its_path(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(SAMPLES), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    page = out.read_text()
    assert "<script src=" not in page, "plotly.js must be embedded, not linked"
    assert len(page) > 1_000_000, "the page embeds plotly.js"
    assert "plotly.js (basic - minified)" in page
    assert 'id="findings"' in page


def test_report_shows_rejected_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(GOOD + "\n{broken\n")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(bad), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert "line 2" in out.read_text()


def test_report_keeps_and_names_the_since_until_window(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    window = ["--since", "2026-11-20T09:20:00Z", "--until", "2026-11-20T09:40:00Z"]
    result = CliRunner().invoke(main, ["report", str(SAMPLES), *window, "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    header = out.read_text().split('<p class="window">', 1)[1].split("</p>", 1)[0]
    assert "traces starting in [2026-11-20T09:20:00Z, 2026-11-20T09:40:00Z)" in header
    # The drawn span of time is inside the window (a trace may end after --until).
    assert "09:20" in header and "09:0" not in header


def test_report_rejects_a_bad_time_window(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["report", str(SAMPLES), "--since", "yesterday-ish", "--out", str(tmp_path / "r.html")],
    )
    assert result.exit_code == 2
    assert "duration" in result.output


@pytest.mark.parametrize("command", ["analyze", "report"])
@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("missing-dir/out.file", "directory {tmp}/missing-dir does not exist"),
        (".", "is a directory"),
    ],
)
def test_an_out_that_cannot_be_written_stops_before_any_work(
    tmp_path: Path, command: str, out: str, says: str
) -> None:
    # A path that does not exist as input: the --out error must come first, before reading.
    args = [command, str(tmp_path / "no-such-input"), "--out", str(tmp_path / out), "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "--out" in result.output and says.format(tmp=tmp_path) in result.output
    assert "no such file" not in result.output


def test_a_failed_write_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(path: Path, data: bytes, *, durable: bool = True) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tracelens.cli.options.replace_atomically", disk_full)
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["analyze", str(SAMPLES), "--json", "--out", str(out), "-q"])
    assert result.exit_code == 1
    assert f"cannot write {out}: No space left on device" in result.output


def test_report_refuses_a_bad_region_before_any_work(tmp_path: Path) -> None:
    args = ["report", str(tmp_path / "no-such-input"), "--region", "moon-1", "-q"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "'moon-1' is not an AWS region name" in result.output


@pytest.mark.parametrize("command", ["sample", "demo"])
def test_an_output_directory_that_cannot_be_made_is_one_clear_error(
    tmp_path: Path, command: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(main, [command, "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert f"cannot write under {blocker / 'sub'}: Not a directory" in result.output


def test_console_script_runs_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tracelens", "analyze", str(SAMPLES / "xray"), "--json", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema_version"] == 1


def test_file_names_that_are_not_utf8_are_shown_escaped(tmp_path: Path) -> None:
    odd = tmp_path / os.fsdecode(b"caf\xe9.ndjson")
    odd.write_text(GOOD + "\n{broken\n")
    result = CliRunner().invoke(main, ["analyze", str(tmp_path), "--json", "-q"])
    assert result.exit_code == 0, result.output
    rejection = json.loads(result.stdout)["input"]["rejections"][0]
    assert rejection["source"] == f"{tmp_path}/caf\\xe9.ndjson"
    out = tmp_path / "report.html"
    report = CliRunner().invoke(main, ["report", str(odd), "--out", str(out), "-q"])
    assert report.exit_code == 0, report.output
    assert "caf\\xe9.ndjson" in out.read_text()


def test_fail_on_sets_the_exit_status_after_writing_the_output(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "analysis.json"
    failing = runner.invoke(
        main,
        [
            "analyze",
            str(SAMPLES / "xray"),
            "--json",
            "--out",
            str(out),
            "--fail-on",
            "critical",
            "-q",
        ],
    )
    assert failing.exit_code == 3, failing.output
    assert "critical finding(s)" in failing.output
    severities = {finding["severity"] for finding in json.loads(out.read_text())["findings"]}
    assert "critical" in severities
    passing = runner.invoke(
        main, ["analyze", "-", "--fail-on", "critical", "-q"], input=GOOD + "\n"
    )
    assert passing.exit_code == 0, passing.output
    refused = runner.invoke(main, ["analyze", "-", "--fail-on", "info"], input=GOOD + "\n")
    assert refused.exit_code == 2


def test_report_compares_with_a_baseline_window(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    args = ["report", str(SAMPLES), "--since", "2026-11-20T09:30:00Z", "--baseline-since",
            "2026-11-20T09:00:00Z", "--baseline-until", "2026-11-20T09:30:00Z", "--out",
            str(out), "-q"]  # fmt: skip
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    page = out.read_text()
    section = page[page.index('<section id="baseline">') : page.index('<section id="over-time">')]
    assert "Baseline: traces starting in [2026-11-20T09:00:00Z" in section
    assert "orders-api/prod POST /orders" in section and " → " in section
    assert ">new</span>" in section  # findings that appeared since the baseline


def test_a_bad_baseline_window_is_a_usage_error(tmp_path: Path) -> None:
    args = ["report", str(SAMPLES), "--baseline-since", "soon", "--out", str(tmp_path / "r.html")]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 2
    assert "--baseline-since" in done.output


@pytest.mark.parametrize(
    ("argv", "store_read"),
    [
        (["tracelens", "analyze", "--store", "tl-data", "--json"], True),
        (["tracelens", "report", "--store=s3://lake/prod", "--since", "30d"], True),
        (["tracelens", "analyze", "sample_traces", "--json"], False),
        (["tracelens", "import", "exports", "--store", "tl-data"], False),
        (["tracelens", "agent", "--config", "t.toml"], False),
    ],
)
def test_store_reads_keep_freed_pages_longer(argv: list[str], store_read: bool) -> None:
    # Reading a store re-faults pages returned after 100 ms; ingest needs them returned.
    assert _allocator.reads_a_store(argv) is store_read


def test_a_stores_spans_are_analysed_in_two_lanes_and_files_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NOTE: two lanes pay for a store's spans and cost memory for raw files (run_analysis).
    from tracelens.cli import loading

    asked: list[int] = []
    real = loading.run_analysis

    def recording(*args: Any, lanes: Literal[1, 2] = 1, **kwargs: Any) -> Any:
        asked.append(lanes)
        return real(*args, lanes=lanes, **kwargs)

    monkeypatch.setattr(loading, "run_analysis", recording)
    store = str(tmp_path / "store")
    for args in (
        ["import", str(SAMPLES / "xray"), "--store", store, "-q"],
        ["analyze", "--store", store, "--json", "-q", "--out", str(tmp_path / "a.json")],
        ["analyze", str(SAMPLES / "xray"), "--json", "-q", "--out", str(tmp_path / "b.json")],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    assert asked == [2, 1]
