"""How the traces are spread over ``sample_traces/xray`` and which format quirks each file shows.

- BatchGetTraces pages (at most 5 traces each, segments in no particular order) hold most
  traces, with X-Ray's inferred segments; one page is gzipped and one trace appears in two
  pages (its documents are exact duplicates).
- The daemon file holds raw documents as instrumentation sends them (no inferred segments):
  remote calls are sent as independent subsegment documents, some lines are preceded by the
  daemon's ``{"format": "json", "version": 1}`` header, documents from Go functions keep Go's
  HTML escaping (``\\u003c``), and one subsegment is first sent ``in_progress``; its completed
  version is the single-document file.
- The array file holds further traces' documents as one JSON array.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from tracelens.samples.app import CREATE_ORDER
from tracelens.samples.truth import DocumentCounts
from tracelens.samples.world import Document, TraceBuild

TRACES_PER_PAGE = 5
GZIP_PAGE = 3
DUPLICATE_PAGE, DUPLICATE_POSITION = 1, 2
GO_FUNCTIONS = frozenset({"shipping-quote", "notify-webhook"})


@dataclass(frozen=True)
class PageTrace:
    trace_id: str
    duration_s: float
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class Page:
    """One BatchGetTraces response."""

    file_name: str
    traces: tuple[PageTrace, ...]
    gzip: bool = False


@dataclass(frozen=True)
class DaemonLine:
    document: Document
    header: bool  # the daemon's header line precedes this document
    go_escaped: bool  # serialized as Go's encoding/json does (<, >, & escaped)


@dataclass(frozen=True)
class Layout:
    pages: tuple[Page, ...]
    daemon: tuple[DaemonLine, ...]
    array: tuple[Document, ...]
    single: Document
    counts: DocumentCounts


def span_count(doc: Document) -> int:
    """The document and all its nested subsegments."""
    return 1 + sum(span_count(child) for child in doc.get("subsegments", ()))


def trace_duration_s(docs: list[Document]) -> float:
    starts = [float(d["start_time"]) for d in docs]
    ends = [float(d["end_time"]) for d in docs if "end_time" in d]
    return round(max(ends) - min(starts), 3)


def _independent(child: Document, trace_id: str, parent_id: str) -> Document:
    doc: Document = {key: child[key] for key in ("id", "name", "start_time", "end_time")}
    doc.update({"type": "subsegment", "trace_id": trace_id, "parent_id": parent_id})
    doc.update({k: v for k, v in child.items() if k not in doc})
    return doc


def _split_remote(doc: Document, trace_id: str) -> list[Document]:
    """Detach the Invocation's remote calls from a function segment (modifies ``doc``)."""
    out: list[Document] = []
    for sub in doc.get("subsegments", ()):
        if sub["name"] != "Invocation":
            continue
        keep = []
        for child in sub.get("subsegments", ()):
            if child.get("namespace") == "remote":
                out.append(_independent(child, trace_id, sub["id"]))
            else:
                keep.append(child)
        sub["subsegments"] = keep
        if not keep:
            del sub["subsegments"]
    return out


def _in_progress(doc: Document) -> Document:
    """The document as first sent, before the call finished."""
    keep = ("id", "name", "start_time", "type", "trace_id", "parent_id")
    started: Document = {key: doc[key] for key in keep}
    started["in_progress"] = True
    started["http"] = {"request": doc["http"]["request"]}
    started["namespace"] = doc["namespace"]
    return started


def _is_go(doc: Document, go_segment_ids: set[str]) -> bool:
    return (doc.get("origin") == "AWS::Lambda::Function" and doc["name"] in GO_FUNCTIONS) or (
        doc.get("parent_id") in go_segment_ids
    )


def _raw_trace(trace: TraceBuild) -> tuple[list[Document], list[Document]]:
    """(independent subsegment documents, segment documents) as instrumentation sends them."""
    independents: list[Document] = []
    segments: list[Document] = []
    for original in trace.documents:
        if original.get("inferred"):
            continue
        doc = copy.deepcopy(original)
        if doc.get("origin") == "AWS::Lambda::Function":
            independents += _split_remote(doc, trace.trace_id)
        segments.append(doc)
    return independents, segments


