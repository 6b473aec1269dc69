"""What each function's handler does: its subsegments, downstream calls and answer.

Handlers run at a given start time and return when they finished and which HTTP status they
answered; the calls they make append subsegments to ``site.children`` (the ``Invocation``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Unpack

from tracelens.samples.app import (
    CARRIER_HOST,
    FRAUD_CHECK,
    FRAUD_TABLE,
    INVENTORY_TABLE,
    NOTIFY_WEBHOOK,
    ORDER_EVENTS_QUEUE,
    ORDERS_TABLE,
    PAYMENTS_HOST,
    SHIPMENT_TOPIC,
    WEBHOOK_HOST,
    FunctionSpec,
)
from tracelens.samples.calls import (
    DYNAMO_THROTTLE_MESSAGE,
    CallOptions,
    aws_call,
    exception,
    invoke_subsegment,
    subsegment,
)
from tracelens.samples.http_calls import HttpPlan, otel_go_call, otel_node_call, xray_go_call
from tracelens.samples.truth import FUNCTION, NodeRef
from tracelens.samples.world import (
    Document,
    Flag,
    FunctionError,
    HandlerResult,
    Site,
)

Handler = Callable[[Site, float], HandlerResult]

HTML_LABEL = "<b>café</b>"


def _end(doc: Document) -> float:
    return float(doc["end_time"])


def _orders_call(
    site: Site, operation: str, start_s: float, duration_ms: float, **options: Unpack[CallOptions]
) -> Document:
    """A DynamoDB call on the orders table (:func:`aws_call`)."""
    return aws_call(site, "DynamoDB", operation, ORDERS_TABLE, start_s, duration_ms, **options)


def _invoke(site: Site, spec: FunctionSpec, start_s: float) -> tuple[Document, bool]:
    """A synchronous Invoke of ``spec``; returns the ``Lambda`` subsegment and if throttled."""
    draws = site.draws
    subsegment_id = draws.hex_id()
    outcome = site.world.invoke(site.world, site.trace, site.node, spec, start_s, subsegment_id)
    end_s = outcome.end_s + draws.uniform(0.0008, 0.0025)
    status = 429 if outcome.throttled else 200
    doc = invoke_subsegment(
        draws, subsegment_id, spec.name, outcome.request_id, start_s, end_s, status=status
    )
    site.world.ledger.call(
        site.node,
        NodeRef(spec.name, FUNCTION),
        trace_id=site.trace.trace_id,
        duration_ms=(end_s - start_s) * 1000,
        status=status,
    )
    return doc, outcome.throttled


def orders_create(site: Site, start_s: float) -> HandlerResult:
    """POST /orders: validate, (stock ∥ fraud), pay, persist, publish."""
    draws = site.draws
    t = start_s + draws.uniform(0.0008, 0.003)
    annotations: Document = {
        "order_channel": draws.rng.choice(["web", "ios", "android"]),
        "customer_tier": draws.rng.choice(["standard", "standard", "gold"]),
    }
    if draws.chance(0.2):
        annotations["promo_label"] = HTML_LABEL
    validate_end = t + draws.ms(1.2, 0.4, 0.3, 6.0) / 1000
    site.children.append(
        subsegment(draws, "## validateOrder", t, validate_end, annotations=annotations)
    )
    t = validate_end + 0.0001
    # NOTE: stock check and fraud check run concurrently (Promise.all): overlapping children.
    stock = aws_call(
        site,
        "DynamoDB",
        "GetItem",
        INVENTORY_TABLE,
        t,
        draws.ms(8.0, 0.35, 3.0, 60.0),
        content_length=231,
    )
    fraud, throttled = _invoke(site, FRAUD_CHECK, t + 0.00025)
    site.children += [stock, fraud]
    if throttled:
        site.log(
            _end(fraud),
            "WARN",
            "fraud check throttled (TooManyRequestsException: Rate "
            "Exceeded.); accepting order without a score",
        )
    t = max(_end(stock), _end(fraud)) + 0.0002
    return _pay_and_persist(site, t)


def _pay_and_persist(site: Site, t: float) -> HandlerResult:
    draws = site.draws
    flags = site.flags
    slow = Flag.PAYMENTS_SLOW in flags
    server_ms = draws.uniform(2600.0, 5200.0) if slow else draws.ms(190.0, 0.3, 70.0, 900.0)
    if Flag.DNS_FAILURE in flags:
        plan = HttpPlan(
            PAYMENTS_HOST,
            "POST",
            "/v1/charges",
            0.0,
            None,
            0,
            "EAI_AGAIN",
            draws.uniform(5000.0, 5090.0),
        )
        pay = otel_node_call(site, plan, t, keepalive_idle_s=None)
        site.children.append(pay)
        message = f"getaddrinfo EAI_AGAIN {PAYMENTS_HOST}"
        fields = (
            ("code", "EAI_AGAIN"),
            ("errno", -3001),
            ("syscall", "getaddrinfo"),
            ("hostname", PAYMENTS_HOST),
        )
        return HandlerResult(
            _end(pay) + 0.0004, 502, FunctionError("Error", message, log_fields=fields)
        )
    if Flag.PAYMENTS_502 in flags:
        message = "payment provider answered 502 Bad Gateway"
        provider_error = exception(draws, "PaymentProviderError", message)
        plan = HttpPlan(PAYMENTS_HOST, "POST", "/v1/charges", draws.uniform(60.0, 240.0), 502, 166)
        pay = otel_node_call(site, plan, t, keepalive_idle_s=4.0, response_exception=provider_error)
        site.children.append(pay)
        error = FunctionError("PaymentProviderError", message, cause_ref=provider_error["id"])
        return HandlerResult(_end(pay) + 0.0006, 502, error)
    plan = HttpPlan(PAYMENTS_HOST, "POST", "/v1/charges", server_ms, 201, 412)
    pay = otel_node_call(site, plan, t, keepalive_idle_s=4.0)
    site.children.append(pay)
    return _persist(site, _end(pay) + 0.0003)


def _persist(site: Site, t: float) -> HandlerResult:
    draws = site.draws
    burst = Flag.BURST_ORDERS in site.flags
    name = site.function.name
    if burst and draws.chance(0.3):
        retries = 2
        put = _orders_call(
            site,
            "PutItem",
            t,
            draws.uniform(70.0, 160.0),
            status=400,
            retries=retries,
            throttle=True,
            error=("ProvisionedThroughputExceededException", DYNAMO_THROTTLE_MESSAGE),
        )
        site.world.ledger.downstream_throttle(name, "DynamoDB", ORDERS_TABLE, "PutItem", retries)
        site.children.append(put)
        site.log(
            _end(put),
            "ERROR",
            "could not store order: ProvisionedThroughputExceededException after 3 attempts",
        )
        return HandlerResult(_end(put) + 0.0005, 503)
    if burst and draws.chance(0.35):
        put = _orders_call(
            site, "PutItem", t, draws.uniform(38.0, 90.0), retries=1, content_length=2
        )
    elif draws.chance(0.03):
        put = _orders_call(
            site,
            "PutItem",
            t,
            draws.ms(11.0, 0.3, 4.0, 60.0),
            status=400,
            error=("ConditionalCheckFailedException", "The conditional request failed"),
        )
        site.children.append(put)
        site.log(_end(put), "INFO", "duplicate order id, answering 409")
        return HandlerResult(_end(put) + 0.0005, 409)
    else:
        put = _orders_call(site, "PutItem", t, draws.ms(11.0, 0.3, 4.0, 60.0), content_length=2)
    t, send_ms = _end(put) + 0.0002, draws.ms(13.0, 0.3, 5.0, 60.0)
    send = aws_call(site, "SQS", "SendMessage", ORDER_EVENTS_QUEUE, t, send_ms, content_length=378)
    site.children += [put, send]
    site.log(_end(send), "INFO", f"order created o-{draws.rng.randint(100000, 999999)}")
    return HandlerResult(_end(send) + draws.uniform(0.0005, 0.002), 201)


def fraud_check(site: Site, start_s: float) -> HandlerResult:
    """Scores an order: one Query on the fraud signals table (a hot partition in the burst)."""
    draws = site.draws
    t = start_s + draws.uniform(0.0005, 0.002)
    hot = Flag.BURST_ORDERS in site.flags
    query_ms = draws.uniform(1300.0, 2100.0) if hot else draws.ms(14.0, 0.35, 5.0, 80.0)
    query = aws_call(site, "DynamoDB", "Query", FRAUD_TABLE, t, query_ms, content_length=1840)
    score_end = _end(query) + draws.ms(3.0, 0.3, 1.0, 12.0) / 1000
    score = subsegment(
        draws,
        "## score_order",
        _end(query) + 0.00005,
        score_end,
        annotations={"model": "gbm-2026-10", "score_band": "low"},
    )
    site.children += [query, score]
    site.log(score_end, "INFO", "fraud score 0.07")
    return HandlerResult(score_end + draws.uniform(0.0003, 0.001), 200)


def orders_get(site: Site, start_s: float) -> HandlerResult:
    """GET /orders/{id}: one GetItem; unknown ids answer 404."""
    draws = site.draws
    t = start_s + draws.uniform(0.0004, 0.0015)
    found = not draws.chance(0.08)
    # The orders table is throttled during the flash sale: reads succeed on a retry.
    burst = Flag.BURST_ORDERS in site.flags
    get_ms = draws.uniform(80.0, 200.0) if burst else draws.ms(6.0, 0.35, 2.5, 40.0)
    size = 1193 if found else 2
    get = _orders_call(site, "GetItem", t, get_ms, retries=int(burst), content_length=size)
    site.children.append(get)
    end_s = _end(get) + draws.uniform(0.0004, 0.0018)
    if not found:
        site.log(end_s, "INFO", "order not found")
        return HandlerResult(end_s, 404)
    site.log(end_s, "INFO", "order returned")
    return HandlerResult(end_s, 200)


def shipping_quote(site: Site, start_s: float) -> HandlerResult:
    """POST /orders/{id}/ship: load, book with the carrier, notify, publish (X-Ray Go SDK)."""
    draws = site.draws
    t = start_s + draws.uniform(0.0002, 0.0008)
    rate_end = t + draws.ms(0.8, 0.3, 0.2, 4.0) / 1000
    site.children.append(
        subsegment(
            draws,
            "## 配送料金の計算",
            t,
            rate_end,
            annotations={"carrier": "acme-freight", "label": HTML_LABEL},
            metadata={"default": {"parcel": {"weight_g": draws.rng.randint(200, 9000)}}},
            sampling_rule_name="orders-25-percent",
        )
    )
    get = _orders_call(
        site, "GetItem", rate_end + 0.0001, draws.ms(6.0, 0.35, 2.5, 40.0), content_length=1193
    )
    site.children.append(get)
    if Flag.CARRIER_HANG in site.flags:
        # NOTE: the carrier never answers; the runtime is frozen at the timeout, so the open
        # carrier subsegment is never sent and the trace just stops.
        message = (
            f"RequestId: {site.request_id} Error: Task timed out after "
            f"{site.function.timeout_s:.2f} seconds"
        )
        site.log(_end(get) + 0.0003, "INFO", f"booking shipment with {CARRIER_HOST}")
        return HandlerResult(0.0, 0, FunctionError("Sandbox.Timedout", message), timed_out=True)
    plan = HttpPlan(
        CARRIER_HOST, "POST", "/v2/shipments", draws.ms(240.0, 0.35, 90.0, 900.0), 201, 1893
    )
    # NOTE: the handler builds a new http.Client per invocation: no keep-alive, so every call
    # (warm or cold) opens a connection and resolves the host again.
    carrier = xray_go_call(site, plan, _end(get) + 0.0002, keepalive_idle_s=None)
    notify, _ = _invoke(site, NOTIFY_WEBHOOK, _end(carrier) + 0.0003)
    t, publish_ms = _end(notify) + 0.0002, draws.ms(21.0, 0.3, 8.0, 90.0)
    publish = aws_call(site, "SNS", "Publish", SHIPMENT_TOPIC, t, publish_ms, content_length=294)
    site.children += [carrier, notify, publish]
    return HandlerResult(_end(publish) + draws.uniform(0.0002, 0.001), 200)


def notify_webhook(site: Site, start_s: float) -> HandlerResult:
    """Delivers the event to the partner webhook (OpenTelemetry Go, kept-alive client)."""
    draws = site.draws
    plan = HttpPlan(WEBHOOK_HOST, "POST", "/v1/events", draws.ms(95.0, 0.35, 35.0, 400.0), 202)
    call = otel_go_call(site, plan, start_s + draws.uniform(0.0002, 0.0007), keepalive_idle_s=45.0)
    site.children.append(call)
    return HandlerResult(_end(call) + draws.uniform(0.0002, 0.0008), 200)


def report_export(site: Site, start_s: float) -> HandlerResult:
    """GET /reports/daily: pages through a Query, then renders the CSV."""
    draws = site.draws
    t = start_s + draws.uniform(0.001, 0.004)
    pages = 3 if Flag.BURST_REPORTS in site.flags else draws.rng.choice([2, 2, 3])
    for _ in range(pages):
        query = _orders_call(
            site, "Query", t, draws.ms(520.0, 0.3, 250.0, 1400.0), content_length=982_113
        )
        site.children.append(query)
        t = _end(query) + draws.uniform(0.002, 0.009)
    render_end = t + draws.ms(140.0, 0.35, 60.0, 420.0) / 1000
    site.children.append(subsegment(draws, "## renderCsv", t, render_end))
    site.log(render_end, "INFO", f"report rendered: {pages} pages")
    return HandlerResult(render_end + draws.uniform(0.001, 0.004), 200)


def never_runs(site: Site, start_s: float) -> HandlerResult:
    """legacy-export has reserved concurrency 0: Lambda throttles every invocation."""
    raise AssertionError(f"{site.function.name} must never execute (started {start_s})")


HANDLERS: dict[str, Handler] = {
    "orders-create": orders_create,
    "fraud-check": fraud_check,
    "orders-get": orders_get,
    "shipping-quote": shipping_quote,
    "notify-webhook": notify_webhook,
    "report-export": report_export,
    "legacy-export": never_runs,
}
