"""What matters most first: the orderings, totals and top choices the report draws, taken
from other analyses' results (the report only formats them).

Each function takes frames of other analyses (their schemas are named in each docstring) and
returns a new frame or value; none changes what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import polars as pl

from analyses.finding_format import SEVERITY_RANK

SEVERITIES = tuple(SEVERITY_RANK)  # "critical", "warning", "info": worst first
# Which throttle chart a throttle timeline row belongs to: Lambda invocations refused (seen
# in traces, or CloudWatch's Throttles metric) or downstream API calls throttled.
THROTTLE_CHART = {"invocation": "invocation", "metric": "invocation", "downstream": "downstream"}
MAX_COLD_START_FUNCTIONS = 25  # functions whose cold starts are drawn
MAX_INIT_POINTS = 150  # init durations drawn per function and kind

_NODE = ["name", "type"]


def severity_counts(findings: pl.DataFrame) -> dict[str, int]:
    """How many findings (``FINDING_SCHEMA``) of each severity, worst first (0 when none)."""
    counts = findings.group_by("severity").len()
    found = dict(zip(counts["severity"].to_list(), counts["len"].to_list(), strict=True))
    return {name: int(found.get(name, 0)) for name in SEVERITIES}


def findings_by_severity(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Several findings frames (``FINDING_SCHEMA`` plus columns of the caller's, e.g. a
    target's account) as one, worst severity first; within a severity, in the order given."""
    if not frames:
        return pl.DataFrame()
    joined = pl.concat(frames, how="vertical_relaxed")
    rank = pl.col("severity").replace_strict(
        SEVERITY_RANK, default=len(SEVERITY_RANK), return_dtype=pl.Int8()
    )
    return joined.sort(rank, maintain_order=True)


def nodes_by_failures(nodes: pl.DataFrame) -> pl.DataFrame:
    """Service-map nodes (``NODE_SCHEMA``), the ones with the most failed requests first, then
    the busiest, then by type and name."""
    return nodes.sort(
        ["failed", "requests", "type", "name"],
        descending=[True, True, False, False],
        nulls_last=True,
    )


def node_examples_by_failures(examples: pl.DataFrame, ranked: pl.DataFrame) -> pl.DataFrame:
    """Example traces per node (``NODE_EXAMPLE_SCHEMA``) of the nodes of ``ranked`` (from
    :func:`nodes_by_failures`), in its node order; per node, failing examples first, then by
    their rank."""
    order = ranked.select(_NODE).with_row_index("node_rank")
    joined = examples.join(order, on=_NODE, how="inner")
    # NOTE: "failed" sorts before "slowest".
    return joined.sort(["node_rank", "why", "rank"], maintain_order=True).drop("node_rank")


def busiest_nodes(graph: nx.DiGraph) -> list[str]:
    """The service map's node keys, the most requests first (ties by key)."""
    return sorted(graph.nodes, key=lambda n: (-(graph.nodes[n].get("requests") or 0), n))


def failing_edges(edges: pl.DataFrame) -> pl.DataFrame:
    """Call edges (``EDGE_SCHEMA``) with an error, fault or throttle, the most faults first,
    then throttles, errors and calls."""
    return edges.filter(
        (pl.col("faults") > 0) | (pl.col("throttles") > 0) | (pl.col("errors") > 0)
    ).sort(["faults", "throttles", "errors", "calls"], descending=True)


def functions_by_failures(functions: pl.DataFrame) -> pl.DataFrame:
    """Function names (``FUNCTION_TABLE_SCHEMA``) with ``failed`` (faults + errors + throttled
    attempts), the most failures first, then the busiest, then by name."""
    failed = pl.sum_horizontal("faults", "errors", "throttled")
    return functions.select("function_name", failed.alias("failed"), "invocations").sort(
        ["failed", "invocations", "function_name"],
        descending=[True, True, False],
        nulls_last=True,
    )


