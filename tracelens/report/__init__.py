"""The on-call HTML report: one self-contained page drawn from an :class:`AnalysisResult`.

This package only renders: every number it shows comes from the analyses.
"""

from tracelens.report.page import render_report
from tracelens.report.write import write_report

__all__ = ["render_report", "write_report"]
