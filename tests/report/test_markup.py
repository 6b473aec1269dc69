from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import polars as pl

from tracelens.report.markup import (
    Cell,
    Column,
    esc,
    fmt_count,
    fmt_ms,
    fmt_pct,
    fmt_time,
    frame_table,
    script_safe_json,
    table,
    table_note,
    truncated_note,
)


def test_esc_escapes_markup_and_quotes() -> None:
    assert esc('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"
    assert esc(None) == ""


def test_script_safe_json_keeps_data_but_not_markup() -> None:
    data = {"name": "</script><img src=x onerror=alert(1)>", "amp": "a&b", "ls": "\u2028"}
    text = script_safe_json(json.dumps(data, ensure_ascii=False))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_formats_carry_units() -> None:
    assert fmt_ms(12.345) == "12.3 ms"
    assert fmt_ms(1234.5) == "1,234 ms"
    assert fmt_ms(None) == "\u2013"
    assert fmt_ms(math.nan) == "\u2013"
    assert fmt_count(1234567) == "1,234,567"
    assert fmt_pct(0.1234) == "12.3%"
    assert fmt_pct(0.0004) == "0.04%"
    assert fmt_time(datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)) == "2024-05-01 12:00:05 UTC"


def test_table_escapes_text_cells_and_keeps_sort_values() -> None:
    html = table(
        [Column("name"), Column("calls", numeric=True, hint='say "hi"')],
        [[Cell.text("<b>x</b>"), Cell.number(1500, "1,500", alert=True)]],
        note=truncated_note(1, 3, "rows"),
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert 'data-sort="1500"' in html and 'class="num alert"' in html
    assert 'title="say &quot;hi&quot;"' in html
    assert "Showing the first 1 of 3 rows." in html
    assert truncated_note(3, 3, "rows") == ""


def test_ms_and_pct_cells_show_the_format_and_sort_by_the_value() -> None:
    assert Cell.ms(1234.5) == Cell.number(1234.5, fmt_ms(1234.5))
    assert Cell.pct(0.25) == Cell(esc("25.0%"), 0.25, "num")
    assert Cell.ms(None) == Cell.number(None, fmt_ms(None))


def test_frame_table_cuts_rows_with_a_note_and_titles_the_empty_case() -> None:
    frame = pl.DataFrame({"name": ["<b>", "b", "c"], "ms": [1.0, None, 3.0]})
    columns = [Column("name"), Column("p50", numeric=True)]

    def cells(r: dict[str, object]) -> list[Cell]:
        ms = r["ms"]
        return [Cell.text(r["name"]), Cell.ms(ms if isinstance(ms, float) else None)]

    markup = frame_table(frame, columns, cells, limit=2, what="hosts", title="A & B")
    assert markup.startswith("<h3>A &amp; B</h3>")
    assert "&lt;b&gt;" in markup and ">c<" not in markup
    assert "Showing the first 2 of 3 hosts." in markup
    empty_one = frame_table(frame.clear(), columns, cells, limit=2, title="T", if_empty="None.")
    assert empty_one == '<h3>T</h3><p class="empty">None.</p>'
    assert "<table" in frame_table(frame.clear(), columns, cells, limit=2)
    assert table_note(2, 3, "x") == '<p class="table-note">Showing the first 2 of 3 x.</p>'
    assert table_note(3, 3, "x") == ""
