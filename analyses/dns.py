"""DNS lookups and connection set-up seen inside Lambda invocations.

X-Ray records no DNS phase by itself; instrumentation adds it: the X-Ray Go SDK nests ``dns``,
``dial`` and ``tls`` in a ``connect`` subsegment inside the remote call (``connect`` appears
even when a kept-alive connection is reused), OpenTelemetry Go emits ``http.dns``,
``http.connect`` and ``http.tls``, OpenTelemetry Node ``dns.lookup``, ``tcp.connect`` and
``tls.connect``. In a VPC, lookups go to the Amazon-provided resolver, which limits packets per
network interface: slow or failing lookups there point at missing caching or keep-alive.

A step's host is its own ``host`` column, else the nearest enclosing span with a host (a
remote call is named by its host), else the node the enclosing call reaches (e.g. a table): an
OpenTelemetry Node ``dns.lookup`` span carries no host name and takes its call's. A span
recording the addresses a lookup returned (``http.dns.addrs`` metadata, ``dns_answer``) is a
lookup whatever its name: older ADOT exporters name OpenTelemetry Go's ``http.dns`` span after
the host it resolved.

Lookups are counted for every service that records them, not only Lambda functions: a row's
``service`` is the function name for an ``AWS::Lambda::Function`` segment, else the name of
the segment holding the lookup (an ECS task, an EC2 instance...). Cold and warm apply to
functions only; for other services both counts are 0 and their medians null.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analyses._calls import OUTERMOST_CALL, span_tree
from analyses._frames import flag_count, id_pair_key, quantile_ms, require_columns, text
from analyses._tree import ancestor_fold, gather_views
from analyses.invocations import invocations
from tracelens.schema import FUNCTION_SCHEMA, SPAN_SCHEMA

DNS_NAMES = ("dns", "http.dns", "dns.lookup")
CONNECT_NAMES = ("connect",)
DIAL_NAMES = ("dial", "http.connect", "tcp.connect")
TLS_NAMES = ("tls", "http.tls", "tls.connect")

DNS_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),  # null for a service that is not a Lambda function
    "host": pl.String(),  # null when neither the lookup nor its callers name one
    "lookups": pl.Int64(),
    "invocations": pl.Int64(),  # invocations that looked this host up
    "failures": pl.Int64(),  # lookups flagged error/fault or carrying an exception
    "p50_ms": pl.Float64(),
    "p95_ms": pl.Float64(),
    "max_ms": pl.Float64(),
    # Sum of lookup time / sum of the duration of the invocations that did the lookups.
    "invocation_share": pl.Float64(),
    "cold_lookups": pl.Int64(),
    "warm_lookups": pl.Int64(),
    "cold_p50_ms": pl.Float64(),
    "warm_p50_ms": pl.Float64(),
    "vpc_attached": pl.Boolean(),  # null when the function's configuration is unknown
    "service": pl.String(),  # the function, else the segment holding the lookups
    "example_trace_id": pl.String(),  # a trace with a failed lookup, else the slowest lookup
}

CONNECTION_SETUP_SCHEMA: dict[str, pl.DataType] = {
    "function_name": pl.String(),
    "host": pl.String(),
    "calls": pl.Int64(),  # outermost aws/remote calls to the host on warm invocations
    "connects": pl.Int64(),  # X-Ray Go SDK `connect` steps (new or reused connection)
    "dials": pl.Int64(),  # TCP connects: `dial`, `http.connect`, `tcp.connect`
    "tls_handshakes": pl.Int64(),  # `tls`, `http.tls`, `tls.connect`
    "new_connections": pl.Int64(),  # max(dials, tls_handshakes)
    # Near 1 on warm invocations means connections are not kept alive between calls.
    "new_connections_per_call": pl.Float64(),
    "example_trace_id": pl.String(),  # a trace whose warm call opened a new connection
}


def dns_lookups(spans: pl.DataFrame, *, functions: pl.DataFrame | None = None) -> pl.DataFrame:
    """DNS lookup statistics per (function, host).

    Parameters
    ----------
    functions
        Function configuration (``FUNCTION_SCHEMA``) for ``vpc_attached``; optional.

    Returns
    -------
    pl.DataFrame
        ``DNS_SCHEMA``, one row per (service, host); an invocation is cold as
        ``analyses.invocations`` classifies it (any kind of cold start). Sorted by total
        lookup time, largest first.
    """
    _check(spans, functions)
    return _dns(_Located.of(spans), functions)


def dns_lookup_rows(spans: pl.DataFrame) -> pl.DataFrame:
    """One row per DNS lookup inside a function segment: what :func:`dns_lookups` aggregates
    (``service``, ``function_name``, ``host``, ``duration_ms``, ``failed``, ``cold``,
    ``trace_id``, ``segment_id``, ``invocation_ms``, ...), for partial aggregates."""
    _check(spans, None)
    return _Located.of(spans).rows(is_lookup())


def connection_setup(spans: pl.DataFrame) -> pl.DataFrame:
    """Connection set-up steps per call on warm invocations, per (function, host).

    Returns
    -------
    pl.DataFrame
        ``CONNECTION_SETUP_SCHEMA``, sorted by ``new_connections_per_call``, largest first.
    """
    _check(spans, None)
    return _connections(_Located.of(spans))


def dns_and_connection_setup(
    spans: pl.DataFrame, *, functions: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(dns_lookups(spans, functions=...), connection_setup(spans))``, locating hosts and
    invocations once."""
    _check(spans, functions)
    located = _Located.of(spans)
    return _dns(located, functions), _connections(located)


