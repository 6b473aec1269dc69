"""The one-way flow, checked mechanically: analyses stay pure, collectors never render."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The modules that run the ingest stages in order (no stage imports them).
INGEST_DRIVERS = ("tracelens.ingest.pipeline", "tracelens.ingest.loader", "tracelens.ingest.worker")

FORBIDDEN = {
    "analyses": {
        "boto3",
        "botocore",
        "plotly",
        "collectors",
        "tracelens.report",
        "tracelens.store",
        "tracelens.cli",
    },
    "collectors": {"plotly", "analyses", "tracelens.report", "tracelens.store"},
    "tracelens/report": {"boto3", "botocore", "collectors"},
    # The ingest stages, open -> frame -> decode -> normalize: each knows only the stages
    # before it through the values they hand over; pipeline.py alone joins them.
    "tracelens/ingest/opening": {
        "tracelens.ingest.framing",
        "tracelens.ingest.decoders",
        "tracelens.ingest.segment_model",
        "tracelens.ingest.normalize",
        *INGEST_DRIVERS,
    },
    "tracelens/ingest/framing.py": {"tracelens.ingest.normalize", *INGEST_DRIVERS},
    "tracelens/ingest/decoders": {
        "tracelens.ingest.opening",
        "tracelens.ingest.framing",
        "tracelens.ingest.normalize",
        *INGEST_DRIVERS,
    },
    "tracelens/ingest/normalize": {
        "tracelens.ingest.opening",
        "tracelens.ingest.framing",
        "tracelens.ingest.decoders",
        *INGEST_DRIVERS,
    },
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_import_only_downstream(package: str) -> None:
    offenders = []
    where = ROOT / package
    for path in sorted(where.rglob("*.py")) if where.is_dir() else [where]:
        for module in imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN[package]):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "\n".join(offenders)


# Renderers only format what the analyses give them ("renderers never compute statistics"):
# the report's modules, and the page covering several targets.
RENDERERS = ("tracelens/report", "tracelens/agent/targets_report.py")
# Methods (of polars frames, series and expressions, or a Counter) that total, group or rank.
AGGREGATING = frozenset(
    {
        *("group_by", "group_by_dynamic", "rolling", "agg", "value_counts", "most_common"),
        *("sum", "mean", "median", "quantile", "std", "var", "n_unique", "cum_sum", "cum_count"),
        *("sum_horizontal", "mean_horizontal", "rank", "top_k", "bottom_k"),
    }
)
# Columns a renderer may order rows by: times, depths and names, never a measure.
ORDER_COLUMNS = frozenset(
    {
        *("minute", "day", "start_time", "end_time", "depth", "id", "trace_id"),
        *("name", "type", "function_name", "entry", "subject", "source", "target", "host"),
    }
)


def _is_false(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is False)


def _ranks(call: ast.Call) -> bool:
    """Whether a ``.sort(...)``/``sorted(...)`` call orders by a measure: a polars sort (it
    names its keys) by anything but plain ``ORDER_COLUMNS`` names or in descending order, or a
    Python sort in reverse or by a negated key (most first)."""
    keywords = {k.arg: k.value for k in call.keywords}
    keys = [*call.args, *([keywords["by"]] if "by" in keywords else [])]
    if isinstance(call.func, ast.Attribute) and keys:  # polars: frame.sort("minute")
        names: list[ast.expr] = []
        for key in keys:
            names += key.elts if isinstance(key, ast.List | ast.Tuple) else [key]
        plain = all(isinstance(n, ast.Constant) and n.value in ORDER_COLUMNS for n in names)
        return not plain or not _is_false(keywords.get("descending"))
    key = keywords.get("key")
    negated = key is not None and any(
        isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub) for n in ast.walk(key)
    )
    return negated or not _is_false(keywords.get("reverse"))


def computed_statistics(source: str) -> list[str]:
    """Where ``source`` totals, groups or ranks rows (line: what), for renderers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if isinstance(func, ast.Attribute) and name in AGGREGATING:
            found.append(f"{node.lineno}: .{name}(")
        elif name in ("sort", "sorted") and _ranks(node):
            found.append(f"{node.lineno}: {name}() by a measure")
    return found


def test_renderers_compute_no_statistics() -> None:
    """Totals, groupings and rankings are analyses (``analyses.rankings`` and the others):
    a renderer draws the frames it is given in the order it is given them."""
    offenders = []
    for where in RENDERERS:
        path = ROOT / where
        for module in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            text = module.read_text(encoding="utf-8")
            offenders += [f"{module.relative_to(ROOT)}:{hit}" for hit in computed_statistics(text)]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    ("snippet", "hits"),
    [
        ('t.group_by("subject").agg(pl.col("throttled").sum())', 3),
        ("counts = findings.get_column('severity').value_counts()", 1),
        ('f.sort([failed, pl.col("invocations")], descending=[True, True])', 1),
        ('f.sort("slow_share", descending=True, nulls_last=True)', 1),
        ('f.sort(["order", "entry"])', 1),
        ("sorted(graph.nodes, key=lambda n: (-graph.nodes[n]['requests'], n))", 1),
        ("rows.sort(key=len, reverse=True)", 1),
        ("log.reasons.most_common(8)", 1),
        # formatting: time order, names, Python's own sorts by name, counts of what is given
        ('grid = timeline.select("minute").unique().sort("minute")', 0),
        ('trace.sort(["start_time", "depth", "id"])', 0),
        ("sorted(items, key=lambda item: item[0].label)", 0),
        ("column.sort(key=barycentre)", 0),
        ('frame.head(30).to_dicts(); len(rows); "a".join(parts)', 0),
    ],
)
def test_the_renderer_rule_tells_statistics_from_formatting(snippet: str, hits: int) -> None:
    assert len(computed_statistics(snippet)) == hits, computed_statistics(snippet)


def test_analyses_do_no_io_and_read_no_clock() -> None:
    suspicious = (
        "open(",
        "datetime.now",
        "time.time",
        "read_parquet",
        "write_parquet",
        "import requests",
    )
    for path in sorted((ROOT / "analyses").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in suspicious:
            assert needle not in text, f"{path.name} contains {needle!r}"


def test_tests_import_no_other_test_module() -> None:
    """Shared builders live in tests/builders/ (fixtures in conftest.py files): a test module
    imports no other test module, so moving or splitting one never breaks another."""
    tests = ROOT / "tests"
    # Also bare names, as a test folder put on sys.path would resolve them: ``from conftest ...``.
    local_names = {path.stem for path in tests.rglob("*.py")} - {"__init__"}
    offenders = []
    for path in sorted(tests.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                modules = [f"{'.' * node.level}{node.module or ''}"]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                allowed = module == "tests.builders" or module.startswith("tests.builders.")
                if not allowed and (module.startswith((".", "tests")) or top in local_names):
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not offenders, "\n".join(offenders)


def test_tests_sit_in_the_folder_of_what_they_test() -> None:
    """Only this file stays at the root of tests/; the others live beside their package's."""
    loose = sorted(
        path.name for path in (ROOT / "tests").glob("test_*.py") if path.name != Path(__file__).name
    )
    assert loose == [], f"move {loose} into the tests/ folder of the code they test"
