"""Outgoing HTTPS calls with connection setup, in three instrumentation styles.

- ``xray-go``: the X-Ray Go SDK's ``xray.Client`` (httptrace): a remote subsegment named by
  host holding ``connect`` (with ``dns``, ``dial``, ``tls`` inside), ``request`` and
  ``response``; ``metadata.http.dns.addresses``. A reused connection has no ``connect``.
- ``otel-go``: OpenTelemetry Go ``otelhttp`` + ``otelhttptrace`` spans as the ADOT X-Ray
  exporter writes them: ``http.getconn`` (named by host: the exporter names spans from
  ``http.host``) holding ``http.dns``/``http.connect``/``http.tls``, then ``http.send``;
  non-indexed attributes land in ``metadata.default``.
- ``otel-node``: OpenTelemetry Node ``http`` + ``dns`` instrumentations: ``dns.lookup`` inside
  the remote subsegment when a new connection is opened.

Every span the OpenTelemetry instrumentations create is a client span, so the exporter gives
each one ``namespace: remote``; only the outermost one is a call on the service map.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracelens.samples.app import HOST_ADDRESSES
from tracelens.samples.calls import exception, inferred_segment, status_flags, subsegment
from tracelens.samples.truth import REMOTE, NodeRef
from tracelens.samples.world import Document, Site

XRAY_GO = "xray-go"
OTEL_GO = "otel-go"
OTEL_NODE = "otel-node"


@dataclass(frozen=True)
class HttpPlan:
    """What the remote side does: status (None: no response) and time to first byte."""

    host: str
    method: str
    path: str
    server_ms: float
    status: int | None = 200
    response_bytes: int = 0
    dns_failure: str | None = None  # e.g. "EAI_AGAIN": the lookup fails
    dns_failure_ms: float = 0.0

    @property
    def url(self) -> str:
        return f"https://{self.host}{self.path}"


def needs_new_connection(site: Site, host: str, t_s: float, keepalive_idle_s: float | None) -> bool:
    """A kept-alive connection is reused while it has been idle less than the server allows."""
    last = site.env.connections.get(host)
    if site.cold or last is None or keepalive_idle_s is None:
        return True
    return t_s - last > keepalive_idle_s


def _lookup_ms(
    site: Site, plan: HttpPlan, start_s: float, keepalive_idle_s: float | None
) -> float | None:
    """How long the call's DNS lookup takes when it opens a new connection (None: it reuses
    a kept-alive one and looks nothing up)."""
    if not needs_new_connection(site, plan.host, start_s, keepalive_idle_s):
        return None
    return _dns_ms(site)


def _dns_ms(site: Site) -> float:
    draws = site.draws
    if site.function.vpc:
        if site.cold:
            return round(draws.ms(55.0, 0.6, 14.0, 260.0), 3)
        return round(draws.ms(3.2, 0.5, 0.9, 14.0), 3)
    if site.cold:
        return round(draws.ms(4.5, 0.4, 1.5, 12.0), 3)
    return round(draws.ms(0.9, 0.4, 0.3, 3.0), 3)


def _record(site: Site, plan: HttpPlan, style: str, *, new: bool, dns_ms: float | None) -> None:
    ledger = site.world.ledger
    fn = site.function
    ledger.connection(fn.name, plan.host, style=style, cold=site.cold, new=new)
    if dns_ms is not None:
        ledger.dns(
            fn.name,
            plan.host,
            vpc=fn.vpc,
            style=style,
            cold=site.cold,
            ms=dns_ms,
            failed=plan.dns_failure is not None,
        )


def _outer(
    site: Site,
    plan: HttpPlan,
    start_s: float,
    end_s: float,
    style: str,
    children: list[Document],
    *,
    fault_exception: Document | None = None,
) -> Document:
    """The outermost remote subsegment, its inferred segment and its ledger entry."""
    doc = subsegment(site.draws, plan.host, start_s, end_s)
    doc.update(status_flags(plan.status, fault=fault_exception is not None))
    if fault_exception is not None:
        doc["cause"] = {"exceptions": [fault_exception]}
    request = {"method": plan.method, "url": plan.url}
    doc["http"] = {"request": request}
    if plan.status is not None:
        doc["http"]["response"] = {"status": plan.status, "content_length": plan.response_bytes}
    doc["namespace"] = "remote"
    if style != XRAY_GO:
        doc["metadata"] = {"default": {"http.flavor": "1.1", "net.transport": "ip_tcp"}}
    if children:
        doc["subsegments"] = children
    site.world.ledger.call(
        site.node,
        NodeRef(plan.host, REMOTE),
        trace_id=site.trace.trace_id,
        duration_ms=(end_s - start_s) * 1000,
        status=plan.status,
        fault=fault_exception is not None,
    )
    site.trace.documents.append(inferred_segment(site.draws, doc, site.trace.trace_id, None))
    site.env.connections[plan.host] = end_s
    return doc


def xray_go_call(
    site: Site, plan: HttpPlan, start_s: float, *, keepalive_idle_s: float | None
) -> Document:
    """An HTTPS call through the X-Ray Go SDK's instrumented client."""
    draws = site.draws
    dns_ms = _lookup_ms(site, plan, start_s, keepalive_idle_s)
    new = dns_ms is not None
    t = start_s + 0.00003
    children: list[Document] = []
    if dns_ms is not None:
        dns_end = t + 0.00001 + dns_ms / 1000
        addresses = [{"IP": ip, "Zone": ""} for ip in HOST_ADDRESSES[plan.host]]
        dns = subsegment(
            draws,
            "dns",
            t + 0.00001,
            dns_end,
            metadata={"http": {"dns": {"addresses": addresses, "coalesced": False}}},
        )
        dial_end = dns_end + draws.ms(4.0 if site.function.vpc else 2.0, 0.35, 0.8, 30.0) / 1000
        dial = subsegment(
            draws,
            "dial",
            dns_end + 0.00001,
            dial_end,
            metadata={"http": {"connect": {"network": "tcp"}}},
        )
        tls_end = dial_end + draws.ms(24.0, 0.3, 9.0, 90.0) / 1000
        tls_meta = {
            "did_resume": False,
            "negotiated_protocol": "h2",
            "negotiated_protocol_is_mutual": True,
            "cipher_suite": 4865,
        }
        tls = subsegment(
            draws, "tls", dial_end + 0.00001, tls_end, metadata={"http": {"tls": tls_meta}}
        )
        connect = subsegment(
            draws,
            "connect",
            t,
            tls_end + 0.00002,
            metadata={"http": {"connection": {"reused": False, "was_idle": False}}},
            subsegments=[dns, dial, tls],
        )
        children.append(connect)
        t = tls_end + 0.00002
    request_end = t + draws.uniform(0.00012, 0.00045)
    children.append(subsegment(draws, "request", t + 0.00001, request_end))
    response_end = request_end + plan.server_ms / 1000
    children.append(subsegment(draws, "response", request_end, response_end))
    end_s = response_end + draws.uniform(0.0001, 0.0009)
    _record(site, plan, XRAY_GO, new=new, dns_ms=dns_ms)
    return _outer(site, plan, start_s, end_s, XRAY_GO, children)


