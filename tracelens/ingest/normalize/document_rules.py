"""Rules of the segment document schema that its types cannot express, explained per document.

Ingest finds documents breaking these rules column-wise (see spans.py); this module walks
only those documents to say which field broke which rule, as X-Ray itself would refuse them.
"""

from __future__ import annotations

from tracelens.ingest.segment_model import Node
from tracelens.limits import time_problem

MISSING_TRACE_ID = "missing required field: trace_id"


def status_number(text: str) -> int | None:
    """An HTTP status sent as a string: its number when it is 1 to 9 ASCII digits, else None."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def node_problem(node: Node, prefix: str = "") -> str | None:
    """The first rule ``node`` or a subsegment nested in it breaks, or None.

    Fields are named by their path from the document, e.g.
    ``missing required field: subsegments[1].end_time (or in_progress: true)``.
    """
    if node.end_time is None and not node.in_progress:
        return f"missing required field: {prefix}end_time (or in_progress: true)"
    problem = time_problem(node.start_time, node.end_time, prefix)
    if problem is not None:
        return problem
    response = node.http.response if node.http is not None else None
    status = response.status if response is not None else None
    if type(status) is str and status_number(status) is None:
        return f"wrong type: {prefix}http.response.status is {status[:20]!r}"
    for position, child in enumerate(node.subsegments or ()):
        problem = node_problem(child, f"{prefix}subsegments[{position}].")
        if problem is not None:
            return problem
    return None
