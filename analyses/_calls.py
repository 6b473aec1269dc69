"""The span tree with call context: which rows are downstream calls and what each call reaches.

Shared by the service map, the critical path and the DNS analyses so that all three name
nodes the same way. Node names follow X-Ray's service graph:

- a segment is the node ``(name, origin)``; segments without ``origin`` get ``SERVICE_TYPE``;
- one function is one node, ``(function, AWS::Lambda::Function)``: the Lambda service's
  ``AWS::Lambda`` segment in front of it (even one named ``Lambda``, named by its
  ``function_name``, from its ARN), X-Ray's inferred ``AWS::Lambda`` segment of an ``Invoke``
  and an ``Invoke`` call itself all reach the function's node, whether or not the function's
  own segment was recorded. What happened in the service before the function ran is told by
  the span's ``origin`` (the critical path's ``lambda_service`` time, the service map's
  ``service_*`` columns);
- a call (the outermost ``aws``/``remote`` subsegment; nested steps such as ``connect`` or
  ``dns`` belong to it) reaches, in this order of preference: the node of the inferred segment
  X-Ray derived from it, a queue or topic (``MESSAGING_TYPES``: their consumers are downstream
  of them, not of the caller), the node of a segment whose parent is inside the call (an
  ``AWS::Lambda`` segment, an instrumented service), or a node derived from the call itself.
  Derived nodes: DynamoDB by table (``AWS::DynamoDB::Table``; without a table
  ``AWS::DynamoDB``), SQS by queue name (``AWS::SQS::Queue``), SNS as ``SNS`` (``AWS::SNS``,
  as GetServiceGraph shows it), Lambda by function name (``AWS::Lambda::Function``), other
  AWS services by the subsegment name (``AWS::<name>``), remote calls by host (``remote``).
"""

from __future__ import annotations

import polars as pl

from analyses._frames import text
from analyses._tree import ancestor_fold, parent_rows
from analyses.memo import memoized

CALL_NAMESPACES = ("aws", "remote")
CLIENT_TYPE = "client"
REMOTE_TYPE = "remote"
SERVICE_TYPE = "service"
INIT_NAMES = ("Initialization", "Restore")
MESSAGING_TYPES = ("AWS::SQS::Queue", "AWS::SQS", "AWS::SNS")
FUNCTION_ORIGIN = "AWS::Lambda::Function"
LAMBDA_SERVICE_ORIGIN = "AWS::Lambda"

_QUEUE_NAME = r"([^/:]+)/?$"

# True on a ``span_tree`` row that is an outermost call (not nested inside another call).
OUTERMOST_CALL = pl.col("is_call") & (pl.col("call_row") == pl.col("row"))


# An outermost call's row and its own columns its target is derived from.
_CALL_COLUMNS = ("row", "name", "namespace", "host", "aws_resource", "function_name")

# The span columns the tree-based analyses read; the others are not carried along.
TREE_COLUMNS = (
    "trace_id",
    "id",
    "parent_id",
    "kind",
    "name",
    "origin",
    "namespace",
    "start_time",
    "end_time",
    "duration_ms",
    "error",
    "fault",
    "throttle",
    "inferred",
    "http_method",
    "http_url",
    "aws_operation",
    "aws_resource",
    "function_name",
    "host",
    "exception_count",
    "resource_type",
    "resource_id",
    "dns_answer",
)


