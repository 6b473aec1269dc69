"""Findings about the paths between services: DNS, connection reuse, bottlenecks, loops."""

from __future__ import annotations

import polars as pl

from analyses.finding_format import (
    Thresholds,
    count,
    evidence,
    finish,
    level,
    num,
    pct,
    severity_of,
    share_of,
)

LAMBDA_TYPES = ("AWS::Lambda", "AWS::Lambda::Function")

_DNS_VPC = (
    "Lookups go to the VPC's Amazon-provided DNS, which allows 1,024 packets/s per network "
    "interface shared by environments on the same subnet and security groups: cache lookups "
    "in the process, reuse connections (keep-alive, clients created outside the handler), and "
    "reach AWS services through VPC endpoints."
)
_DNS = (
    "Cache DNS results in the process and reuse connections (keep-alive, SDK and HTTP clients "
    "created outside the handler) so warm invocations do not resolve and connect again."
)
_KEEP_ALIVE = (
    "Create SDK and HTTP clients once outside the handler and enable keep-alive (e.g. "
    "AWS_NODEJS_CONNECTION_REUSE_ENABLED=1 for the Node.js SDK v2, a shared requests.Session or "
    "urllib3 pool in Python) so warm invocations reuse connections."
)
_COLD_PATH = (
    "Cold starts dominate the slow requests: provisioned concurrency or SnapStart, and a "
    "shorter init (smaller package, lazy imports)."
)
_SLOW_PATH = (
    "Start from the example trace: cache or batch calls to this node, run independent calls in "
    "parallel, or move work off the request path (queue it)."
)
_OFF_PATH_COLD = (
    "No caller waited for these runs: act only if how soon the events are processed matters "
    "(then shorten init: lazy-load heavy modules, trim the package)."
)
_OFF_PATH_SLOW = (
    "No caller waited for these runs: act only if how soon the events are processed matters "
    "(the queue's age of oldest message, the event age); then start from the example trace: "
    "cache or batch calls to this node, or run independent calls in parallel."
)
_OFF_PATH_FUNCTION = (
    " No caller waited: none of the function's {} traced invocations was synchronous "
    "(asynchronous, invoked by a queue's event source mapping, or after the entry answered)."
)
_LOOP = (
    "Break the loop: a function must not invoke itself or write to the queue, topic or bucket "
    "that triggers it without a stop condition. Lambda's recursive loop detection stops some "
    "loops after about 16 invocations and drops the event."
)


def off_path_functions(cold_starts: pl.DataFrame | None) -> pl.DataFrame:
    """``function_name`` and ``traced_invocations`` of the functions none of whose traced
    invocations had a caller waiting (``sync_invocations`` 0 in
    ``analyses.cold_starts.COLD_START_SCHEMA``); empty when that is unknown."""
    schema = {"function_name": pl.String(), "traced_invocations": pl.Int64()}
    if cold_starts is None:
        return pl.DataFrame(schema=schema)
    return cold_starts.filter(
        (pl.col("invocations") > 0) & (pl.col("sync_invocations") == 0)
    ).select("function_name", pl.col("invocations").cast(pl.Int64).alias("traced_invocations"))


def _off_path_note() -> pl.Expr:
    return (
        pl.when(pl.col("off_path"))
        .then(pl.format(_OFF_PATH_FUNCTION, count("traced_invocations")))
        .otherwise(pl.lit(""))
    )


def _with_off_path(frame: pl.DataFrame, off_path: pl.DataFrame | None) -> pl.DataFrame:
    """``frame`` with ``off_path`` (its function had no caller waiting) and
    ``traced_invocations``."""
    known = off_path if off_path is not None else off_path_functions(None)
    return frame.join(known, on="function_name", how="left", nulls_equal=False).with_columns(
        pl.col("traced_invocations").is_not_null().alias("off_path")
    )


