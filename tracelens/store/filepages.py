"""Input files kept as raw pages (``tracelens import``): the file's text and its name.

A page's ``request`` names the file (and, for a piece of a large line-delimited file, the
number of its first line); its ``response`` holds the text, or ``base64`` of the bytes when
they are not UTF-8 (to be refused by the parser, with the file's name, as ``analyze`` would).
"""

from __future__ import annotations

import base64

from collectors.base import RawPage
from tracelens.ingest.opening.sources import Source

SOURCE = "import"
TRACES = "import.traces"
LOGS = "import.logs"
METRICS = "import.metrics"
FUNCTIONS = "import.functions"


def page_of(kind: str, source: Source) -> RawPage:
    """One input piece as a raw page: its text (base64 when it is not UTF-8) and its name."""
    request = {"name": source.name, "first_line": source.first_line, "lines": source.lines}
    try:
        response: dict[str, str] = {"text": source.data.decode("utf-8")}
    except UnicodeDecodeError:
        response = {"base64": base64.b64encode(source.data).decode("ascii")}
    return RawPage(kind=kind, api="file", request=request, response=response)


def source_of(page: RawPage) -> Source:
    """The input piece a page of :func:`page_of` holds, named by its file."""
    text = page.response.get("text")
    if isinstance(text, str):
        data = text.encode("utf-8")
    else:
        data = base64.b64decode(str(page.response.get("base64", "")))
    return Source(
        str(page.request.get("name", "?")),
        data,
        first_line=int(page.request.get("first_line", 1)),
        lines=bool(page.request.get("lines", False)),
    )
