"""The JSON contract is declared once (tracelens/contract.py's types): the README's block is
rendered from the types, and real output has exactly the types' keys."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracelens.analysis import run_analysis
from tracelens.cli import main
from tracelens.contract import Contract, contract_outline, merge_contracts, to_contract
from tracelens.inputs import load_inputs

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"
BLOCK = re.compile(r"## The JSON contract\n.*?\n```\n(.*?)\n```", re.DOTALL)


def readme_block() -> str:
    found = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no code block under '## The JSON contract'"
    return found.group(1)


def test_readme_block_is_the_declared_contract() -> None:
    expected = contract_outline()
    assert readme_block() == expected, (
        "README.md's contract block differs from tracelens/contract.py's types; replace it with "
        "the output of: python -c 'from tracelens.contract import contract_outline as o; "
        "print(o())'\n\n" + expected
    )


def key_problems(value: Any, hint: Any, where: str) -> list[str]:
    """Where ``value`` (parsed JSON) has other keys than ``hint`` declares."""
    origin = typing.get_origin(hint)
    if value is None:
        return []
    if origin in (typing.Union, types.UnionType):
        return key_problems(value, chosen(value, hint), where)
    if origin is list:
        (inner,) = typing.get_args(hint)
        return [
            p for i, item in enumerate(value) for p in key_problems(item, inner, f"{where}[{i}]")
        ]
    if origin is dict:
        inner = typing.get_args(hint)[1]
        return [p for k, item in value.items() for p in key_problems(item, inner, f"{where}.{k}")]
    if not typing.is_typeddict(hint):
        return []
    fields = typing.get_type_hints(hint)
    problems = []
    if set(value) != set(fields):
        problems.append(
            f"{where}: undeclared {sorted(set(value) - set(fields))}, "
            f"missing {sorted(set(fields) - set(value))}"
        )
    for key in set(value) & set(fields):
        problems += key_problems(value[key], fields[key], f"{where}.{key}")
    return problems


def chosen(value: Any, hint: Any) -> Any:
    """The option of a union ``value`` is: a tagged object (throttles) by its ``kind``."""
    options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    for option in options:
        if typing.is_typeddict(option) and isinstance(value, dict):
            kind = typing.get_type_hints(option).get("kind")
            if kind is not None and value.get("kind") in typing.get_args(kind):
                return option
    return options[0]


@pytest.mark.parametrize(
    "paths",
    [
        [SAMPLES],
        [SAMPLES / "real_world"],
    ],
    ids=["sample_traces", "real_world"],
)
def test_output_has_exactly_the_declared_keys(paths: list[Path]) -> None:
    result = CliRunner().invoke(main, ["analyze", *map(str, paths), "--json", "-q"])
    assert result.exit_code == 0, result.output
    contract = json.loads(result.stdout)
    assert key_problems(contract, Contract, "$") == []
    # every kind of list entry was seen, so the check covered it
    assert contract["service_map"]["nodes"] and contract["findings"]


def test_key_problems_names_an_undeclared_and_a_missing_key() -> None:
    bad = {"service_map": {"nodes": [{"name": "a", "extra": 1}]}}
    hint = typing.get_type_hints(Contract)["service_map"]
    problems = key_problems(bad["service_map"], hint, "$.service_map")
    assert any("undeclared ['extra']" in p for p in problems)
    assert any("missing ['edges', 'loops'" in p or "missing ['cycles'" in p for p in problems)


def test_merged_cycles_say_their_target() -> None:
    result = run_analysis(load_inputs([SAMPLES / "real_world" / "s3-recursive-loop.json"]))
    prod, staging = ("prod", "us-east-1"), ("staging", "eu-west-1")
    merged = merge_contracts([to_contract(result, target=t) for t in (prod, staging)])
    service_map = merged["service_map"]
    (cycle,) = result.cycles
    assert service_map["cycles"] == [cycle, cycle]  # joined: whose is which is not said
    located = [(c["account"], c["region"], c["nodes"]) for c in service_map["located_cycles"]]
    assert located == [(*prod, cycle), (*staging, cycle)]
    loops = [(row["account"], row["region"]) for row in service_map["loops"]]
    assert loops == [prod, staging]  # as the loops list says
    alone = to_contract(result)["service_map"]["located_cycles"]
    assert alone == [{"account": None, "region": None, "nodes": cycle}]
    assert key_problems(merged, Contract, "$") == []