def _check(spans: pl.DataFrame, functions: pl.DataFrame | None) -> None:
    require_columns(spans, SPAN_SCHEMA, what="spans")
    if functions is not None:
        require_columns(functions, FUNCTION_SCHEMA, what="functions")


def is_lookup() -> pl.Expr:
    """A DNS lookup: named like one (``DNS_NAMES``), or recording the addresses it returned
    (``dns_answer``: older ADOT exporters name the lookup after the host)."""
    return pl.col("name").is_in(DNS_NAMES) | pl.col("dns_answer").fill_null(value=False)


def _dns(located: _Located, functions: pl.DataFrame | None) -> pl.DataFrame:
    return _dns_stats(located.rows(is_lookup()), functions)


def connection_rows(spans: pl.DataFrame) -> pl.DataFrame:
    """The rows :func:`connection_setup` counts (``CONNECTION_COUNT_EXPRS`` per
    ``function_name`` and ``host``: the call's host), with ``trace_id``, for partial
    aggregates."""
    _check(spans, None)
    return _connection_rows(_Located.of(spans))


def _connection_rows(located: _Located) -> pl.DataFrame:
    step_names = (*CONNECT_NAMES, *DIAL_NAMES, *TLS_NAMES)
    # NOTE: warm invocations of functions only: other services have no cold or warm.
    rows = located.rows(pl.col("name").is_in(step_names) | OUTERMOST_CALL, warm_only=True)
    # NOTE: steps inside a call are counted under the call's host, so that per-call ratios
    # compare like with like even when a nested span names the endpoint differently.
    return rows.with_columns(host=pl.col("call_host"))


def _named(names: tuple[str, ...]) -> pl.Expr:
    return (pl.col("name").is_in(names) & ~pl.col("is_outermost_call")).sum().cast(pl.Int64)


CONNECTION_COUNT_EXPRS: dict[str, pl.Expr] = {
    "calls": pl.col("is_outermost_call").sum().cast(pl.Int64),
    "connects": _named(CONNECT_NAMES),
    "dials": _named(DIAL_NAMES),
    "tls_handshakes": _named(TLS_NAMES),
}
"""The counts of ``CONNECTION_SETUP_SCHEMA`` over rows of :func:`connection_rows` (an
aggregation per function and host; rollups count the same per hour)."""


def with_new_connections(counts: pl.DataFrame) -> pl.DataFrame:
    """``CONNECTION_COUNT_EXPRS`` counts with ``new_connections`` and
    ``new_connections_per_call`` (from the totals, so merged counts give the same ratio)."""
    return counts.with_columns(
        new_connections=pl.max_horizontal("dials", "tls_handshakes")
    ).with_columns(
        new_connections_per_call=pl.when(pl.col("calls") > 0).then(
            pl.col("new_connections") / pl.col("calls")
        )
    )


def _connections(located: _Located) -> pl.DataFrame:
    warm = _connection_rows(located)
    counts = warm.group_by(["function_name", "host"]).agg(
        *(expr.alias(name) for name, expr in CONNECTION_COUNT_EXPRS.items()),
        # NOTE: the first in trace-id order, so the example does not depend on input order.
        pl.col("trace_id")
        .filter(pl.col("name").is_in((*DIAL_NAMES, *TLS_NAMES)) & ~pl.col("is_outermost_call"))
        .min()
        .alias("example_trace_id"),
    )
    counts = with_new_connections(counts)
    return (
        counts.select(CONNECTION_SETUP_SCHEMA.keys())
        .cast(pl.Schema(CONNECTION_SETUP_SCHEMA))
        .sort(
            ["new_connections_per_call", "function_name", "host"],
            descending=[True, False, False],
            nulls_last=True,
        )
    )


