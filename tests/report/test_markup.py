from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from tracelens.report.markup import (
    Cell,
    Column,
    esc,
    fmt_count,
    fmt_ms,
    fmt_pct,
    fmt_time,
    script_safe_json,
    table,
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
