"""Randomly damaged sample data never crashes ingest, side inputs, analyses, JSON or report."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from tracelens.analysis import run_analysis
from tracelens.contract import to_contract
from tracelens.ingest.decoders.base import ReadStats
from tracelens.ingest.framing import iter_documents
from tracelens.ingest.opening.sources import iter_sources
from tracelens.ingest.rejections import RejectionLog
from tracelens.inputs import load_inputs
from tracelens.report.page import render_report

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces" / "xray"
# Values a damaged or hostile export could hold where the schema expects something else.
ODD_VALUES: list[Any] = [
    None, 0, -1, 1e300, -1e300, 2**70, "", "x" * 300, "</script><b>", [], {}, True, 1.5,
    "NaN", "\u202e", "0000000000000000", "1-00000000-000000000000000000000000",
]  # fmt: skip


def _sample_documents() -> list[dict[str, Any]]:
    documents = []
    for source in iter_sources([SAMPLES], RejectionLog()):
        for _, node in iter_documents(source, RejectionLog(), ReadStats()):
            documents.append(orjson.loads(msgspec.json.encode(node)))
    return documents


def _damage(node: dict[str, Any], rng: random.Random, rate: float) -> None:
    for key in list(node):
        roll = rng.random()
        if roll < rate:
            node[key] = rng.choice(ODD_VALUES)
        elif roll < rate * 1.3:
            del node[key]
        elif isinstance(node[key], dict):
            _damage(node[key], rng, rate)
        elif isinstance(node[key], list):
            for child in node[key]:
                if isinstance(child, dict):
                    _damage(child, rng, rate)
    if rng.random() < 0.05:  # a parent that is the span itself, or no span at all
        node["parent_id"] = rng.choice([node.get("id"), "0" * 16])
    children = node.get("subsegments")
    first = children[0] if isinstance(children, list) and children else None
    if rng.random() < 0.02 and isinstance(first, dict):
        first["id"] = node.get("id")  # a child with its parent's id


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_damaged_documents_are_refused_or_analyzed_never_fatal(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    documents = rng.sample(_sample_documents(), 300)
    for document in documents:
        _damage(document, rng, rate=0.08)
    export = tmp_path / "damaged.ndjson"
    export.write_bytes(b"\n".join(msgspec.json.encode(doc) for doc in documents) + b"\n")

    inputs = load_inputs([export])
    traces = inputs.traces
    assert traces.documents == len(documents)
    assert traces.segments + traces.duplicates + traces.rejections.count == traces.documents
    assert 0 < traces.rejections.count < traces.documents
    result = run_analysis(inputs)
    contract = orjson.loads(orjson.dumps(to_contract(result)))
    assert contract["input"]["rejected"] == traces.rejections.count
    page = render_report(result)
    assert "</script><b>" not in page  # names from traces are escaped, never markup


def _damage_json(value: Any, rng: random.Random, rate: float) -> None:
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    for key, item in items:
        roll = rng.random()
        if roll < rate:
            value[key] = rng.choice(ODD_VALUES)
        elif roll < rate * 1.3 and isinstance(value, dict):
            del value[key]
        elif isinstance(item, dict | list):
            _damage_json(item, rng, rate)


@pytest.mark.parametrize("seed", [1, 2])
def test_damaged_side_inputs_are_refused_or_used_never_fatal(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    export = tmp_path / "export"
    shutil.copytree(SAMPLES.parent, export)
    for side in ("logs", "metrics", "functions"):
        for path in sorted((export / side).iterdir()):
            if path.suffix == ".json":
                value = orjson.loads(path.read_bytes())
                _damage_json(value, rng, rate=0.1)
                path.write_bytes(msgspec.json.encode(value))
            else:  # log lines: cut short, or given impossible numbers
                lines = path.read_bytes().split(b"\n")
                for index, line in enumerate(lines):
                    if rng.random() < 0.1:
                        cut = line[: rng.randrange(len(line) + 1)]
                        lines[index] = cut + rng.choice([b"", b"Init Duration: -5 ms", b"\xff"])
                path.write_bytes(b"\n".join(lines))
    inputs = load_inputs(
        [export / "xray"],
        logs=[export / "logs"],
        metrics=[export / "metrics"],
        functions=[export / "functions"],
    )
    assert inputs.side_rejections.count > 0
    result = run_analysis(inputs)
    orjson.dumps(to_contract(result))
    render_report(result)
