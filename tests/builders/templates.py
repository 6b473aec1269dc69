"""The deployment templates under deploy/, read as CloudFormation reads them (YAML short forms
such as ``!Ref`` become their long ``{"Ref": ...}`` forms)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASK_FARGATE = DEPLOY / "dask-fargate.yaml"


def load(path: Path) -> dict[str, Any]:
    """The template at ``path`` as plain JSON data."""
    template, problems = decode_str(path.read_text(encoding="utf-8"))
    assert not problems, problems
    document: dict[str, Any] = json.loads(json.dumps(template))
    return document
