"""Everything an analysis reads: traces plus the optional side inputs, loaded together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from analyses.trace_paths import TraceDestination
from tracelens.ingest.loader import TraceInput, load_traces
from tracelens.ingest.pipeline import ProgressCallback
from tracelens.ingest.rejections import RejectionLog
from tracelens.sideinputs import (
    FunctionInventory,
    LambdaLogs,
    load_functions,
    load_logs,
    load_metrics,
)
from tracelens.timewindow import TimeWindow

PathList = Sequence[str | Path]


@dataclass(frozen=True)
class Inputs:
    """Loaded inputs; a side input that was not given is None (not an empty frame)."""

    traces: TraceInput
    logs: LambdaLogs | None = None
    metrics: pl.DataFrame | None = None
    functions: FunctionInventory | None = None
    # Records refused in side inputs (trace documents are counted in ``traces.rejections``).
    side_rejections: RejectionLog = field(default_factory=RejectionLog)
    region: str | None = None
    # The --since/--until window the traces were kept to (open: every trace read).
    window: TimeWindow = field(default_factory=TimeWindow)
    # Where each account/region sends its traces, as stored GetTraceSegmentDestination and
    # GetIndexingRules answers say (a store only: offline files carry none).
    trace_destinations: tuple[TraceDestination, ...] = ()

    @property
    def rejected(self) -> int:
        return self.traces.rejections.count + self.side_rejections.count

    def all_rejections(self) -> RejectionLog:
        combined = RejectionLog()
        combined.extend(self.traces.rejections)
        combined.extend(self.side_rejections)
        return combined

    def within(self, window: TimeWindow) -> Inputs:
        """The same inputs keeping only whole traces that start inside ``window``, and the log
        records and metric datapoints inside it (those without a time are kept: unknown)."""
        if window.is_open:
            return self
        spans = self.traces.spans
        starts = spans.group_by("trace_id").agg(pl.col("start_time").min())
        total = starts.height
        if window.start is not None:
            starts = starts.filter(pl.col("start_time") >= window.start)
        if window.end is not None:
            starts = starts.filter(pl.col("start_time") < window.end)
        kept = spans
        # NOTE: when every trace starts inside (a store read with the same window, say), the
        # spans are kept as they are: the join would copy them all while they are still held
        # (1M segments: peak 2.2 -> 1.9 GB). A row without a trace id never joins.
        if starts.height < total or spans.get_column("trace_id").has_nulls():
            kept = spans.join(starts.select("trace_id"), on="trace_id", how="semi")
        logs = self.logs
        if logs is not None:
            logs = replace(
                logs,
                reports=_inside(logs.reports, window),
                events=_inside(logs.events, window),
            )
        return replace(
            self,
            traces=replace(self.traces, spans=kept),
            logs=logs,
            metrics=None if self.metrics is None else _inside(self.metrics, window),
            window=window,
        )

    def sources_used(self) -> list[str]:
        used = ["traces"]
        used += [
            name
            for name, value in (
                ("logs", self.logs),
                ("metrics", self.metrics),
                ("configuration", self.functions),
            )
            if value is not None
        ]
        return used


def _inside(frame: pl.DataFrame, window: TimeWindow) -> pl.DataFrame:
    """Rows whose ``timestamp`` lies in ``window``; rows without one are kept."""
    keep = pl.lit(value=True)
    if window.start is not None:
        keep &= pl.col("timestamp") >= window.start
    if window.end is not None:
        keep &= pl.col("timestamp") < window.end
    return frame.filter(keep.fill_null(value=True))


# A directory holding these sub-directories is read as one export: the layout `tracelens sample`
# writes, and a natural one for scripts that export an account's telemetry.
EXPORT_LAYOUT = {"xray": "traces", "logs": "logs", "metrics": "metrics", "functions": "functions"}


def _is_directory(path: Path) -> bool:
    # NOTE: Path.is_dir() raises PermissionError inside a directory that cannot be searched;
    # such a path is then read as a plain input, and reading it names the path and the reason.
    try:
        return path.is_dir()
    except OSError:
        return False


def expand_export_dirs(paths: PathList) -> dict[str, list[str | Path]]:
    """Split ``paths`` by role, expanding export directories into their parts."""
    roles: dict[str, list[str | Path]] = {role: [] for role in EXPORT_LAYOUT.values()}
    for raw in paths:
        path = Path(raw)
        parts = {name: path / name for name in EXPORT_LAYOUT if _is_directory(path / name)}
        if str(raw) != "-" and "xray" in parts:
            for name, part in parts.items():
                roles[EXPORT_LAYOUT[name]].append(part)
        else:
            roles["traces"].append(raw)
    return roles


def load_inputs(
    paths: PathList,
    *,
    logs: PathList = (),
    metrics: PathList = (),
    functions: PathList = (),
    progress: ProgressCallback | None = None,
) -> Inputs:
    """Load traces under ``paths`` and each side input that was named.

    A path that is a directory with an ``xray/`` sub-directory is an export: its ``xray/``,
    ``logs/``, ``metrics/`` and ``functions/`` sub-directories are read as those inputs.

    Raises
    ------
    tracelens.ingest.opening.sources.InputError
        When any named path cannot be read at all.
    """
    roles = expand_export_dirs(paths)
    logs = [*logs, *roles["logs"]]
    metrics = [*metrics, *roles["metrics"]]
    functions = [*functions, *roles["functions"]]
    side = RejectionLog()
    return Inputs(
        traces=load_traces(roles["traces"], progress=progress),
        logs=load_logs(logs, rejections=side) if logs else None,
        metrics=load_metrics(metrics, rejections=side) if metrics else None,
        functions=load_functions(functions, rejections=side) if functions else None,
        side_rejections=side,
    )
