"""Stage 3 of ingest, decode: one module per input format, turning a candidate (a parsed JSON
value, or the bytes of one line) into located segment documents or refusals.

- base.py: the interface (``Decoder``, ``Reading``, ``Located``, ``ReadStats``);
- registry.py: the decoders in the order the detector asks them, and the detector;
- xray_segment.py: an X-Ray segment document (also inside the other formats);
- batch_get_traces.py: a BatchGetTraces response, and one ``Trace`` object of it;
- xray_daemon.py: the header line of an X-Ray daemon capture;
- otel_mapping.py: an OpenTelemetry span -> a segment document (the one mapping, see
  docs/otel-mapping.md), used by the three OpenTelemetry formats:
- aws_spans.py: ``aws/spans`` records (Transaction Search), one per line or inside
  filter-log-events / GetQueryResults responses;
- otlp_json.py: OTLP JSON ``ExportTraceServiceRequest``;
- retrieved_traces.py: X-Ray ``ListRetrievedTraces`` responses (``OTEL`` and ``XRAY`` formats).

The format is told by content, never by file name. A JSON array is decoded item by item, each
item by whichever decoder claims it.

To add a format:

1. Write ``decoders/<format>.py`` holding ``claims(value) -> bool`` and
   ``decode(value, position, reading)``, a generator of ``(position, node)`` that calls
   ``reading.refuse(position, reason)`` for what it cannot read (never raising for bad input),
   and define ``MY_FORMAT = Decoder("name", claims, decode)``. A document in the X-Ray segment
   shape is decoded with ``xray_segment.decode_text`` (from JSON text) or
   ``segment_model.convert_node`` (from a parsed value); anything else is built as a
   ``segment_model.Node``.
2. Register it: one line in ``registry.DECODERS``, ahead of any decoder that would claim
   the same values.

A decoder imports only ``decoders``, ``segment_model`` and ``rejections``: never the opening,
framing or normalize stages (tests/test_architecture.py checks it).
"""
