"""When requests arrive, and which ones are set up to show a particular condition.

Background traffic is spread over the window by endpoint weight. Two bursts are placed at fixed
points of the window: a flash sale of ``POST /orders`` (fraud-check's reserved concurrency is
exhausted, DynamoDB throttles, many cold starts) and a rush on ``GET /reports/daily``
(report-export's reserved concurrency of 2); a batch of five shipments arrives at once
(parallel cold starts in the VPC). Single requests are flagged for the payments 502, the VPC
DNS failure and the carrier hang (Lambda timeout), so every sample shows them.
"""

from __future__ import annotations

from tracelens.samples.app import (
    CREATE_ORDER,
    DAILY_REPORT,
    ENDPOINTS,
    GET_ORDER,
    LEGACY_REPORT,
    SHIP_ORDER,
    Endpoint,
)
from tracelens.samples.ids import Draws
from tracelens.samples.world import (
    Flag,
    Request,
)

MIN_TRACES = 60
ORDERS_BURST_AT = 0.62  # fraction of the window
REPORTS_BURST_AT = 0.33
SHIPPING_BATCH_AT = 0.15
ORDERS_BURST_SPREAD_S = 3.0
REPORTS_BURST_SPREAD_S = 2.0
PAYMENTS_SLOW_RATE = 0.07
MIN_LEGACY_REQUESTS = 3


def _burst(
    draws: Draws, at_s: float, spread_s: float, endpoint: Endpoint, count: int, flag: str
) -> list[tuple[float, Endpoint, set[str]]]:
    return [(at_s + draws.uniform(0.0, spread_s), endpoint, {flag}) for _ in range(count)]


def _background(
    draws: Draws, start_s: float, window_s: float, count: int
) -> list[tuple[float, Endpoint, set[str]]]:
    weights = [e.weight for e in ENDPOINTS]
    # NOTE: nothing starts in the last 40 s, so every trace completes inside the window.
    times = sorted(draws.uniform(start_s + 1.0, start_s + window_s - 40.0) for _ in range(count))
    chosen = [(t, ENDPOINTS[draws.choice_weighted(weights)], set[str]()) for t in times]
    legacy = [i for i, (_, e, _) in enumerate(chosen) if e is LEGACY_REPORT]
    for i in range(len(legacy), MIN_LEGACY_REQUESTS):
        index = (i * 7 + 5) % len(chosen)
        chosen[index] = (chosen[index][0], LEGACY_REPORT, set())
    return chosen


def _closest(
    entries: list[tuple[float, Endpoint, set[str]]], endpoint: Endpoint, at_s: float
) -> set[str]:
    candidates = [e for e in entries if e[1] is endpoint and not e[2]]
    return min(candidates, key=lambda e: abs(e[0] - at_s))[2]


def schedule(draws: Draws, start_s: float, window_s: float, traces: int) -> list[Request]:
    """Exactly ``traces`` requests in arrival order, with their condition flags."""
    if traces < MIN_TRACES:
        raise ValueError(
            f"traces must be at least {MIN_TRACES} to show every condition, got {traces}"
        )
    if window_s < 600:
        raise ValueError(f"window must be at least 10 minutes, got {window_s:.0f} s")
    orders_at = start_s + ORDERS_BURST_AT * window_s
    reports_at = start_s + REPORTS_BURST_AT * window_s
    bursts = (
        _burst(
            draws,
            orders_at,
            ORDERS_BURST_SPREAD_S,
            CREATE_ORDER,
            max(14, traces // 20),
            Flag.BURST_ORDERS,
        )
        # Clients poll their new orders at once: concurrent reads spill over provisioned
        # concurrency onto on-demand environments.
        + _burst(draws, orders_at + 1.0, 0.4, GET_ORDER, max(4, traces // 60), Flag.BURST_ORDERS)
        + _burst(draws, reports_at, REPORTS_BURST_SPREAD_S, DAILY_REPORT, 6, Flag.BURST_REPORTS)
        # The warehouse books a batch of shipments at once: parallel cold starts in the VPC.
        + _burst(
            draws, start_s + SHIPPING_BATCH_AT * window_s, 0.25, SHIP_ORDER, 5, Flag.SHIPPING_BATCH
        )
    )
    entries = _background(draws, start_s, window_s, traces - len(bursts))
    _closest(entries, CREATE_ORDER, start_s + 0.48 * window_s).add(Flag.PAYMENTS_502)
    _closest(entries, SHIP_ORDER, start_s + 0.80 * window_s).add(Flag.CARRIER_HANG)
    for entry in entries:
        if entry[1] is CREATE_ORDER and not entry[2] and draws.chance(PAYMENTS_SLOW_RATE):
            entry[2].add(Flag.PAYMENTS_SLOW)
    burst_orders = sorted((e for e in bursts if e[1] is CREATE_ORDER), key=lambda e: e[0])
    burst_orders[len(burst_orders) // 2][2].add(Flag.DNS_FAILURE)
    ordered = sorted(entries + bursts, key=lambda e: e[0])
    return [
        Request(index=i, start_s=t, endpoint=endpoint, flags=frozenset(flags))
        for i, (t, endpoint, flags) in enumerate(ordered)
    ]