@dataclass(frozen=True)
class _Located:
    """What placing span rows in invocations takes, computed once per spans frame: the span
    tree, each row's nearest host-naming row, and the invocations by their function
    segment's row (``owner_row``, ``function_name``, ``cold``, ``invocation_ms``)."""

    tree: pl.DataFrame
    host_row: pl.Series
    executions: pl.DataFrame

    @classmethod
    def of(cls, spans: pl.DataFrame) -> _Located:
        tree = span_tree(spans)
        return cls(tree, _host_rows(tree), _executions(spans, tree))

    def rows(self, keep: pl.Expr, *, warm_only: bool = False) -> pl.DataFrame:
        """Span rows matching ``keep`` inside segments, with host and invocation; with
        ``warm_only``, only those in warm invocations of functions.

        Columns: ``name``, ``duration_ms``, ``failed``, ``is_outermost_call``, ``host`` (see
        the module docstring), ``call_host`` (the enclosing call's host, else ``host``),
        ``trace_id``, ``segment_id``, ``function_name``, ``service``, ``cold``,
        ``invocation_ms``; in the spans' order.
        """
        tree = self.tree
        failed = (
            pl.col("error").fill_null(False)
            | pl.col("fault").fill_null(False)
            | (pl.col("exception_count").fill_null(0) > 0)
        )
        # NOTE: rows are picked from a narrow frame; hosts and owners are fetched by position.
        chosen = (
            tree.lazy()
            .filter(keep & ~pl.col("inferred") & _is_owner().gather(pl.col("owner_row")))
            .select(
                "row",
                text(pl.col("name")),
                "duration_ms",
                "call_row",
                "owner_row",
                failed.alias("failed"),
                OUTERMOST_CALL.alias("is_outermost_call"),
            )
            .collect()
        )
        chosen = self._with_executions(chosen)
        if warm_only:
            chosen = chosen.filter(~pl.col("cold"))
        call_target = text(tree["target"].gather(chosen["call_row"]))
        own_host = pl.coalesce(_host_at(tree, self.host_row.gather(chosen["row"])), call_target)
        call_host = pl.coalesce(
            _host_at(tree, self.host_row.gather(chosen["call_row"])), call_target, own_host
        )
        owner = chosen["owner_row"]
        return chosen.select(
            "name",
            "duration_ms",
            "failed",
            "is_outermost_call",
            own_host.alias("host"),
            call_host.alias("call_host"),
            gather_views(tree["trace_id"], owner).alias("trace_id"),
            gather_views(tree["id"], owner).alias("segment_id"),
            "function_name",
            pl.coalesce("function_name", text(tree["name"].gather(owner))).alias("service"),
            "cold",
            pl.coalesce("invocation_ms", tree["duration_ms"].gather(owner)).alias("invocation_ms"),
        )

    def _with_executions(self, chosen: pl.DataFrame) -> pl.DataFrame:
        """``chosen`` with its segment's invocation (``function_name``, ``cold``,
        ``invocation_ms``; nulls outside invocations)."""
        executions = self.executions
        owners = executions["owner_row"]
        if owners.n_unique() < owners.len():
            # NOTE: a segment that two invocations name (repeated ids) has its rows in both.
            return chosen.join(executions, on="owner_row", how="left", maintain_order="left")
        # NOTE: else each row's invocation is fetched by position rather than joined.
        at = pl.repeat(None, self.tree.height, dtype=pl.UInt32, eager=True).scatter(
            owners, pl.arange(0, owners.len(), dtype=pl.UInt32, eager=True)
        )
        return chosen.with_columns(
            executions.drop("owner_row").select(pl.all().gather(at.gather(chosen["owner_row"])))
        )


def _is_owner() -> pl.Expr:
    """A segment rows are placed in: any recorded (not inferred) one."""
    return (pl.col("kind") == "segment") & ~pl.col("inferred")


def _host_hint() -> pl.Expr:
    """The host a subsegment names: its ``host``, else a remote call's name."""
    return pl.when(pl.col("kind") == "subsegment").then(
        pl.coalesce("host", pl.when(pl.col("namespace") == "remote").then(pl.col("name")))
    )


