"""X-Ray trace links: a segment linked from a parent trace was invoked by an SQS consumer poll.

X-Ray's trace linking (SQS to Lambda) writes ``links`` on segments and subsegments: the
consumer function's trace links to its producers' traces with reference type ``parent``, the
producer's ``SendMessage`` links to the consumer's trace with reference type ``child``.
"""

from __future__ import annotations

from typing import Any

from tests.builders.ingest import segment
from tracelens.ingest.normalize import normalize_documents
from tracelens.ingest.segment_model import convert_node

PRODUCER_TRACE = "1-6b005f3c-c0c000000000000000000006"
REFERENCE = "aws.xray.reserved.reference_type"


def _link(reference: Any) -> dict[str, Any]:
    return {
        "trace_id": PRODUCER_TRACE,
        "id": "5a00000000000605",
        "attributes": {REFERENCE: reference},
    }


def test_a_segment_linked_from_a_parent_trace_was_triggered_by_sqs() -> None:
    consumer = segment("a" * 16, origin="AWS::Lambda", links=[_link("parent")])
    producer_call = segment(
        "b" * 16,
        trace_id="1-6b005f3c-c0c000000000000000000007",
        subsegments=[
            {
                "id": "c" * 16,
                "name": "SQS",
                "start_time": 1762828480.2,
                "end_time": 1762828480.21,
                "links": [_link("child")],
            }
        ],
    )
    spans = normalize_documents([convert_node(consumer), convert_node(producer_call)])
    trigger = dict(zip(spans["id"], spans["trigger"], strict=True))
    assert trigger == {"a" * 16: "sqs", "b" * 16: None, "c" * 16: None}


def test_odd_links_are_ignored_not_refused() -> None:
    documents = [
        segment(f"{n:016x}", links=links)
        for n, links in enumerate(
            ["parent", {"attributes": {REFERENCE: "parent"}}, [1, None, "x"], [{"attributes": 3}]],
            start=1,
        )
    ]
    spans = normalize_documents([convert_node(d) for d in documents])
    assert spans.height == 4
    assert spans["trigger"].to_list() == [None] * 4


def test_faas_trigger_recorded_by_an_xray_exporter_in_metadata() -> None:
    document = segment(
        "d" * 16,
        origin="AWS::Lambda::Function",
        metadata={"default": {"faas.trigger": "pubsub", "messaging.system": "AmazonSQS"}},
    )
    assert normalize_documents([convert_node(document)])["trigger"].to_list() == ["sqs"]
