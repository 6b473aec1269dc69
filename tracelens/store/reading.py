"""Load what analyses read (:class:`tracelens.inputs.Inputs`) from a store's tables.

Events (spans, datapoints, log lines) are read from the date partitions that the time range
touches; configuration is state, so the latest configuration stored up to the range's end is
used even when it was read before the range started.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import polars as pl

from analyses.trace_paths import TraceDestination
from tracelens.ingest.loader import TraceInput
from tracelens.ingest.rejections import RejectionLog
from tracelens.inputs import Inputs
from tracelens.limits import IMPOSSIBLE_TIMES, valid_times
from tracelens.schema import (
    CATEGORICAL_SPAN_COLUMNS,
    LOG_EVENT_SCHEMA,
    REPORT_SCHEMA,
    SPAN_SCHEMA,
    UNANALYSED_SPAN_COLUMNS,
    conform,
    empty_frame,
)
from tracelens.sideinputs import FunctionInventory, LambdaLogs
from tracelens.store import layout, tables
from tracelens.store.backend import Backend
from tracelens.store.dedupe import latest_rows, unique_segments
from tracelens.store.errors import StoreProblem
from tracelens.store.parts import (
    TableRead,
    contiguous,
    dated_parts,
    listed_days,
    part_keys,
    read_table,
)


@dataclass(frozen=True)
class Scope:
    """What to load: a half-open time range ``[since, until)`` and optional account/region;
    ``targets``: the rows of these (account label, region) pairs, each target's on its own
    (:func:`load_each`)."""

    since: datetime | None = None
    until: datetime | None = None
    account: str | None = None
    region: str | None = None
    targets: tuple[Target, ...] = ()

    def __post_init__(self) -> None:
        for name, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name}={moment!r} must be time-zone aware (tzinfo=UTC)")

    @property
    def first_day(self) -> date | None:
        return self.since.astimezone(UTC).date() if self.since else None

    @property
    def last_day(self) -> date | None:
        if self.until is None:
            return None
        return (self.until - timedelta(microseconds=1)).astimezone(UTC).date()

    def where(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rows of the account and region asked for (of the targets asked for)."""
        if self.account is not None:
            frame = frame.filter(pl.col(tables.ACCOUNT) == self.account)
        if self.region is not None:
            frame = frame.filter(pl.col(tables.REGION) == self.region)
        if self.targets:
            frame = frame.filter(
                pl.any_horizontal(
                    (pl.col(tables.ACCOUNT) == account) & (pl.col(tables.REGION) == region)
                    for account, region in self.targets
                )
            )
        return frame

    @property
    def groups(self) -> list[Group]:
        """The groups a read's rows are split into: each target, or one group of them all."""
        return list(self.targets) if self.targets else [()]

    @property
    def by(self) -> tuple[str, ...]:
        """The columns telling the groups apart (none: one group)."""
        return (tables.ACCOUNT, tables.REGION) if self.targets else ()

    @property
    def timed(self) -> bool:
        """Whether the range has an end at all (an open range keeps every row)."""
        return self.since is not None or self.until is not None

    def within(self, frame: pl.DataFrame, column: str) -> pl.DataFrame:
        """Rows of ``frame`` whose ``column`` lies in the range; rows without a time are kept.

        NOTE: an open range returns ``frame`` as is; a literal ``True`` predicate is not
        broadcast by every polars plan (a group-by result filtered by it raised ShapeError).
        """
        bounds: list[pl.Expr] = []
        if self.since is not None:
            bounds.append(pl.col(column) >= self.since)
        if self.until is not None:
            bounds.append(pl.col(column) < self.until)
        if not bounds:
            return frame
        return frame.filter(pl.all_horizontal(bounds).fill_null(value=True))


Target = tuple[str, str]
"""An account label and region (``[[targets]]``), as the tables record them."""
Group = tuple[str, ...]
"""A target, or ``()``: every row asked for together."""


