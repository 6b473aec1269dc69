"""Writing the report file atomically, so a reader never opens a half-written page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tracelens.atomic import replace_atomically
from tracelens.report.page import render_report

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult
    from tracelens.comparison import Comparison


def write_report(
    result: AnalysisResult,
    path: str | Path,
    *,
    title: str | None = None,
    cdn: bool = False,
    region: str | None = None,
    generated_at: datetime | None = None,
    comparison: Comparison | None = None,
) -> Path:
    """Render the report of ``result`` and write it to ``path`` (temp file, then rename).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    FileNotFoundError
        When the directory of ``path`` does not exist.
    ValueError
        When ``region`` is not an AWS region name.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot write the report to {target}: directory {folder} does not exist; "
            "create it or choose another --out"
        )
    page = render_report(
        result,
        title=title,
        cdn=cdn,
        region=region,
        generated_at=generated_at,
        comparison=comparison,
    )
    replace_atomically(target, page.encode("utf-8"))
    return target
