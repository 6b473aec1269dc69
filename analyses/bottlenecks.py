"""Critical paths per trace, and which nodes hold the time of each entry point.

Time on a critical path is attributed to a node: the service (segment name) for its own time
and its plain subsegments (``Invocation``, user code); the downstream node of a call (table,
queue, host, called service) for ``aws``/``remote`` subsegments and the steps nested in them;
``"<function> Initialization"`` (or ``Restore``) for cold starts. Inferred segments are left
out: they repeat the call they were derived from.
"""

from __future__ import annotations

import polars as pl

from analyses._calls import span_tree
from analyses._critical_path import describe, init_rows, labelled, node_codes, path_rows, walk
from analyses._frames import require_columns, text
from tracelens.schema import SPAN_SCHEMA, UTC_US

CRITICAL_PATH_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "id": pl.String(),  # the span on the path
    "node": pl.String(),
    "node_type": pl.String(),  # as in the service map (AWS::DynamoDB::Table, remote, ...)
    # lambda_service (before the function starts), initialization, function_code, downstream
    # or service (another service's own time): see analyses._critical_path.NODE_KINDS
    "node_kind": pl.String(),
    "operation": pl.String(),
    "start_time": UTC_US,  # the span's window, clipped to its ancestors'
    "end_time": UTC_US,
    "self_ms": pl.Float64(),  # path time not covered by the span's children on the path
}

BOTTLENECK_SCHEMA: dict[str, pl.DataType] = {
    "entry": pl.String(),  # root service + method + normalised path, or + operation
    "node": pl.String(),
    "node_type": pl.String(),
    "node_kind": pl.String(),  # as in CRITICAL_PATH_SCHEMA: two rows of one node differ here
    "critical_path_share": pl.Float64(),  # of the entry's critical-path time, all traces
    "slow_share": pl.Float64(),  # same, over the entry's slowest traces only
    "traces": pl.Int64(),  # traces of the entry with this node on the path
    "slow_traces": pl.Int64(),  # slow traces of the entry with this node on the path
    "mean_ms": pl.Float64(),  # node's path time per trace of the entry (absent counts 0)
    "slow_mean_ms": pl.Float64(),  # same per slow trace
    "example_trace_id": pl.String(),  # a slow trace where the node holds the most time
}

SLOW_QUANTILE = 0.95
"""An entry's traces at or above this quantile of its traces' durations are its slow ones."""
STAGE_ORIGIN = "AWS::ApiGateway::Stage"
# The root span's columns its entry point is named from (see ``entry_name``).
_ENTRY_COLUMNS = ["name", "origin", "http_url", "http_method", "aws_operation"]
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A path segment is an id when it is all digits, a UUID, or at least five characters long with a
# digit in it (`o-104803`, `2026-11-20`, `a1b2c3d4`), while short ones such as `v2` stay.
_LONG_WITH_DIGIT = (
    r"[^/\d]{4,}\d[^/]*|[^/\d]{3}\d[^/]+|[^/\d]{2}\d[^/]{2,}|[^/\d]\d[^/]{3,}|\d[^/]{4,}"
)
_ID_SEGMENT = rf"/(\d+|{_UUID}|{_LONG_WITH_DIGIT})/"


def critical_path(spans: pl.DataFrame) -> pl.DataFrame:
    """The critical path of every trace.

    Each trace's path starts at its root: the earliest segment without a parent in the trace
    (segments whose parent is missing start separate trees and are left out). Children are
    clipped to their parent's window, so work that outlives its caller (asynchronous
    consumers, clock skew) does not count.

    Returns
    -------
    pl.DataFrame
        ``CRITICAL_PATH_SCHEMA``, one row per span on a path; ``self_ms`` per trace sums to
        the root's duration.
    """
    require_columns(spans, SPAN_SCHEMA, what="spans")
    tree = span_tree(spans)
    return _described(tree, walk(tree))


