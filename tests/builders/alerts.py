"""Builders of the alert tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Receiver:
    """A webhook endpoint: records every POST body; answers ``status``."""

    url: str = ""
    bodies: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200