def _is_plain_order(trace: TraceBuild) -> bool:
    return trace.request.endpoint is CREATE_ORDER and not trace.request.flags


def _daemon(traces: list[TraceBuild]) -> tuple[list[DaemonLine], Document, int]:
    """Daemon lines, the completed in-progress document, and the independent-doc count."""
    docs: list[Document] = []
    completed: Document | None = None
    independent_count = 0
    for trace in traces:
        independents, segments = _raw_trace(trace)
        independent_count += len(independents)
        if completed is None and _is_plain_order(trace):
            pay = next(d for d in independents if d["name"].startswith("api.payments"))
            independents.remove(pay)
            completed = pay
            docs.insert(0, _in_progress(pay))
        docs += independents + segments
    if completed is None:
        raise ValueError("the daemon traces need a plain POST /orders trace")
    go_ids = {d["id"] for d in docs if _is_go(d, set())}
    go_ids |= {sub["id"] for d in docs if d["id"] in go_ids for sub in d.get("subsegments", ())}
    lines = [
        DaemonLine(doc, header=i % 3 == 0, go_escaped=_is_go(doc, go_ids))
        for i, doc in enumerate(docs)
    ]
    return lines, completed, independent_count


def _pages(traces: list[TraceBuild], seed: int) -> list[Page]:
    order = random.Random(seed ^ 0x5EED)
    entries: list[PageTrace] = []
    for trace in traces:
        docs = list(trace.documents)
        order.shuffle(docs)
        entries.append(PageTrace(trace.trace_id, trace_duration_s(docs), tuple(docs)))
    groups = [entries[i : i + TRACES_PER_PAGE] for i in range(0, len(entries), TRACES_PER_PAGE)]
    duplicate = groups[DUPLICATE_PAGE][DUPLICATE_POSITION]
    if len(groups[-1]) < TRACES_PER_PAGE:
        groups[-1].append(duplicate)
    else:
        groups.append([duplicate])
    return [
        Page(
            f"batch-get-traces-{n:03d}.json" + (".gz" if n == GZIP_PAGE else ""),
            tuple(group),
            gzip=n == GZIP_PAGE,
        )
        for n, group in enumerate(groups, start=1)
    ]


def build_layout(traces: list[TraceBuild], seed: int) -> Layout:
    """Assign every trace to a file and count the documents the files hold."""
    # NOTE: the first plain POST /orders trace always goes to the daemon file: its payments
    # call is the in-progress document.
    pick = next(i for i, t in enumerate(traces) if _is_plain_order(t))
    group = [
        "daemon" if i % 15 == 7 or i == pick else "array" if i % 15 == 11 else "pages"
        for i in range(len(traces))
    ]
    daemon_traces = [t for t, g in zip(traces, group, strict=True) if g == "daemon"]
    array_traces = [t for t, g in zip(traces, group, strict=True) if g == "array"]
    page_traces = [t for t, g in zip(traces, group, strict=True) if g == "pages"]
    daemon, single, independent = _daemon(daemon_traces)
    array: list[Document] = []
    for trace in array_traces:
        independents, segments = _raw_trace(trace)
        array += segments + independents
        independent += len(independents)
    pages = _pages(page_traces, seed)
    duplicates = len(pages[DUPLICATE_PAGE].traces[DUPLICATE_POSITION].documents)
    written = sum(len(pt.documents) for p in pages for pt in p.traces) + len(daemon)
    written += len(array) + 1
    unique_docs = [doc for t in page_traces for doc in t.documents]
    unique_docs += [line.document for line in daemon if not line.document.get("in_progress")]
    unique_docs += [*array, single]
    counts = DocumentCounts(
        written=written,
        unique=len(unique_docs),
        duplicates=duplicates,
        in_progress_superseded=1,
        inferred=sum(1 for d in unique_docs if d.get("inferred")),
        independent_subsegments=independent,
        spans=sum(span_count(d) for d in unique_docs),
    )
    return Layout(tuple(pages), tuple(daemon), tuple(array), single, counts)