def throttle_subjects(timeline: pl.DataFrame) -> pl.DataFrame:
    """Per throttle chart (``THROTTLE_CHART``), its subjects with their throttles summed over
    the timeline (``THROTTLE_TIMELINE_SCHEMA``; traced and CloudWatch counts together), the
    most first (ties by subject)."""
    chart = pl.col("kind").replace_strict(THROTTLE_CHART, default=None, return_dtype=pl.String)
    return (
        timeline.with_columns(chart.alias("chart"))
        .filter(pl.col("chart").is_not_null())
        .group_by("chart", "subject")
        .agg(pl.col("throttled").sum())
        .sort(["chart", "throttled", "subject"], descending=[False, True, False])
    )


def bottlenecks_by_entry(bottlenecks: pl.DataFrame) -> pl.DataFrame:
    """Bottleneck rows (``BOTTLENECK_SCHEMA``), entry points with the most traces first (ties
    by name), each entry's nodes by their share of all its path time; ``slowest`` marks each
    entry's row with the largest share of slow-path time (its example is the entry's)."""
    entries = (
        bottlenecks.group_by("entry")
        .agg(pl.col("traces").max().alias("entry_traces"))
        .sort(["entry_traces", "entry"], descending=[True, False])
        .with_row_index("entry_rank")
        .drop("entry_traces")
    )
    indexed = bottlenecks.with_row_index("row").join(
        entries, on="entry", how="left", maintain_order="left"
    )
    slowest = (
        indexed.sort(
            ["entry_rank", "slow_share"],
            descending=[False, True],
            nulls_last=True,
            maintain_order=True,
        )
        .group_by("entry_rank", maintain_order=True)
        .agg(pl.col("row").first())
        .get_column("row")
    )
    return (
        indexed.with_columns(pl.col("row").is_in(slowest.implode()).alias("slowest"))
        .sort(["entry_rank", "critical_path_share"], descending=[False, True], maintain_order=True)
        .drop("row", "entry_rank")
    )


def bottlenecks_by_slow_share(bottlenecks: pl.DataFrame) -> pl.DataFrame:
    """Bottleneck rows (``BOTTLENECK_SCHEMA``), the largest share of slow-path time first."""
    return bottlenecks.sort(
        ["slow_share", "entry"], descending=[True, False], nulls_last=True, maintain_order=True
    )


def cold_start_functions(cold: pl.DataFrame, functions: pl.DataFrame) -> pl.DataFrame:
    """Functions with a cold start in the traces or logs (``COLD_START_SCHEMA`` plus the
    function table's ``memory_size_mb`` and ``vpc_attached``), the most cold starts first."""
    config = functions.select("function_name", "memory_size_mb", "vpc_attached")
    seen = cold.join(config, on="function_name", how="left", maintain_order="left").filter(
        (pl.col("cold_starts") > 0) | (pl.col("cold_starts_from_logs") > 0)
    )
    return seen.sort(
        ["cold_starts", "cold_starts_from_logs", "function_name"], descending=[True, True, False]
    )


def init_points(
    invocations: pl.DataFrame, names: Sequence[str], *, max_points: int = MAX_INIT_POINTS
) -> pl.DataFrame:
    """Traced cold starts (``INVOCATION_SCHEMA``) of ``names`` (function, kind, init_ms,
    trace_id, and a small ``jitter`` to draw them apart), at most ``max_points`` per function
    and kind, chosen evenly by rank so the extremes stay."""
    key = ["function_name", "cold_kind"]
    cold = invocations.filter(
        pl.col("function_name").is_in(list(names))
        & pl.col("cold_kind").is_not_null()
        & pl.col("init_ms").is_not_null()
    ).sort([*key, "init_ms", "trace_id"])
    ranked = cold.with_columns(
        rank=pl.int_range(pl.len()).over(key), size=pl.len().over(key)
    ).with_columns(bucket=pl.col("rank") * max_points // pl.col("size"))
    keep = pl.struct([*key, "bucket"]).is_first_distinct() | (pl.col("rank") == pl.col("size") - 1)
    jitter = ((pl.col("rank") % 5) - 2) * 0.05
    return ranked.filter(keep).select([*key, "init_ms", "trace_id", jitter.alias("jitter")])
