"""``--export DIR``: CSV tables and the service map as GraphML and JSON, readable back."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from tests.builders.scenario import XSS_SCRIPT, scenario_result
from tracelens.analysis import AnalysisResult
from tracelens.atomic import NotRegularFileError
from tracelens.cli import main
from tracelens.export import export_tables

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"
FILES = [
    "edges.csv", "entry_points.csv", "functions.csv", "nodes.csv", "service_map.graphml",
    "service_map.json",
]  # fmt: skip


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return scenario_result()


def test_export_writes_tables_and_the_map_that_read_back(
    result: AnalysisResult, tmp_path: Path
) -> None:
    folder = tmp_path / "new" / "dir"
    written = export_tables(result, folder)
    assert sorted(p.name for p in written) == FILES
    entries = pl.read_csv(folder / "entry_points.csv")
    assert entries["entry"].to_list() == result.entry_points["entry"].to_list()
    assert entries["requests"].to_list() == result.entry_points["requests"].to_list()
    edges = pl.read_csv(folder / "edges.csv")
    assert edges.height == result.service_edges.height
    graph = nx.read_graphml(folder / "service_map.graphml")
    assert set(graph.nodes) == set(result.service_graph.nodes)
    assert graph.number_of_edges() == result.service_graph.number_of_edges()
    document = orjson.loads((folder / "service_map.json").read_bytes())
    assert len(document["nodes"]) == result.service_graph.number_of_nodes()
    assert len(document["edges"]) == result.service_graph.number_of_edges()
    # trace text stays text: a spreadsheet would not run a cell as a formula
    assert XSS_SCRIPT in (folder / "nodes.csv").read_text()


def test_a_cell_a_spreadsheet_would_run_gets_a_quote(
    result: AnalysisResult, tmp_path: Path
) -> None:
    hostile = result.functions.with_columns(pl.lit("=HYPERLINK(1)").alias("function_name"))
    export_tables(AnalysisResult(**{**result.__dict__, "functions": hostile}), tmp_path)
    assert pl.read_csv(tmp_path / "functions.csv")["function_name"][0] == "'=HYPERLINK(1)"


def test_export_follows_the_file_rule(result: AnalysisResult, tmp_path: Path) -> None:
    (tmp_path / "nodes.csv").symlink_to("/dev/null")
    with pytest.raises(NotRegularFileError):
        export_tables(result, tmp_path)
    assert (tmp_path / "nodes.csv").is_symlink()


@pytest.mark.parametrize("command", ["report", "analyze"])
def test_the_cli_exports_beside_its_output(tmp_path: Path, command: str) -> None:
    out = tmp_path / ("r.html" if command == "report" else "a.json")
    args = [command, str(SAMPLES), "--out", str(out), "--export", str(tmp_path / "x"), "-q"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == FILES


def test_an_export_dir_that_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("a file")
    args = ["analyze", str(SAMPLES), "--export", str(tmp_path / "x"), "-q"]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 2
    assert "--export" in done.output and "is a file" in done.output