def critical_path_and_bottlenecks(
    spans: pl.DataFrame,
    *,
    slow_quantile: float = SLOW_QUANTILE,
    example_paths_only: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(critical_path(spans), bottlenecks(spans, slow_quantile=...))``, walking once.

    With ``example_paths_only``, the critical path covers only the traces the bottlenecks
    name as examples (``example_trace_id``): all a report draws, and a fraction of the rows
    (at a million segments, every path together is most of the spans again).
    """
    _check_quantile(slow_quantile)
    require_columns(spans, SPAN_SCHEMA, what="spans")
    tree = span_tree(spans)
    path = path_rows(tree)
    init_row = init_rows(tree)
    # NOTE: the bottlenecks' aggregation runs before the (large) critical-path frame exists.
    slow = _bottlenecks(tree, path, init_row, slow_quantile=slow_quantile)
    if example_paths_only:
        path = _paths_of(tree, path, slow.get_column("example_trace_id"))
    return _described(tree, labelled(tree, path, init_row)), slow


def _paths_of(tree: pl.DataFrame, path: pl.DataFrame, trace_ids: pl.Series) -> pl.DataFrame:
    """The rows of ``path`` on the traces ``trace_ids``."""
    root_rows = path.filter(pl.col("row") == pl.col("root_row")).get_column("root_row")
    ids = trace_ids.drop_nulls().implode()
    wanted = root_rows.filter(tree["trace_id"].gather(root_rows).is_in(ids))
    return path.filter(pl.col("root_row").is_in(wanted.implode()))


def _described(tree: pl.DataFrame, path: pl.DataFrame) -> pl.DataFrame:
    return (
        describe(tree, path)
        .select(
            "trace_id",
            "id",
            "node",
            "node_type",
            "node_kind",
            "operation",
            pl.col("path_start_us").cast(UTC_US).alias("start_time"),
            pl.col("path_end_us").cast(UTC_US).alias("end_time"),
            (pl.col("self_us") / 1000.0).alias("self_ms"),
        )
        .cast(pl.Schema(CRITICAL_PATH_SCHEMA))
    )


def bottlenecks(spans: pl.DataFrame, *, slow_quantile: float = SLOW_QUANTILE) -> pl.DataFrame:
    """Share of critical-path time per node, for each entry point.

    Parameters
    ----------
    slow_quantile
        Traces whose root duration is at or above this quantile of their entry point's
        durations (linear interpolation) are the slow ones.

    Returns
    -------
    pl.DataFrame
        ``BOTTLENECK_SCHEMA``; per entry, ``critical_path_share`` and ``slow_share`` each sum
        to 1. Sorted by entry, then by share, largest first.
    """
    _check_quantile(slow_quantile)
    require_columns(spans, SPAN_SCHEMA, what="spans")
    tree = span_tree(spans)
    return _bottlenecks(tree, path_rows(tree), init_rows(tree), slow_quantile=slow_quantile)


def critical_path_time(spans: pl.DataFrame) -> pl.DataFrame:
    """Per trace and node on its critical path: ``trace_id``, ``entry``, ``node``,
    ``node_type``, ``node_kind``, ``path_us``, the node's path time (summed microseconds
    of ``self_us``): what ``critical_path_share`` divides, kept per trace so that partial
    sums (rollups) merge to the same shares; and ``root_ms``, the trace's duration, which
    tells its slow traces (``SLOW_QUANTILE``)."""
    require_columns(spans, SPAN_SCHEMA, what="spans")
    tree = span_tree(spans)
    path = path_rows(tree)
    traces, entries = _trace_entries(tree, path, slow_quantile=0.5)
    per_trace, nodes = _per_trace_nodes(tree, path, init_rows(tree))
    entry_code = _by_row(tree.height, traces, "entry_code").gather(per_trace["root_row"])
    root_ms = _by_row(tree.height, traces, "root_ms").gather(per_trace["root_row"])
    per_trace = (
        per_trace.with_columns(entry_code.alias("entry_code"), root_ms.alias("root_ms"))
        .join(entries, on="entry_code")
        .join(nodes, on="node_code")
    )
    return per_trace.select(
        tree["trace_id"].gather(per_trace["root_row"]).alias("trace_id"),
        "entry",
        "node",
        "node_type",
        "node_kind",
        pl.col("us").cast(pl.Int64).alias("path_us"),
        "root_ms",
    )


def _check_quantile(slow_quantile: float) -> None:
    if not 0.0 < slow_quantile < 1.0:
        raise ValueError(f"slow_quantile must be between 0 and 1 (exclusive), got {slow_quantile}")


def _bottlenecks(
    tree: pl.DataFrame, path: pl.DataFrame, init_row: pl.Series, *, slow_quantile: float
) -> pl.DataFrame:
    traces, entries = _trace_entries(tree, path, slow_quantile=slow_quantile)
    per_trace, nodes = _per_trace_nodes(tree, path, init_row)
    table = (
        _per_entry(per_trace, traces, tree.height, span=_span(nodes))
        .join(entries, on="entry_code")
        .join(nodes, on="node_code")
    )
    table = table.with_columns(
        tree["trace_id"].gather(table["example_row"]).alias("example_trace_id")
    )
    return (
        table.select(BOTTLENECK_SCHEMA.keys())
        .cast(pl.Schema(BOTTLENECK_SCHEMA))
        .sort(
            ["entry", "critical_path_share", "node", "node_type", "node_kind"],
            descending=[False, True, False, False, False],
        )
    )


def _per_trace_nodes(
    tree: pl.DataFrame, path: pl.DataFrame, init_row: pl.Series
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Path time per trace and node: ``root_row``, ``node_code`` and ``us`` (summed
    ``self_us``); and each ``node_code`` with its ``node``, ``node_type`` and ``node_kind``.

    NOTE: the path holds most spans: it is grouped on integer codes (traces by their root's
    row, nodes by ``node_codes``), packed into one integer key when they fit (a group_by on
    two keys costs several times the memory of one on a single integer column).
    """
    node_code, nodes = node_codes(tree, path, init_row)
    span = _span(nodes)
    coded = path.select("root_row", node_code, "self_us").lazy()
    if tree.height * span < 1 << 64:
        packed = pl.col("root_row").cast(pl.UInt64) * span + pl.col("node_code")
        grouped = (
            coded.group_by(packed.alias("key"))
            .agg(pl.col("self_us").sum().alias("us"))
            .select(
                (pl.col("key") // span).cast(pl.UInt32).alias("root_row"),
                (pl.col("key") % span).alias("node_code"),
                "us",
            )
        )
    else:
        grouped = coded.group_by("root_row", "node_code").agg(pl.col("self_us").sum().alias("us"))
    return grouped.collect(), nodes


def _span(nodes: pl.DataFrame) -> int:
    """One more than the largest ``node_code``."""
    return int(nodes["node_code"].max() or 0) + 1  # type: ignore[arg-type]


def _trace_entries(
    tree: pl.DataFrame, path: pl.DataFrame, *, slow_quantile: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per trace (``root_row``): ``entry_code``, ``root_ms`` and ``slow``; and each
    ``entry_code`` with its ``entry``."""
    roots = path.filter(pl.col("row") == pl.col("root_row")).select(
        "root_row", ((pl.col("path_end_us") - pl.col("path_start_us")) / 1000.0).alias("root_ms")
    )
    # NOTE: as text: the span columns may be categorical, and the names are built with regexes.
    described = tree.select(*_ENTRY_COLUMNS).select(
        pl.all().gather(roots["root_row"]).cast(pl.String)
    )
    # NOTE: the regexes run once per distinct root description, not once per trace.
    entries = (
        described.unique()
        .with_columns(entry_name().alias("entry"))
        # NOTE: a root without a name has a null entry, kept as its own entry (code 0).
        .with_columns(pl.col("entry").rank("dense").fill_null(0).alias("entry_code"))
    )
    entry_code = described.join(
        entries, on=_ENTRY_COLUMNS, how="left", nulls_equal=True, maintain_order="left"
    )["entry_code"]
    threshold = pl.col("root_ms").quantile(slow_quantile, interpolation="linear").over("entry_code")
    traces = roots.with_columns(entry_code).with_columns(slow=pl.col("root_ms") >= threshold)
    return traces, entries.select("entry_code", "entry").unique("entry_code", keep="any")


def _per_entry(
    per_trace: pl.DataFrame, traces: pl.DataFrame, height: int, *, span: int
) -> pl.DataFrame:
    """Per ``entry_code`` and ``node_code``: the path time of the node in the entry's traces
    (``per_trace`` from ``_per_trace_nodes``, ``traces`` from ``_trace_entries``, ``height``
    the tree's; ``span`` is ``_span``)."""
    # NOTE: each trace's entry and slowness are fetched by its root's row rather than joined,
    # and (entry, node) is packed into one integer key when it fits.
    rows = per_trace["root_row"]
    entry_code = _by_row(height, traces, "entry_code").gather(rows)
    coded = per_trace.select(
        "root_row",
        "node_code",
        "us",
        entry_code.alias("entry_code"),
        _by_row(height, traces, "slow").gather(rows).alias("slow"),
    )
    # NOTE: times are summed as integer microseconds and divided once: a sum of floats
    # depends on the (unspecified) order of the rows, and its last digit varied between runs.
    slow_us = pl.when(pl.col("slow")).then(pl.col("us")).otherwise(0)
    sums = [
        pl.col("us").sum().alias("total_us"),
        slow_us.sum().alias("slow_total_us"),
        pl.len().alias("traces"),
        pl.col("slow").sum().alias("slow_traces"),
        # NOTE: among equally slow traces the first in input order is the example.
        pl.col("root_row")
        .top_k_by(["slow", "us", "root_row"], k=1, reverse=[False, False, True])
        .first()
        .alias("example_row"),
    ]
    entries = int(traces["entry_code"].max() or 0) + 1  # type: ignore[arg-type]
    if entries * span < 1 << 64:
        packed = pl.col("entry_code").cast(pl.UInt64) * span + pl.col("node_code")
        grouped = (
            coded.group_by(packed.alias("key"))
            .agg(pl.first("entry_code"), pl.first("node_code"), *sums)
            .drop("key")
        )
    else:
        grouped = coded.group_by("entry_code", "node_code").agg(*sums)
    counts = traces.group_by("entry_code").agg(
        pl.len().alias("entry_traces"), pl.col("slow").sum().alias("entry_slow_traces")
    )
    return grouped.join(counts, on="entry_code").with_columns(
        critical_path_share=pl.col("total_us") / pl.col("total_us").sum().over("entry_code"),
        slow_share=pl.col("slow_total_us") / pl.col("slow_total_us").sum().over("entry_code"),
        mean_ms=pl.col("total_us") / 1000.0 / pl.col("entry_traces"),
        slow_mean_ms=pl.col("slow_total_us") / 1000.0 / pl.col("entry_slow_traces"),
    )


def _by_row(height: int, traces: pl.DataFrame, column: str) -> pl.Series:
    """``traces[column]`` at each trace's root row, in a column as long as the tree."""
    values = traces[column]
    return pl.repeat(None, height, dtype=values.dtype, eager=True).scatter(
        traces["root_row"], values
    )


def entry_name() -> pl.Expr:
    """``"<root name> <METHOD> <path>"`` or ``"<root name> <operation>"`` or the root name.

    The path loses its query string, numeric and UUID segments become ``{id}``, and an API
    Gateway stage segment's path loses its leading ``/<stage>`` (execute-api URLs carry it;
    the stage is already in the segment name, ``api/stage``).
    """
    path = (
        text("http_url")
        .str.replace(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", "")
        .str.replace(r"[?#].*$", "")
    )
    stage = pl.concat_str(pl.lit("/"), text("name").str.extract(r"/([^/]+)$", 1))
    in_stage = (pl.col("origin") == STAGE_ORIGIN) & (
        (path == stage) | path.str.starts_with(pl.concat_str(stage, pl.lit("/")))
    )
    path = pl.when(in_stage.fill_null(False)).then(path.str.strip_prefix(stage)).otherwise(path)
    # NOTE: a "/" is appended so every segment is "/x/"; the replacement runs twice because
    # adjacent ids ("/1/2/") share a slash and a single pass skips every other one.
    slashed = pl.concat_str(path, pl.lit("/"))
    for _ in range(2):
        slashed = slashed.str.replace_all(_ID_SEGMENT, "/{id}/")
    normalised = pl.when(path == "").then(pl.lit("/")).otherwise(slashed.str.strip_suffix("/"))
    request = pl.concat_str(pl.col("http_method").fill_null(""), normalised, separator=" ")
    return (
        pl.when(pl.col("http_url").is_not_null())
        .then(pl.concat_str(pl.col("name"), request.str.strip_chars_start(), separator=" "))
        .when(pl.col("aws_operation").is_not_null())
        .then(pl.concat_str("name", "aws_operation", separator=" "))
        .otherwise(pl.col("name"))
    )
