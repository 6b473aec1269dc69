"""A window against a baseline: per entry point, function and edge, and findings new or gone."""

from __future__ import annotations

import polars as pl

from analyses.compare import (
    compare_edges,
    compare_entry_points,
    compare_findings,
    compare_functions,
)
from analyses.entry_points import ENTRY_POINT_SCHEMA
from analyses.finding_format import FINDING_SCHEMA
from analyses.functions import FUNCTION_TABLE_SCHEMA
from analyses.service_map import EDGE_SCHEMA
from tests.builders.spans import frame_of


def _entries(*rows: dict[str, object]) -> pl.DataFrame:
    return frame_of([{"entry_type": "API route", **r} for r in rows], ENTRY_POINT_SCHEMA)


def test_entry_points_side_by_side_worst_rise_first() -> None:
    base = _entries(
        {"entry": "GET /a", "requests": 100, "errors": 1, "faults": 0, "p95_ms": 50.0},
        {"entry": "GET /b", "requests": 10, "errors": 0, "faults": 0, "p95_ms": 40.0},
        {"entry": "GET /old", "requests": 5, "errors": 0, "faults": 0},
    )
    now = _entries(
        {"entry": "GET /a", "requests": 100, "errors": 1, "faults": 0, "p95_ms": 90.0},
        {"entry": "GET /b", "requests": 10, "errors": 2, "faults": 3, "p95_ms": 40.0,
         "throttled": 1},
        {"entry": "GET /new", "requests": 7, "errors": 0, "faults": 0},
    )  # fmt: skip
    table = compare_entry_points(base, now)
    assert table["entry"].to_list() == ["GET /b", "GET /a", "GET /new", "GET /old"]
    rows = {r["entry"]: r for r in table.to_dicts()}
    assert (rows["GET /b"]["error_rate_base"], rows["GET /b"]["error_rate_now"]) == (0.0, 0.5)
    assert (rows["GET /a"]["p95_ms_base"], rows["GET /a"]["p95_ms_now"]) == (50.0, 90.0)
    assert rows["GET /new"]["status"] == "new" and rows["GET /new"]["requests_base"] is None
    assert rows["GET /old"]["status"] == "gone" and rows["GET /old"]["requests_now"] is None
    assert rows["GET /a"]["status"] == "both"


def test_functions_and_edges_compare_on_their_keys() -> None:
    base = frame_of([{"function_name": "f", "invocations": 10, "errors": 1}], FUNCTION_TABLE_SCHEMA)
    now = frame_of([{"function_name": "f", "invocations": 20, "faults": 4}], FUNCTION_TABLE_SCHEMA)
    row = compare_functions(base, now).row(0, named=True)
    assert (row["requests_base"], row["requests_now"]) == (10, 20)
    assert (row["error_rate_base"], row["error_rate_now"]) == (0.1, 0.2)
    edge = {"source": "a", "source_type": "client", "target": "b", "target_type": "t"}
    edges = compare_edges(
        frame_of([{**edge, "calls": 4, "throttles": 0}], EDGE_SCHEMA),
        frame_of([{**edge, "calls": 4, "throttles": 2}], EDGE_SCHEMA),
    ).row(0, named=True)
    assert (edges["throttled_base"], edges["throttled_now"], edges["status"]) == (0, 2, "both")
    assert edges["cold_starts_now"] is None  # edges have no cold starts: unknown, not zero


def test_findings_new_gone_and_still() -> None:
    def findings(*subjects: str) -> pl.DataFrame:
        return frame_of(
            [{"severity": "warning", "kind": "dns", "subject": s, "message": s} for s in subjects],
            FINDING_SCHEMA,
        )

    changes = compare_findings(findings("kept", "fixed"), findings("kept", "broke"))
    assert list(zip(changes["status"], changes["subject"], strict=True)) == [
        ("new", "broke"),
        ("gone", "fixed"),
        ("still", "kept"),
    ]


def test_a_throttled_count_that_is_a_lower_bound_has_no_known_change() -> None:
    def functions(*rows: dict[str, object]) -> pl.DataFrame:
        return frame_of([{"invocations": 10, **r} for r in rows], FUNCTION_TABLE_SCHEMA)

    base = functions(
        {"function_name": "bounded", "throttled": 2},
        {"function_name": "exact", "throttled": 2},
        {"function_name": "was-bounded", "throttled": 4, "throttled_retries_unknown": 1},
    )
    now = functions(
        {"function_name": "bounded", "throttled": 5, "throttled_retries_unknown": 2},
        {"function_name": "exact", "throttled": 5, "throttled_retries_unknown": 0},
        {"function_name": "was-bounded", "throttled": 1},
        {"function_name": "new", "throttled": 3, "throttled_retries_unknown": 3},
    )
    rows = {r["function_name"]: r for r in compare_functions(base, now).to_dicts()}
    # "≥ 5" against 2 (or 1 against "≥ 4"): the difference is not known, not +3 (or -3)
    assert rows["bounded"]["throttled_change"] is None
    assert rows["was-bounded"]["throttled_change"] is None
    assert (rows["exact"]["throttled_change"], rows["exact"]["requests_change"]) == (3, 0)
    # but 2 -> "at least 5" rose by at least 3; nothing is known against "at least 4"
    at_least = {name: row["throttled_change_at_least"] for name, row in rows.items()}
    assert at_least == {"bounded": 3, "exact": None, "was-bounded": None, "new": None}
    bounds = {
        name: (row["throttled_retries_unknown_base"], row["throttled_retries_unknown_now"])
        for name, row in rows.items()
    }
    assert bounds == {
        "bounded": (0, 2),
        "exact": (0, 0),
        "was-bounded": (1, 0),
        "new": (None, 3),
    }
    # entry points and edges count their throttles exactly
    entries = compare_entry_points(
        _entries({"entry": "GET /a", "requests": 4, "throttled": 1}),
        _entries({"entry": "GET /a", "requests": 4, "throttled": 3}),
    ).row(0, named=True)
    assert entries["throttled_change"] == 2 and entries["throttled_retries_unknown_now"] == 0