@dataclass
class _Loaded:
    problems: list[StoreProblem] = field(default_factory=list)
    regions: set[str] = field(default_factory=set)

    def scoped(self, frame: pl.DataFrame, scope: Scope) -> pl.DataFrame:
        """Rows of the scope's account and region, noting the regions they come from."""
        return self.noted(scope.where(frame))

    def noted(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows``, noting the regions they come from."""
        self.regions.update(r for r in rows.get_column(tables.REGION).unique() if r is not None)
        return rows

    def read(
        self,
        backend: Backend,
        table: tables.Table,
        listing: Callable[[], list[str]],
        keep: Callable[[pl.DataFrame], pl.DataFrame],
        columns: list[str] | None = None,
        convert: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
        first_number: int = 0,
        by: tuple[str, ...] = (),
    ) -> TableRead:
        """The parts ``listing`` names, each cut to ``convert`` and ``keep`` as it is read (the
        peak stays small; see :func:`read_table`), numbered from ``first_number``.

        A part deleted after it was listed was merged into another by a compaction (or
        rewritten by a rebuild): the parts are listed again and the new ones read too, so no
        row goes missing (rows read twice are de-duplicated like any copy).
        """
        tried = listing()
        result = read_table(
            backend,
            table,
            tried,
            keep,
            columns,
            first_number=first_number,
            convert=convert,
            by=by,
        )
        for _ in range(_RELISTS):
            if not result.missing:
                break
            seen = set(tried)
            again = [key for key in listing() if key not in seen]
            more = read_table(
                backend,
                table,
                again,
                keep,
                columns,
                first_number=first_number + len(tried),
                convert=convert,
                by=by,
            )
            tried += again
            result = _joined(result, more)
        # NOTE: still deleted after every listing (compactions kept running): say so, rather
        # than lose their rows without a word.
        result.problems.extend(
            StoreProblem(
                backend.location(key),
                f"deleted while being read and not found again after {_RELISTS} listings "
                "(compactions kept running): its rows may be missing; run the command again",
            )
            for key in result.missing
        )
        self.problems.extend(result.problems)
        return result

    def events(
        self,
        backend: Backend,
        table: tables.Table,
        scope: Scope,
        keys: list[str] | None = None,
    ) -> dict[Group, pl.DataFrame | None]:
        """Each group's rows of ``table`` timed in the scope, the copy stored last of each
        (None: no part in the range); ``keys``: its parts as already listed (read as listed;
        a part deleted meanwhile is looked for by listing as usual)."""
        listed = [] if keys is None else [list(keys)]

        def listing() -> list[str]:
            if listed:
                return listed.pop()
            return part_keys(backend, table, scope.first_day, scope.last_day)

        def keep(part: pl.DataFrame) -> pl.DataFrame:
            return scope.within(self.scoped(part, scope), "timestamp")

        read = self.read(backend, table, listing, keep, by=scope.by)

        def latest(frame: pl.DataFrame | None) -> pl.DataFrame | None:
            if frame is None:
                return None
            rows = latest_rows(frame, table)
            return rows.sort("timestamp", nulls_last=False, maintain_order=True)

        return {group: latest(read.take(group)) for group in scope.groups}

    def state(
        self, backend: Backend, table: tables.Table, scope: Scope
    ) -> dict[Group, pl.DataFrame | None]:
        """Each group's latest configuration stored up to the scope's end (None: none)."""

        def listing() -> list[str]:
            keys = part_keys(backend, table, None, scope.last_day)
            in_range = [k for k in keys if layout.within_days(k, scope.first_day, None)]
            if not in_range and keys:
                newest = max(layout.key_date(key) or date.min for key in keys)
                in_range = [k for k in keys if layout.key_date(k) == newest]
            return in_range

        read = self.read(
            backend, table, listing, lambda part: self.scoped(part, scope), by=scope.by
        )
        return {
            group: None if (rows := read.take(group)) is None else latest_rows(rows, table)
            for group in scope.groups
        }


_RELISTS = 3  # NOTE: each one follows a compaction that ran during the read


def _joined(first: TableRead, second: TableRead, *, last: bool = False) -> TableRead:
    """Both reads' rows (of each group) and problems; ``missing`` is the second's (``last``:
    both's)."""

    def both(one: pl.DataFrame | None, other: pl.DataFrame | None) -> pl.DataFrame | None:
        frames = [frame for frame in (one, other) if frame is not None]
        return contiguous(frames) if len(frames) > 1 else (frames[0] if frames else None)

    groups = {
        group: both(first.groups.get(group), second.groups.get(group))
        for group in {**first.groups, **second.groups}
    }
    return TableRead(
        frame=both(first.frame, second.frame),
        parts=first.parts + second.parts,
        problems=[*first.problems, *second.problems],
        missing=[*first.missing, *second.missing] if last else second.missing,
        groups={group: frame for group, frame in groups.items() if frame is not None},
    )


def load(
    backend: Backend, scope: Scope, *, analysed_columns_only: bool = False
) -> tuple[Inputs, list[StoreProblem]]:
    """The inputs stored in ``scope``, and the files that could not be read; with
    ``analysed_columns_only``, the spans' ``UNANALYSED_SPAN_COLUMNS`` are nulls, not read, and
    their ``CATEGORICAL_SPAN_COLUMNS`` categorical."""
    each, problems = _load(backend, replace(scope, targets=()), analysed_columns_only)
    return each[()], problems


def load_each(
    backend: Backend,
    scope: Scope,
    targets: Sequence[Target],
    *,
    analysed_columns_only: bool = False,
) -> tuple[dict[Target, Inputs], list[StoreProblem]]:
    """The inputs of each of ``targets`` stored in ``scope`` (as :func:`load` gives them with
    the scope's account and region set to that target's), from one read of each table: a part
    holds the rows of every target, so a load per target read every part once per target.
    The files that could not be read are every target's."""
    if not targets:
        return {}, []
    scoped = replace(scope, account=None, region=None, targets=tuple(dict.fromkeys(targets)))
    each, problems = _load(backend, scoped, analysed_columns_only)
    return {(group[0], group[1]): inputs for group, inputs in each.items()}, problems


def _load(
    backend: Backend, scope: Scope, analysed_columns_only: bool
) -> tuple[dict[Group, Inputs], list[StoreProblem]]:
    """The inputs of each of ``scope.groups``, and the files that could not be read."""
    loaded = _Loaded()
    skipped = UNANALYSED_SPAN_COLUMNS if analysed_columns_only else ()
    categorical = CATEGORICAL_SPAN_COLUMNS if analysed_columns_only else ()
    traces = _traces(loaded, backend, scope, skipped=skipped, categorical=categorical)
    reports = loaded.events(backend, tables.LOG_REPORTS, scope)
    events = loaded.events(backend, tables.LOG_EVENTS, scope)
    metrics = loaded.events(backend, tables.METRICS, scope)
    functions = loaded.state(backend, tables.FUNCTIONS, scope)
    limits = loaded.state(backend, tables.ACCOUNT_LIMITS, scope)
    reads = loaded.events(backend, tables.TRACE_READS, scope)
    each: dict[Group, Inputs] = {}
    for group in scope.groups:
        # NOTE: popped: each group's frames are released as its inputs are made.
        own_reads = reads.pop(group)
        if own_reads is not None:
            traces[group].read_stats.paths.update(_paths_read(own_reads))
        logs = None
        own_reports, own_events = reports.pop(group), events.pop(group)
        if own_reports is not None or own_events is not None:
            logs = LambdaLogs(
                reports=conform(_or_empty(own_reports, REPORT_SCHEMA), REPORT_SCHEMA),
                events=conform(_or_empty(own_events, LOG_EVENT_SCHEMA), LOG_EVENT_SCHEMA),
            )
        own_metrics = metrics.pop(group)
        region = group[1] if group else scope.region
        if region is None and len(loaded.regions) == 1:
            region = next(iter(loaded.regions))
        each[group] = Inputs(
            traces=traces.pop(group),
            logs=logs,
            metrics=None if own_metrics is None else conform(own_metrics, tables.METRICS.schema),
            functions=_inventory(functions.pop(group), limits.pop(group)),
            region=region,
            trace_destinations=_destinations(own_reads) if own_reads is not None else (),
        )
    return each, loaded.problems


def load_traces(
    backend: Backend,
    scope: Scope,
    *,
    prefix: str | None = None,
    keys: list[str] | None = None,
    with_target: bool = False,
    analysed_columns_only: bool = False,
) -> tuple[TraceInput, list[StoreProblem]]:
    """The whole traces stored in ``scope`` (as :func:`load` reads them), without the other
    tables, and the span parts that could not be read; with ``prefix`` (a ``spans/date=`` or
    ``spans/date=/bucket=`` directory), only the span parts under it, listed there alone.

    ``keys``: the span parts already listed (they are read without listing again; a part
    deleted meanwhile is looked for by listing as usual). ``with_target``: the spans keep the
    account and region columns (``tables.ACCOUNT``, ``tables.REGION``) after ``SPAN_SCHEMA``'s.
    ``analysed_columns_only``: as :func:`load`'s (for the analyses and rollups only).
    """
    loaded = _Loaded()
    traces = _traces(
        loaded,
        backend,
        replace(scope, targets=()),
        prefix,
        keys=keys,
        with_target=with_target,
        skipped=UNANALYSED_SPAN_COLUMNS if analysed_columns_only else (),
        categorical=CATEGORICAL_SPAN_COLUMNS if analysed_columns_only else (),
    )
    return traces[()], loaded.problems


def load_reports(
    backend: Backend, scope: Scope, *, keys: list[str] | None = None
) -> tuple[pl.DataFrame | None, list[StoreProblem]]:
    """The Lambda REPORT records stored in ``scope`` as :func:`load` reads them (the copy
    stored last of each; a REPORT without a time is kept with its day), with the account and
    region columns (``tables.ACCOUNT``, ``tables.REGION``) after ``REPORT_SCHEMA``'s (None:
    no part), and the parts that could not be read. ``keys``: the parts already listed."""
    loaded = _Loaded()
    reports = loaded.events(backend, tables.LOG_REPORTS, replace(scope, targets=()), keys)[()]
    if reports is None:
        return None, loaded.problems
    target = {tables.ACCOUNT: pl.String(), tables.REGION: pl.String()}
    return conform(reports, {**REPORT_SCHEMA, **target}), loaded.problems


def _paths_read(reads: pl.DataFrame) -> dict[str, int]:
    """Documents read per trace path by the runs in scope (a window read again counts once)."""
    sums = (
        reads.filter(pl.col("path").is_not_null())
        .group_by("path")
        .agg(pl.col("documents").fill_null(0).sum())
    )
    return {str(path): int(count) for path, count in sums.iter_rows()}


def _destinations(reads: pl.DataFrame) -> tuple[TraceDestination, ...]:
    """The latest destination answer in scope of each account and region."""
    answers = (
        reads.filter(pl.col("path").is_null() & pl.col("destination").is_not_null())
        .sort("timestamp", tables.STORED_AT, nulls_last=False)
        .unique([tables.ACCOUNT, tables.REGION], keep="last", maintain_order=True)
    )
    return tuple(
        TraceDestination(
            account=row[tables.ACCOUNT],
            region=row[tables.REGION],
            destination=row["destination"],
            status=row["destination_status"],
            indexed_percent=row["indexed_percent"],
        )
        for row in answers.iter_rows(named=True)
    )


_NEXT_TO_FIRST_NUMBER = 1 << 30
"""Where the parts of the days next to a window are numbered from (apart from its own)."""


def _next_to(
    loaded: _Loaded,
    backend: Backend,
    scope: Scope,
    keep: Callable[[pl.DataFrame], pl.DataFrame],
    columns: list[str],
    convert: Callable[[pl.DataFrame], pl.DataFrame],
    *,
    tree: list[str],
    by: tuple[str, ...] = (),
) -> TableRead:
    """The spans of the traces starting in ``scope`` that are dated the day before it (split
    ``by`` those columns, as :func:`read_table`).

    A trace is dated by the time in its id (:func:`tracelens.store.derive.trace_days`), which
    may be up to ``ID_TIME_AFTER`` (a day) before its earliest stored span (when the span that
    began it is not stored), never after it. The trace ids and starts of the day before are
    read first (those columns only, and the target's when the scope picks targets); the parts
    holding a trace starting in the window are then read, and only that trace's rows kept.

    ``tree``: the spans table's listing the window's own read made (the day before is taken
    from it, not listed again).
    """
    first = scope.first_day
    if first is None:
        return TableRead()
    before = first - timedelta(days=1)
    listed = sorted(dated_parts(tree, before, before))

    def starts_of(part: pl.DataFrame) -> pl.DataFrame:
        # NOTE: a row per trace of each part, not per span: the day is read for a few traces
        return scope.where(part).group_by("trace_id").agg(pl.col("start_time").min())

    columns_read = ["trace_id", "start_time"]  # and those scope.where filters by
    if scope.account is not None or scope.targets:
        columns_read.append(tables.ACCOUNT)
    if scope.region is not None or scope.targets:
        columns_read.append(tables.REGION)
    probe = read_table(backend, tables.SPANS, listed, starts_of, columns_read)
    loaded.problems.extend(probe.problems)
    if probe.frame is None:
        return TableRead()
    starts = probe.frame.group_by("trace_id").agg(
        pl.col("start_time").min().alias("trace_start"), pl.col(tables.PART).unique()
    )
    inside = scope.within(starts, "trace_start").filter(pl.col("trace_start").is_not_null())
    if not inside.height:
        return TableRead()
    wanted = inside.get_column("trace_id")
    numbers = set(inside.get_column(tables.PART).explode().to_list())
    holding = [key for number, key in enumerate(listed) if number in numbers]

    def kept(part: pl.DataFrame) -> pl.DataFrame:
        return keep(part.filter(pl.col("trace_id").is_in(wanted.implode())))

    return loaded.read(
        backend,
        tables.SPANS,
        lambda: holding,
        kept,
        columns,
        convert,
        first_number=_NEXT_TO_FIRST_NUMBER,
        by=by,
    )


def _or_empty(frame: pl.DataFrame | None, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return frame if frame is not None else empty_frame(schema)


def _traces(
    loaded: _Loaded,
    backend: Backend,
    scope: Scope,
    prefix: str | None = None,
    *,
    skipped: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    keys: list[str] | None = None,
    with_target: bool = False,
) -> dict[Group, TraceInput]:
    listed = [] if keys is None else [list(keys)]
    # NOTE: the spans table's latest listing, of the scope's days and the one before (a
    # short range's days alone): the day before is taken from it (_next_to)
    tree: list[str] = []

    def listing() -> list[str]:
        if listed:
            return listed.pop()
        if prefix is not None:
            return [key for key in backend.list_keys(prefix) if layout.part_digest(key)]
        first, last = scope.first_day, scope.last_day
        before = None if first is None else first - timedelta(days=1)
        tree[:] = listed_days(backend, tables.SPANS, before, last)
        return dated_parts(tree, first, last)

    rejections = {group: RejectionLog() for group in scope.groups}

    # NOTE: spans are kept per segment document, not per account and region: those columns
    # are read only to filter by them (the region column alone names the regions seen), or
    # to tell the targets apart.
    columns = [*(c for c in SPAN_SCHEMA if c not in skipped), tables.STORED_AT, tables.REGION]
    if scope.account is not None or with_target or scope.targets:
        columns.append(tables.ACCOUNT)
    target = (tables.ACCOUNT, tables.REGION) if with_target else ()

    def convert(part: pl.DataFrame) -> pl.DataFrame:
        # NOTE: each part is cast as it is read: the text form of the whole never exists.
        scoped = scope.where(part)
        return (
            scoped.with_columns(pl.col(categorical).cast(pl.Categorical)) if categorical else scoped
        )

    def keep(part: pl.DataFrame) -> pl.DataFrame:
        scoped = loaded.noted(part)
        if not with_target and not scope.targets:
            scoped = scoped.drop(tables.REGION, tables.ACCOUNT, strict=False)
        # Rows stored before ingest refused impossible times are refused as ingest would.
        impossible = scoped.filter(~valid_times())
        for row in impossible.select("trace_id", "id", *scope.by).iter_rows():
            rejections[row[2:]].add("store", f"trace {row[0]} id {row[1]}", IMPOSSIBLE_TIMES)
        return scoped.filter(valid_times()) if impossible.height else scoped

    read = loaded.read(backend, tables.SPANS, listing, keep, columns, convert, by=scope.by)
    if scope.timed and prefix is None and keys is None:
        beside = _next_to(loaded, backend, scope, keep, columns, convert, tree=tree, by=scope.by)
        read = _joined(read, beside, last=True)
    each: dict[Group, TraceInput] = {}
    for group in scope.groups:
        frame = read.take(group)
        if frame is not None and scope.by:
            # NOTE: a group's rows made contiguous one group at a time (the list alone holds
            # them, so each column's chunks are released as it is copied)
            taken, frame = [frame], None
            frame = contiguous(taken)
        if frame is not None and scope.by and not with_target:
            frame = frame.drop(*scope.by)
        each[group] = _trace_input(
            frame, scope, rejections[group], parts=read.parts, skipped=skipped, target=target
        )
    return each


def _trace_input(
    frame: pl.DataFrame | None,
    scope: Scope,
    rejections: RejectionLog,
    *,
    parts: int,
    skipped: tuple[str, ...],
    target: tuple[str, ...],
) -> TraceInput:
    """One group's spans read (None: no part read) as a :class:`TraceInput`: whole traces
    starting in the scope, one copy of each segment."""
    empty = {**SPAN_SCHEMA, **{name: tables.SPANS.stored_schema[name] for name in target}}
    spans, duplicates = empty_frame(empty), 0
    if frame is not None:
        spans = frame
        if scope.timed:
            starts = spans.group_by("trace_id").agg(pl.col("start_time").min().alias("trace_start"))
            inside = scope.within(starts, "trace_start").select("trace_id")
            if inside.height < starts.height:  # NOTE: else every row stays: no copy
                spans = spans.join(inside, on="trace_id", how="semi", maintain_order="left")
        spans, duplicates = unique_segments(spans)
    segments = int(spans.select((pl.col("depth") == 0).sum()).item())
    return TraceInput(
        spans=spans.select(
            [
                # NOTE: a literal null column is not materialised: it costs nothing per row.
                pl.lit(None, dtype=dtype).alias(name) if name in skipped else pl.col(name)
                for name, dtype in SPAN_SCHEMA.items()
            ]
            + [pl.col(name) for name in target]
        ),
        documents=segments + duplicates,
        segments=segments,
        duplicates=duplicates,
        rejections=rejections,
        sources=parts,
        documents_known=False,
    )


def _inventory(
    functions: pl.DataFrame | None, limits: pl.DataFrame | None
) -> FunctionInventory | None:
    if functions is None and limits is None:
        return None
    frame = _or_empty(functions, tables.FUNCTIONS.stored_schema).sort("function_name")
    latest = None
    if limits is not None and limits.height:
        latest = limits.sort(tables.STORED_AT, descending=True).row(0, named=True)
    return FunctionInventory(
        functions=conform(frame, tables.FUNCTIONS.schema),
        account_concurrency_limit=latest["account_concurrency_limit"] if latest else None,
        unreserved_concurrency_limit=latest["unreserved_concurrency_limit"] if latest else None,
    )