def dns_findings(
    dns: pl.DataFrame, t: Thresholds, off_path: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Failing or slow DNS lookups, or lookups taking a large share of invocation time.

    Failures are critical only for a VPC-attached service and when the invocations that saw one
    are a large share of those that looked the host up: one failure in a hundred lookups is a
    warning, not an outage. Slow lookups of a function no caller waited for
    (``off_path``: :func:`off_path_functions`) are ``info``: the time is nobody's latency.
    Failed lookups keep their severity wherever they run (the work failed)."""
    failed = pl.col("failures") > 0
    slow = (pl.col("p95_ms") >= t.dns_p95_warning_ms) | (
        pl.col("invocation_share") >= t.dns_share_warning
    )
    vpc = pl.col("vpc_attached").fill_null(value=False)
    # NOTE: failed lookups, at most one per invocation, stand for the invocations that saw one.
    failed_invocations = pl.min_horizontal("failures", "invocations")
    frame = _with_off_path(dns, off_path).with_columns(
        failed_invocations.alias("failed_invocations"),
        share_of(failed_invocations, "invocations").alias("failure_share"),
    )
    waited = slow & ~pl.col("off_path")
    frame = frame.with_columns(
        level(
            failed | waited,
            failed & vpc & (pl.col("failure_share") >= t.dns_failure_share_critical),
        ).alias("level")
    ).filter((pl.col("level") > 0) | slow.fill_null(value=False))
    message = pl.format(
        "{} DNS lookups of {} in {} invocations: {} failed, p95 {} ms, max {} ms, {} of "
        "invocation time; VPC attached: {}.{}",
        count("lookups"),
        pl.col("host").fill_null("an unnamed host"),
        count("invocations"),
        count("failures"),
        num("p95_ms"),
        num("max_ms"),
        pct("invocation_share"),
        pl.col("vpc_attached").cast(pl.String).fill_null("unknown"),
        _off_path_note(),
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("dns").alias("kind"),
            pl.format(
                "{} -> {}", pl.coalesce("service", "function_name"), pl.col("host").fill_null("?")
            ).alias("subject"),
            message.alias("message"),
            evidence(
                "lookups",
                "failures",
                "p50_ms",
                "p95_ms",
                "max_ms",
                "invocation_share",
                "cold_lookups",
                "warm_lookups",
            ).alias("evidence"),
            pl.when(vpc).then(pl.lit(_DNS_VPC)).otherwise(pl.lit(_DNS)).alias("recommendation"),
            pl.col("example_trace_id").alias("trace_id"),
            pl.when(failed).then("failed_invocations").otherwise("invocations").alias("affected"),
            pl.when(failed).then("failure_share").alias("share"),
        )
    )


def connection_findings(
    setup: pl.DataFrame, t: Thresholds, off_path: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Warm invocations opening a new connection for most calls (no keep-alive): a warning,
    ``info`` for a function no caller waited for (``off_path``: :func:`off_path_functions`)."""
    frame = (
        _with_off_path(setup, off_path)
        .filter(
            (pl.col("calls") >= t.min_invocations)
            & (pl.col("new_connections_per_call") >= t.new_connections_per_call_warning)
        )
        .with_columns(level(~pl.col("off_path")).alias("level"))
    )
    message = pl.format(
        "{} new connections for {} calls on warm invocations ({} per call).{}",
        count("new_connections"),
        count("calls"),
        num("new_connections_per_call", 2),
        _off_path_note(),
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("connection_reuse").alias("kind"),
            pl.format("{} -> {}", "function_name", pl.col("host").fill_null("?")).alias("subject"),
            message.alias("message"),
            evidence(
                "calls", "dials", "tls_handshakes", "new_connections", "new_connections_per_call"
            ).alias("evidence"),
            pl.lit(_KEEP_ALIVE).alias("recommendation"),
            pl.col("example_trace_id").alias("trace_id"),
            pl.col("calls").alias("affected"),
            pl.col("new_connections_per_call").clip(upper_bound=1.0).alias("share"),
        )
    )


def node_described() -> pl.Expr:
    """A bottleneck's node with what its time is, so two nodes of one name never read alike:
    ``orders in the Lambda service before the function starts``, ``orders Initialization
    (cold start)``, ``orders function code``, ``downstream AWS::DynamoDB::Table orders``."""
    node, node_type = pl.col("node"), pl.col("node_type").fill_null("service")
    kind = pl.col("node_kind")
    return (
        pl.when(kind == "lambda_service")
        .then(pl.format("{} in the Lambda service before the function starts", node))
        .when(kind == "initialization")
        .then(pl.format("{} (cold start)", node))
        .when(kind == "function_code")
        .then(pl.format("{} function code", node))
        .when(kind == "downstream")
        .then(pl.format("downstream {} {}", node_type, node))
        .when(kind == "service")
        .then(pl.format("{} ({} own time)", node, node_type))
        .otherwise(node)
    )


def entry_waits(entry_traces: pl.DataFrame | None) -> pl.DataFrame:
    """Per entry point of ``analyses.entry_points.ENTRY_TRACE_SCHEMA``: ``entry_path``, who
    waited for its traces (``sync``, ``async``, ``event_source``, ``mixed`` when they differ,
    null when any trace's is unknown)."""
    schema = {"entry": pl.String(), "entry_path": pl.String()}
    if entry_traces is None:
        return pl.DataFrame(schema=schema)
    paths = pl.col("invocation_path")
    return entry_traces.group_by("entry").agg(
        pl.when(paths.null_count() > 0)
        .then(pl.lit(None, pl.String()))
        .when(paths.n_unique() == 1)
        .then(paths.first())
        .when((paths == "sync").any())
        .then(pl.lit("mixed"))
        .otherwise(pl.lit("async_mixed"))
        .alias("entry_path")
    )


