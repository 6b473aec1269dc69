"""The span tree's outermost calls: what the service map, loops and DNS analyses count."""

from __future__ import annotations

from analyses._calls import outermost_calls, span_tree
from tests.builders.spans import SpanBuilder


def test_outermost_calls_leave_out_nested_calls_and_carry_only_the_named_columns() -> None:
    b = SpanBuilder()
    caller = b.caller("checkout")
    top = caller.parent_id

    def child(parent: str, name: str, namespace: str | None) -> str:
        fields = {"trace_id": caller.trace_id, "parent_id": parent, "namespace": namespace}
        return b.span(name=name, start_s=0.1, duration_ms=5.0, **fields)

    s3 = child(top, "S3", "aws")
    child(s3, "S3", "aws")  # a call recorded inside a call (an SDK retry) is part of it
    child(top, "marshal", None)
    remote = child(top, "api.example.com", "remote")
    tree = span_tree(b.frame())
    calls = outermost_calls(tree, "row", "name")
    assert calls.columns == ["row", "name"]
    assert sorted(tree["id"].gather(calls["row"]).to_list()) == sorted([s3, remote])
