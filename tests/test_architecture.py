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