# Entry paths no caller waited for, and how a finding names them.
_NOBODY_WAITED = {
    "event_source": "invoked by a queue's event source mapping",
    "async": "invoked asynchronously (events Lambda queued or a service delivered)",
    "async_mixed": "invoked asynchronously or by a queue's event source mapping",
}


def bottleneck_findings(
    bottlenecks: pl.DataFrame, t: Thresholds, entry_traces: pl.DataFrame | None = None
) -> pl.DataFrame:
    """A node holding a large share of the slow requests' critical path of an entry point.

    With ``entry_traces`` (``analyses.entry_points.entry_traces``), an entry point no caller
    waited for (every trace's root invoked asynchronously or by a queue's event source
    mapping) is at most ``info``, and its finding says so: the time held is how long the
    events took to process, nobody's latency. An entry whose traces' callers are unknown, or
    some of which had a caller waiting, is judged as before."""
    share = pl.col("slow_share")
    waits = entry_waits(entry_traces)
    nobody = pl.col("entry_path").is_in(list(_NOBODY_WAITED)).fill_null(value=False)
    frame = (
        bottlenecks.join(waits, on="entry", how="left", nulls_equal=True)
        .filter(share >= t.bottleneck_share_info)
        .with_columns(
            pl.when((share >= t.bottleneck_share_warning) & ~nobody)
            .then(1)
            .otherwise(0)
            .alias("level")
        )
    )
    why = pl.col("entry_path").replace_strict(
        _NOBODY_WAITED, default=None, return_dtype=pl.String()
    )
    waited_message = pl.format(
        "{} holds {} of the critical path of the slowest requests to {} ({} ms per slow "
        "request, {} slow traces).",
        node_described(),
        pct("slow_share"),
        pl.col("entry"),
        num("slow_mean_ms"),
        count("slow_traces"),
    )
    nobody_message = pl.format(
        "{} holds {} of the critical path of the slowest runs of {} ({} ms per slow run, {} "
        "slow traces); no caller waited for them: {} is {}.",
        node_described(),
        pct("slow_share"),
        pl.col("entry"),
        num("slow_mean_ms"),
        count("slow_traces"),
        pl.col("entry"),
        why,
    )
    message = pl.when(nobody).then(nobody_message).otherwise(waited_message)
    cold = (pl.col("node_kind") == "initialization").fill_null(value=False)
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("bottleneck").alias("kind"),
            pl.format(
                "{}{} @ {}",
                "node",
                pl.when(pl.col("node_kind").is_not_null())
                .then(pl.format(" [{}]", "node_kind"))
                .otherwise(pl.lit("")),
                "entry",
            ).alias("subject"),
            message.alias("message"),
            evidence(
                "node_kind",
                "critical_path_share",
                "slow_share",
                "traces",
                "slow_traces",
                "mean_ms",
                "slow_mean_ms",
                "entry_path",
            ).alias("evidence"),
            pl.when(nobody & cold)
            .then(pl.lit(_OFF_PATH_COLD))
            .when(nobody)
            .then(pl.lit(_OFF_PATH_SLOW))
            .when(cold)
            .then(pl.lit(_COLD_PATH))
            .otherwise(pl.lit(_SLOW_PATH))
            .alias("recommendation"),
            pl.col("example_trace_id").alias("trace_id"),
            pl.col("slow_traces").alias("affected"),
            share_of("slow_traces", "traces").alias("share"),
        )
    )


def loop_findings(loops: pl.DataFrame) -> pl.DataFrame:
    """Loops through the same resources (``analyses.loops.LOOP_SCHEMA``).

    Critical when a function is on the loop and every edge is confirmed (each write names a
    triggering operation); a warning otherwise. Loops the service map draws only because it
    shows every bucket as one node are not loops here.
    """
    critical = (pl.col("functions") > 0) & pl.col("confirmed")
    frame = loops.with_columns(level(pl.lit(value=True), critical).alias("level"))
    unconfirmed = (
        pl.when(pl.col("confirmed"))
        .then(pl.lit(""))
        .otherwise(
            pl.lit(" Some calls on it record no operation, so whether they trigger is unknown.")
        )
    )
    return finish(
        frame.select(
            severity_of().alias("severity"),
            pl.lit("recursive_loop").alias("kind"),
            pl.col("path").alias("subject"),
            pl.format(
                "Calls loop back to {}: {} ({} calls on the loop's thinnest edge).{}",
                "closing_resource",
                "path",
                count("calls"),
                unconfirmed,
            ).alias("message"),
            evidence("closing_resource", "calls", "functions", "confirmed").alias("evidence"),
            pl.lit(_LOOP).alias("recommendation"),
            pl.col("example_trace_id").alias("trace_id"),
            pl.col("calls").alias("affected"),
            pl.lit(None, pl.Float64()).alias("share"),
        )
    )
