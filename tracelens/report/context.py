"""What every section renderer receives, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracelens.report.figures import FigureSet
from tracelens.report.links import ConsoleLinks

if TYPE_CHECKING:
    from tracelens.analysis import AnalysisResult
    from tracelens.report.examples import ExampleTraces


@dataclass(frozen=True)
class Section:
    """One part of the page: its anchor (``#cold-starts``), heading and body markup."""

    anchor: str
    title: str
    body: str


@dataclass(frozen=True)
class RenderContext:
    """The analysis being drawn, the page's figures and the console links."""

    result: AnalysisResult
    figures: FigureSet
    links: ConsoleLinks
    # Spans with a time after year 9999 (or before year 1), shown as unknown.
    unshown_times: int = 0
    # Waterfalls of the example traces, drawn on demand (None: links only).
    examples: ExampleTraces | None = None


# Section anchors, in page order; findings link to them by kind.
USERS = "users"
FINDINGS = "findings"
TIMELINE = "over-time"
LONG_WINDOW = "long-window"
COMPARE = "baseline"
SERVICE_MAP = "service-map"
THROTTLES = "throttles"
COLD_STARTS = "cold-starts"
DNS = "dns"
BOTTLENECKS = "bottlenecks"
FUNCTIONS = "functions"
EXAMPLES = "examples"
OVERVIEW = "overview"