def _host_rows(tree: pl.DataFrame) -> pl.Series:
    """Per row, the row of the nearest span naming a host, going up inside its segment."""
    # NOTE: positions are folded rather than the host strings themselves: cheaper to gather.
    return ancestor_fold(
        tree.select(pl.when(_host_hint().is_not_null()).then(pl.col("row"))).to_series(),
        tree["local_parent"],
        kind="nearest",
    )


def _host_at(tree: pl.DataFrame, host_rows: pl.Series) -> pl.Expr:
    """The host named at each of ``host_rows`` (rows from ``_host_rows``, or null)."""
    # NOTE: such a row names a host, so its ``host`` is set or it is a remote call: its name.
    return pl.coalesce(text(tree["host"].gather(host_rows)), text(tree["name"].gather(host_rows)))


def _executions(spans: pl.DataFrame, tree: pl.DataFrame) -> pl.DataFrame:
    """The invocations (``analyses.invocations``) by the row of their function segment:
    ``owner_row``, ``function_name`` (null when not a function), ``cold`` (any kind of cold
    start) and ``invocation_ms``; one row per invocation whose segment is in ``tree``."""
    runs = invocations(spans).select(
        "trace_id",
        "segment_id",
        text(pl.col("function_name")),
        "cold",
        pl.col("duration_ms").alias("invocation_ms"),
    )
    # NOTE: segments are matched on one 64-bit hash of (trace id, id) rather than on the two
    # strings (several times slower), then compared exactly: a collision matches nothing.
    segments = (
        tree.lazy()
        .filter(_is_owner())
        .select(pl.col("row").alias("owner_row"), id_pair_key("trace_id", "id").alias("key"))
    )
    matched = (
        runs.lazy()
        .select(id_pair_key("trace_id", "segment_id").alias("key"))
        .with_row_index("run")
        .join(segments, on="key", how="inner")
        .select("run", "owner_row")
        .collect()
    )
    owner, run = matched["owner_row"], matched["run"]
    same = (gather_views(tree["trace_id"], owner) == runs["trace_id"].gather(run)) & (
        gather_views(tree["id"], owner) == runs["segment_id"].gather(run)
    )
    return runs.select(pl.all().gather(run.filter(same))).select(
        owner.filter(same), "function_name", "cold", "invocation_ms"
    )


def _dns_stats(steps: pl.DataFrame, functions: pl.DataFrame | None) -> pl.DataFrame:
    keys = ["service", "function_name", "host"]
    cold = pl.col("cold")
    stats = steps.group_by(keys).agg(
        pl.len().cast(pl.Int64).alias("lookups"),
        flag_count("failed").alias("failures"),
        quantile_ms("duration_ms", 0.50).alias("p50_ms"),
        quantile_ms("duration_ms", 0.95).alias("p95_ms"),
        pl.col("duration_ms").max().alias("max_ms"),
        pl.col("duration_ms").sum().alias("lookup_ms"),
        cold.sum().cast(pl.Int64).alias("cold_lookups"),
        cold.not_().sum().cast(pl.Int64).alias("warm_lookups"),
        pl.col("duration_ms")
        .filter(cold)
        .quantile(0.5, interpolation="linear")
        .alias("cold_p50_ms"),
        pl.col("duration_ms")
        .filter(cold.not_())
        .quantile(0.5, interpolation="linear")
        .alias("warm_p50_ms"),
        pl.col("trace_id")
        .sort_by(
            [pl.col("failed"), pl.col("duration_ms").fill_null(-1.0), pl.col("trace_id")],
            descending=[True, True, False],
        )
        .first()
        .alias("example_trace_id"),
    )
    invocations = (
        steps.unique([*keys, "trace_id", "segment_id"])
        .group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("invocations"),
            pl.col("invocation_ms").sum().alias("invocation_total_ms"),
        )
    )
    result = stats.join(invocations, on=keys, nulls_equal=True).with_columns(
        invocation_share=pl.when(pl.col("invocation_total_ms") > 0).then(
            pl.col("lookup_ms") / pl.col("invocation_total_ms")
        )
    )
    result = _with_vpc(result, functions)
    return (
        result.sort(["lookup_ms", "service", "host"], descending=[True, False, False])
        .select(DNS_SCHEMA.keys())
        .cast(pl.Schema(DNS_SCHEMA))
    )


def _with_vpc(result: pl.DataFrame, functions: pl.DataFrame | None) -> pl.DataFrame:
    if functions is None:
        return result.with_columns(vpc_attached=pl.lit(None, dtype=pl.Boolean))
    vpc = functions.select("function_name", "vpc_attached").unique("function_name", keep="first")
    return result.join(vpc, on="function_name", how="left")