def otel_go_call(
    site: Site, plan: HttpPlan, start_s: float, *, keepalive_idle_s: float | None
) -> Document:
    """An HTTPS call through ``otelhttp`` with ``otelhttptrace`` sub-spans."""
    draws = site.draws
    ips = HOST_ADDRESSES[plan.host]
    remote_addr = f"{ips[0]}:443"
    t = start_s + 0.00004
    inner: list[Document] = []
    dns_ms = _lookup_ms(site, plan, start_s, keepalive_idle_s)
    new = dns_ms is not None
    if dns_ms is not None:
        dns_end = t + 0.00001 + dns_ms / 1000
        inner.append(
            subsegment(
                draws,
                "http.dns",
                t + 0.00001,
                dns_end,
                namespace="remote",
                metadata={"default": {"net.host.name": plan.host, "http.dns.addrs": ",".join(ips)}},
            )
        )
        dial_end = dns_end + draws.ms(2.0, 0.35, 0.8, 20.0) / 1000
        inner.append(
            subsegment(
                draws,
                "http.connect",
                dns_end + 0.00001,
                dial_end,
                namespace="remote",
                metadata={
                    "default": {
                        "http.remote": remote_addr,
                        "http.conn.start.network": "tcp",
                        "http.conn.done.addr": remote_addr,
                        "http.conn.done.network": "tcp",
                    }
                },
            )
        )
        tls_end = dial_end + draws.ms(22.0, 0.3, 9.0, 80.0) / 1000
        inner.append(subsegment(draws, "http.tls", dial_end + 0.00001, tls_end, namespace="remote"))
        getconn_end = tls_end + 0.00002
    else:
        getconn_end = t + draws.uniform(0.00002, 0.00008)
    getconn = subsegment(
        draws,
        plan.host,
        t,
        getconn_end,
        namespace="remote",
        http={"request": {"url": f"http://{plan.host}/"}, "response": {"content_length": 0}},
        metadata={
            "default": {
                "http.remote": remote_addr,
                "http.local": "169.254.79.130:41872",
                "http.conn.reused": not new,
                "http.conn.wasidle": not new,
            }
        },
    )
    if inner:
        getconn["subsegments"] = inner
    send_end = getconn_end + draws.uniform(0.00008, 0.0003)
    send = subsegment(draws, "http.send", getconn_end + 0.00001, send_end, namespace="remote")
    end_s = send_end + plan.server_ms / 1000 + draws.uniform(0.0001, 0.0006)
    _record(site, plan, OTEL_GO, new=new, dns_ms=dns_ms)
    return _outer(site, plan, start_s, end_s, OTEL_GO, [getconn, send])


