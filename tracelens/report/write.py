"""Writing the report file atomically, so a reader never opens a half-written page."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from tracelens.atomic import replace_atomically
from tracelens.report.page import ReportOptions, render_report

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult


def write_report(
    result: AnalysisResult, path: str | Path, **options: Unpack[ReportOptions]
) -> Path:
    """Render the report of ``result`` (``options`` as :func:`render_report` takes them) and
    write it to ``path`` (temp file, then rename).

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
    page = render_report(result, **options)
    replace_atomically(target, page.encode("utf-8"))
    return target
