"""The per-function table: traffic, failures, throttles, cold starts, latency, configuration."""

from __future__ import annotations

from tracelens.report.context import FUNCTIONS, RenderContext, Section
from tracelens.report.markup import Cell, Column, empty, fmt_count, fmt_flag, frame_table

MAX_FUNCTIONS = 500

_COLUMNS = [
    Column("function"),
    Column("invocations", numeric=True, hint="traced executions"),
    Column("CloudWatch", numeric=True, hint="every invocation (Invocations metric, Sum)"),
    Column("traced", numeric=True, hint="traced / CloudWatch invocations: the sample's share"),
    Column("errors", numeric=True),
    Column("faults", numeric=True),
    Column(
        "throttled",
        numeric=True,
        hint="throttled invocation attempts (never ran); '≥' when a call records no retries",
    ),
    Column("cold starts", numeric=True),
    Column("timeouts", numeric=True),
    Column("p50", numeric=True),
    Column("p95", numeric=True),
    Column("p99", numeric=True),
    Column("memory MB", numeric=True, hint="configured size / largest used"),
    Column("VPC"),
    Column("runtime"),
    Column("reserved", numeric=True, hint="reserved concurrency"),
    Column("provisioned", numeric=True, hint="provisioned concurrency"),
]


def render_functions(ctx: RenderContext) -> Section:
    frame = ctx.result.functions.join(
        ctx.result.metric_totals.select("function_name", "metric_invocations", "sampling_ratio"),
        on="function_name",
        how="left",
        maintain_order="left",
    )
    if frame.is_empty():
        return Section(FUNCTIONS, "Functions", empty("No Lambda function in the traces or logs."))
    listing = frame_table(
        frame, _COLUMNS, _row, limit=MAX_FUNCTIONS, what="functions (busiest first)"
    )
    intro = (
        "<p>Durations are of completed traced executions. Traces are sampled: CloudWatch counts "
        "every invocation, and <em>traced</em> is the share the traces stand for. Click a "
        "column to sort.</p>"
    )
    return Section(FUNCTIONS, "Functions", intro + listing)


def _memory(size: int | None, used: int | None) -> str:
    if used is None:
        return fmt_count(size)
    return f"{fmt_count(size)} / {fmt_count(used)}"


def _count(value: int | None, *, alert: bool = False) -> Cell:
    return Cell.number(value, fmt_count(value), alert=alert)


def _row(r: dict[str, object]) -> list[Cell]:
    def get_int(key: str) -> int | None:
        value = r[key]
        return value if isinstance(value, int) else None

    def get_float(key: str) -> float | None:
        value = r[key]
        return float(value) if isinstance(value, int | float) else None

    return [
        Cell.name(r["function_name"]),
        _count(get_int("invocations")),
        _count(get_int("metric_invocations")),
        Cell.pct(get_float("sampling_ratio")),
        _count(get_int("errors"), alert=bool(get_int("errors"))),
        _count(get_int("faults"), alert=bool(get_int("faults"))),
        Cell.at_least(get_int("throttled"), get_int("throttled_retries_unknown")),
        _count(get_int("cold_starts")),
        _count(get_int("timeouts"), alert=bool(get_int("timeouts"))),
        *(Cell.ms(get_float(k)) for k in ("duration_p50_ms", "duration_p95_ms", "duration_p99_ms")),
        Cell.number(
            get_int("memory_size_mb"),
            _memory(get_int("memory_size_mb"), get_int("max_memory_used_mb")),
        ),
        Cell.text(fmt_flag(r["vpc_attached"] if isinstance(r["vpc_attached"], bool) else None)),
        Cell.text(r["runtime"]),
        # NOTE: reserved concurrency 0 switches a function off: always worth a look.
        _count(get_int("reserved_concurrency"), alert=get_int("reserved_concurrency") == 0),
        _count(get_int("provisioned_concurrency")),
    ]
