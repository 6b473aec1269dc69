"""The benchmarks' baselines, one per scale: a run is only compared with a run of its own size.

A baseline file (``baseline.json``, ``baseline_store.json``, ``baseline_rollups.json``) maps a
scale (the segment count, ``"1000000"``; bench_analyze's with its input format,
``"batch-1000000"``) to the figures ``--save-baseline`` kept of a run at that scale. The
figures of a run do not scale linearly with its size (fixed costs weigh more in a small run),
so ``--check`` at a scale without a baseline is refused, naming the command that makes one.

A file written before baselines were kept per scale (one run's figures, with their
``segments``) is read as the baseline of that run's scale.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

NO_BASELINE = 2
"""The exit status of ``--check`` at a scale with no baseline."""


def scale(segments: int, fmt: str | None = None) -> str:
    """The key of a run's baseline: its segment count, after its input format when it has one."""
    return f"{fmt}-{segments}" if fmt else str(segments)


def read(path: Path) -> dict[str, dict[str, Any]]:
    """Every baseline in ``path`` by scale (none when there is no file)."""
    if not path.exists():
        return {}
    held: dict[str, Any] = json.loads(path.read_text())
    if "segments" in held:  # NOTE: one run's figures, from before baselines were per scale
        return {scale(int(held["segments"]), held.get("format")): held}
    return held


def save(path: Path, key: str, figures: dict[str, Any]) -> None:
    """Keep ``figures`` as the baseline at ``key``; the other scales' stay."""
    held = read(path)
    held[key] = figures
    ordered = dict(sorted(held.items(), key=lambda item: (len(item[0]), item[0])))
    path.write_text(json.dumps(ordered, indent=2) + "\n")


def for_check(path: Path, key: str, create: list[str]) -> dict[str, Any]:
    """The baseline at ``key`` for ``--check``; exits with :data:`NO_BASELINE` and a message
    naming ``create`` (the command line that saves one) when there is none."""
    held = read(path)
    if key in held:
        return held[key]
    kept = ", ".join(sorted(held, key=lambda k: (len(k), k))) or "none"
    command = shlex.join([".venv/bin/python", *create])
    print(
        f"--check: no baseline at scale {key} in {path.name} (it holds: {kept}); a run is only "
        f"compared with a run of its own size. Create one with:\n    {command}",
        file=sys.stderr,
    )
    raise SystemExit(NO_BASELINE)
