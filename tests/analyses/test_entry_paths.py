"""Entry points group requests by route: ids in URL paths become `{id}`."""

from __future__ import annotations

import polars as pl
import pytest

from analyses.bottlenecks import _ID_SEGMENT


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/orders/o-104803/ship/", "/orders/{id}/ship/"),
        ("/v2/items/12/", "/v2/items/{id}/"),
        ("/users/6f1c2a9e-1b2c-4d5e-8f90-0123456789ab/", "/users/{id}/"),
        ("/days/2026-11-20/", "/days/{id}/"),
        ("/api/user/", "/api/user/"),
        ("/a/abc1/", "/a/abc1/"),
    ],
)
def test_ids_in_paths_are_replaced(path: str, expected: str) -> None:
    assert pl.Series([path]).str.replace_all(_ID_SEGMENT, "/{id}/").item() == expected