def otel_node_call(
    site: Site,
    plan: HttpPlan,
    start_s: float,
    *,
    keepalive_idle_s: float | None,
    response_exception: Document | None = None,
) -> Document:
    """An HTTPS call through the OpenTelemetry Node ``http`` and ``dns`` instrumentations.

    With ``plan.dns_failure`` the lookup fails after ``plan.dns_failure_ms`` and there is no
    response: the remote subsegment carries the error as a fault. ``response_exception`` is
    recorded as the cause of a 5xx answer.
    """
    draws = site.draws
    new = needs_new_connection(site, plan.host, start_s, keepalive_idle_s)
    children: list[Document] = []
    dns_ms: float | None = None
    t = start_s + 0.00006
    fault: Document | None = None
    if new:
        dns_ms = round(plan.dns_failure_ms, 3) if plan.dns_failure else _dns_ms(site)
        dns_end = t + dns_ms / 1000
        attributes: Document = {"net.peer.name": plan.host}
        lookup = subsegment(draws, "dns.lookup", t, dns_end, namespace="remote")
        if plan.dns_failure:
            message = f"getaddrinfo {plan.dns_failure} {plan.host}"
            attributes.update({"dns.error_name": "Error", "dns.error_message": message})
            lookup["fault"] = True
            lookup["cause"] = {"exceptions": [exception(draws, "Error", message, remote=False)]}
            fault = exception(draws, "Error", message, remote=False)
        else:
            attributes["peer.ipv4"] = HOST_ADDRESSES[plan.host][0]
        lookup["metadata"] = {"default": attributes}
        children.append(lookup)
        t = dns_end
    if fault is not None:
        end_s = t + draws.uniform(0.0002, 0.0009)
        failed = HttpPlan(plan.host, plan.method, plan.path, 0.0, None, 0)
        _record(site, plan, OTEL_NODE, new=new, dns_ms=dns_ms)
        return _outer(site, failed, start_s, end_s, OTEL_NODE, children, fault_exception=fault)
    setup_ms = draws.ms(28.0, 0.3, 10.0, 90.0) if new else draws.uniform(0.2, 0.9)
    end_s = t + (setup_ms + plan.server_ms) / 1000
    _record(site, plan, OTEL_NODE, new=new, dns_ms=dns_ms)
    return _outer(
        site, plan, start_s, end_s, OTEL_NODE, children, fault_exception=response_exception
    )


def end_of(doc: Document) -> float:
    """A built document's end time (epoch seconds)."""
    return float(doc["end_time"])
