"""Every function name Lambda accepts (1-64 of [A-Za-z0-9_-]) is taken as it is, never cut."""

from __future__ import annotations

import polars as pl
import pytest

from tracelens.sideinputs._common import LOG_GROUP_PATTERN, function_from_log_group

ODD_NAMES = ["-", "_", "9", "9-_", "a" * 64, "My_Function-1", "us-east-1", "--x--"]


@pytest.mark.parametrize("name", ODD_NAMES)
@pytest.mark.parametrize(
    "group",
    [
        "/aws/lambda/{}",
        "123456789012:/aws/lambda/{}",  # Logs Insights @log
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{}:*",
        "/aws/lambda/us-east-1.{}",  # Lambda@Edge
    ],
)
def test_every_valid_name_is_read_from_its_log_group_as_is(name: str, group: str) -> None:
    text = group.format(name)
    assert function_from_log_group(text) == name
    assert pl.select(pl.lit(text).str.extract(LOG_GROUP_PATTERN)).item() == name


@pytest.mark.parametrize(
    "group", ["/aws/lambda/team/orders", "/aws/lambda/" + "a" * 65, "/aws/lambda/orders.v2"]
)
def test_a_group_naming_no_valid_function_names_none_rather_than_part_of_one(group: str) -> None:
    assert function_from_log_group(group) is None
    assert pl.select(pl.lit(group).str.extract(LOG_GROUP_PATTERN)).item() is None