@memoized
def span_tree(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans with links and call context, one row per span.

    Inferred segments stay in the frame (``inferred`` is true, never null) because they name
    call targets; every consumer leaves them out of counts and paths.

    Added columns: ``row``, ``parent_row`` (see ``_tree.parent_rows``), ``local_parent`` (the parent
    while inside one segment's subsegment tree), ``is_call`` (an ``aws``/``remote``
    subsegment), ``call_row`` (the outermost call enclosing the row, itself included),
    ``owner_row`` (the segment the row belongs to), ``node_type`` (segments: origin or
    ``SERVICE_TYPE``), ``via_call`` (non-inferred segments whose parent is inside a call: that
    call's row), and for outermost call rows ``target``, ``target_type``, ``relays`` (the
    target is a node of its own that passes the call on to the segments under the call: an
    inferred segment's node, a queue, a topic) and ``target_is_segment`` (the target is the
    node of a segment under the call).
    """
    subsegment = pl.col("kind") == "subsegment"
    # NOTE: Lambda's service segment is sometimes named "Lambda" with the function only in
    # its ARN: named by its function, so that one function is one node whatever its segments.
    service_segment = (pl.col("kind") == "segment") & (pl.col("origin") == LAMBDA_SERVICE_ORIGIN)
    renamed = service_segment & pl.col("function_name").is_not_null()
    renamed &= pl.col("function_name").ne_missing(pl.col("name"))
    columns = spans.select(TREE_COLUMNS).with_columns(pl.col("inferred").fill_null(False))
    # NOTE: most service segments are named by their function already: then the spans' own
    # names are kept (a new column of names costs ~40 MB at a million segments).
    if spans.select(renamed.fill_null(False).any()).item():
        columns = columns.with_columns(
            pl.when(service_segment.fill_null(False))
            .then(pl.coalesce("function_name", "name"))
            .otherwise(pl.col("name"))
            .alias("name")
        )
    tree = (
        columns.with_row_index("row")
        .with_columns(parent_rows(spans))
        .with_columns(
            is_call=(subsegment & pl.col("namespace").is_in(CALL_NAMESPACES)).fill_null(False),
            local_parent=pl.when(subsegment).then(pl.col("parent_row")),
        )
    )
    tree = tree.with_columns(_segment_node_types(tree))
    call_seed = tree.select(pl.when(pl.col("is_call")).then(pl.col("row")).alias("call_row"))
    owner_seed = tree.select(
        pl.when(pl.col("kind") == "segment").then(pl.col("row")).alias("owner_row")
    )
    tree = tree.with_columns(
        ancestor_fold(call_seed.to_series(), tree["local_parent"], kind="outermost"),
        ancestor_fold(owner_seed.to_series(), tree["parent_row"], kind="nearest"),
    )
    tree = tree.with_columns(
        via_call=pl.when(
            (pl.col("kind") == "segment")
            & (pl.col("kind") == "subsegment").gather(pl.col("parent_row"))
        ).then(pl.col("call_row").gather(pl.col("parent_row")))
    )
    return _attach_targets(tree)


def outermost_calls(tree: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """The outermost call rows of a ``span_tree`` with only ``columns``.

    The frame is narrowed before it is filtered: a filter copies every column it carries.
    """
    return tree.select(*columns).filter(tree.select(OUTERMOST_CALL).to_series())


def _attach_targets(tree: pl.DataFrame) -> pl.DataFrame:
    # NOTE: frames are narrowed before filtering: a filter copies every column it carries.
    under_calls = tree.select(
        "via_call", "inferred", "start_time", "name", "origin", "aws_resource", "node_type"
    ).filter(pl.col("via_call").is_not_null())
    inferred_first = _first_under_call(
        under_calls.filter(pl.col("inferred")),
        inferred_name="name",
        inferred_origin="origin",
        inferred_resource="aws_resource",
    )
    child_first = _first_under_call(
        under_calls.filter(~pl.col("inferred")), child_name="name", child_type="node_type"
    )
    calls = (
        outermost_calls(tree, *_CALL_COLUMNS)
        .join(inferred_first, left_on="row", right_on="via_call", how="left")
        .join(child_first, left_on="row", right_on="via_call", how="left")
    )
    # NOTE: a call's target depends only on these descriptive columns, which take few
    # distinct values: targets are derived once per distinct combination.
    facts = [column for column in calls.columns if column != "row"]
    # NOTE: as text, whether the span columns are String or Categorical.
    distinct = calls.group_by(facts).agg("row").with_columns(pl.col(facts).cast(pl.String))
    targets = _targets(distinct).with_row_index("group")
    rows = targets.select("group", "row").explode("row")
    group = pl.repeat(None, tree.height, dtype=pl.UInt32, eager=True).scatter(
        rows["row"], rows["group"]
    )
    # NOTE: gathered from one small chunk, every row shares its target's bytes (gather_views).
    return tree.with_columns(
        targets[column].rechunk().gather(group)
        for column in ("target", "target_type", "relays", "target_is_segment")
    )


def _segment_node_types(tree: pl.DataFrame) -> pl.Series:
    """``node_type`` per row: a segment's origin as a node type, null for subsegments.

    NOTE: gathered from the few distinct types, so that every row shares its type's bytes
    (a string built per row costs ~60 MB more at a million segments).
    """
    segment = pl.col("kind") == "segment"
    origins = tree.select(
        pl.col("origin").filter(segment).drop_nulls().unique(maintain_order=True)
    ).to_series()
    types = pl.concat(
        [
            origins.to_frame().select(_node_type(pl.col("origin")).cast(pl.String)).to_series(),
            pl.Series([SERVICE_TYPE]),
        ]
    ).rechunk()
    codes = pl.int_range(origins.len(), dtype=pl.UInt32, eager=True)
    type_of_row = tree.select(
        pl.when(segment).then(
            pl.col("origin").replace_strict(origins, codes, default=None).fill_null(origins.len())
        )
    )
    return types.gather(type_of_row.to_series()).alias("node_type")


def _first_under_call(segments: pl.DataFrame, **columns: str) -> pl.DataFrame:
    """Per ``via_call``: ``columns`` (new name: column) of its earliest segment."""
    picked = [pl.col(column).alias(name) for name, column in columns.items()]
    # NOTE: a call is nearly always the parent of one such segment: then no sort is needed.
    if segments["via_call"].n_unique() == segments.height:
        return segments.select("via_call", *picked)
    return (
        segments.sort("start_time", nulls_last=True)
        .group_by("via_call")
        .agg(expr.first() for expr in picked)
    )


def _targets(calls: pl.DataFrame) -> pl.DataFrame:
    """``calls`` with ``target``, ``target_type``, ``relays`` and ``target_is_segment``."""
    return (
        calls.with_columns(service=text("name").str.to_lowercase())
        .with_columns(derived_name=_derived_name(), derived_type=_derived_type())
        .with_columns(
            has_inferred=pl.col("inferred_name").is_not_null(),
            messaging=pl.col("derived_type").is_in(MESSAGING_TYPES),
        )
        .with_columns(
            relays=pl.col("has_inferred") | pl.col("messaging"),
            to_child=~pl.col("has_inferred")
            & ~pl.col("messaging")
            & pl.col("child_name").is_not_null(),
        )
        .select(
            *calls.columns,
            pl.when(pl.col("has_inferred"))
            .then(_inferred_name())
            .when(pl.col("to_child"))
            .then(pl.col("child_name"))
            .otherwise(pl.col("derived_name"))
            .alias("target"),
            pl.when(pl.col("has_inferred"))
            .then(_node_type(pl.col("inferred_origin")).fill_null(REMOTE_TYPE))
            .when(pl.col("to_child"))
            .then(pl.col("child_type"))
            .otherwise(pl.col("derived_type"))
            .alias("target_type"),
            "relays",
            "to_child",
        )
        # NOTE: an inferred segment naming the node of a segment under the call (X-Ray's
        # inferred "Lambda" beside the function's own segments) is that segment's node too:
        # the segment, not the call, counts the request.
        .with_columns(
            (
                pl.col("to_child")
                | (
                    (pl.col("child_name") == pl.col("target"))
                    & (pl.col("child_type") == pl.col("target_type"))
                ).fill_null(False)
            ).alias("target_is_segment")
        )
        .drop("to_child")
    )


def _node_type(origin: pl.Expr) -> pl.Expr:
    """The node type of a segment's origin: the Lambda service's is its function's."""
    return pl.when(origin == LAMBDA_SERVICE_ORIGIN).then(pl.lit(FUNCTION_ORIGIN)).otherwise(origin)


def _queue_name(column: str) -> pl.Expr:
    return text(column).str.extract(_QUEUE_NAME, 1)


def _inferred_name() -> pl.Expr:
    origin = pl.col("inferred_origin")
    resource = pl.coalesce("inferred_resource", "aws_resource")
    return (
        pl.when(origin == "AWS::DynamoDB::Table")
        .then(pl.coalesce(resource, "inferred_name"))
        .when(origin == "AWS::SQS::Queue")
        .then(pl.coalesce(resource.cast(pl.String).str.extract(_QUEUE_NAME, 1), "inferred_name"))
        .otherwise(pl.col("inferred_name"))
    )


def _service() -> pl.Expr:
    return pl.col("service")


def _derived_name() -> pl.Expr:
    return (
        pl.when(pl.col("namespace") == "remote")
        .then(pl.coalesce("host", "name"))
        .when(_service() == "dynamodb")
        .then(pl.coalesce("aws_resource", pl.lit("DynamoDB")))
        .when(_service() == "sqs")
        .then(pl.coalesce(_queue_name("aws_resource"), pl.lit("SQS")))
        .when(_service() == "sns")
        .then(pl.lit("SNS"))
        .when(_service() == "lambda")
        .then(pl.coalesce("function_name", "aws_resource", "name"))
        .otherwise(pl.col("name"))
    )


def _derived_type() -> pl.Expr:
    resource = pl.col("aws_resource").is_not_null()
    return (
        pl.when(pl.col("namespace") == "remote")
        .then(pl.lit(REMOTE_TYPE))
        .when(_service() == "dynamodb")
        .then(
            pl.when(resource)
            .then(pl.lit("AWS::DynamoDB::Table"))
            .otherwise(pl.lit("AWS::DynamoDB"))
        )
        .when(_service() == "sqs")
        .then(pl.when(resource).then(pl.lit("AWS::SQS::Queue")).otherwise(pl.lit("AWS::SQS")))
        .when(_service() == "sns")
        .then(pl.lit("AWS::SNS"))
        .when(_service() == "lambda")
        .then(pl.lit(FUNCTION_ORIGIN))
        .otherwise(pl.lit("AWS::") + pl.col("name"))
    )
