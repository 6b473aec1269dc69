"""Side inputs: function names from file names and log groups."""

from __future__ import annotations

import pytest

from tracelens.sideinputs._common import function_from_file_name, function_from_log_group


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("exports/checkout.log", "checkout"),
        ("orders_v2.txt.gz", "orders_v2"),
        ("my-fn.json", "my-fn"),
        ("search.jsonl", "search"),
        ("bad name.log", None),
        ("checkout", None),
        ("checkout.csv", None),
        ("<stdin>", None),
    ],
)
def test_function_name_from_file_name(name: str, expected: str | None) -> None:
    assert function_from_file_name(name) == expected


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("/aws/lambda/checkout", "checkout"),
        ("123456789012:/aws/lambda/search", "search"),
        ("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/notify:*", "notify"),
        ("/aws/lambda/us-east-1.edge-auth", "edge-auth"),
        ("/ecs/web", None),
        (None, None),
    ],
)
def test_function_name_from_log_group(group: str | None, expected: str | None) -> None:
    assert function_from_log_group(group) == expected
