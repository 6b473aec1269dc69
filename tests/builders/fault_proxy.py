"""An HTTP proxy that injects AWS-style faults between boto3 clients and a local endpoint.

Clients use the proxy's URL as ``endpoint_url``; the proxy forwards each request to the
upstream endpoint (a moto server) unless a seeded random draw picks a fault:

- ``throttle``: the service's own throttling error, in its protocol's shape (X-Ray
  ``ThrottledException`` 429, Lambda ``TooManyRequestsException`` 429, Logs
  ``ThrottlingException`` 400, CloudWatch ``Throttling`` 400 (JSON, query compatible), STS
  ``Throttling`` 400 XML);
- ``server_error``: a 500 or 503 with a JSON body;
- ``slow``: the request is forwarded after ``slow_delay_s``;
- ``truncate``: the upstream answer is sent with its full ``Content-Length`` but only the first
  half of its body, and the connection is closed (a response cut short in transit; botocore
  parses what arrived and returns HTTP 200 without the answer's keys);
- ``denied``: the service's ``AccessDeniedException`` (:class:`DenyingProxy`: every request of
  some services, as with credentials whose policy lacks their actions).

A request that has just been faulted ``max_consecutive_faults`` times (same service, path and
body: a retry) is forwarded, so every request eventually gets through whatever the seed.
The service is read from the SigV4 credential scope of the ``Authorization`` header.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        # send_response() writes its own
        "server",
        "date",
    }
)

_JSON = "application/json"
# (status, headers, body) of a throttling error per SigV4 service name.
THROTTLE_RESPONSES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "xray": (
        429,
        {"Content-Type": _JSON, "x-amzn-ErrorType": "ThrottledException"},
        b'{"message":"Rate exceeded"}',
    ),
    "lambda": (
        429,
        {"Content-Type": _JSON, "x-amzn-ErrorType": "TooManyRequestsException"},
        b'{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate exceeded"}',
    ),
    "logs": (
        400,
        {"Content-Type": "application/x-amz-json-1.1"},
        b'{"__type":"ThrottlingException","message":"Rate exceeded"}',
    ),
    # CloudWatch speaks JSON 1.0 with query-compatible error codes.
    "monitoring": (
        400,
        {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": "Throttling;Sender"},
        b'{"__type":"com.amazonaws.cloudwatch#Throttling","message":"Rate exceeded"}',
    ),
    "sts": (
        400,
        {"Content-Type": "text/xml"},
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        b"<Message>Rate exceeded</Message></Error><RequestId>0</RequestId></ErrorResponse>",
    ),
}


# (status, headers, body) of an AccessDeniedException per SigV4 service name.
ACCESS_DENIED_RESPONSES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "logs": (
        400,
        {"Content-Type": "application/x-amz-json-1.1"},
        b'{"__type":"AccessDeniedException","message":"User: arn:aws:sts::123456789012:'
        b"assumed-role/reader/tracelens is not authorized to perform: logs:FilterLogEvents on "
        b'resource: arn:aws:logs:us-east-1:123456789012:log-group:aws/spans:log-stream:"}',
    ),
}


@dataclass(frozen=True)
class FaultPlan:
    """How often to inject each fault (rates are probabilities per request, summing to <= 1)."""

    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    truncate_rate: float = 0.0
    slow_rate: float = 0.0
    slow_delay_s: float = 0.05
    seed: int = 1
    max_consecutive_faults: int = 2

    def __post_init__(self) -> None:
        total = self.throttle_rate + self.server_error_rate + self.truncate_rate + self.slow_rate
        if not 0.0 <= total <= 1.0:
            msg = f"fault rates must sum to between 0 and 1 (got {total})"
            raise ValueError(msg)


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 that injects faults by :class:`FaultPlan`.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    ``injected[(service, kind)]`` counts faults; ``forwarded[service]`` counts requests passed.
    """

    def __init__(self, upstream_url: str, plan: FaultPlan | None = None) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            msg = f"upstream must be http://host:port (got {upstream_url!r})"
            raise ValueError(msg)
        self._upstream = (parts.hostname, parts.port)
        self._lock = threading.Lock()
        self._plan = plan or FaultPlan()
        self._rng = random.Random(self._plan.seed)
        self._streaks: dict[tuple[str, str, str], int] = {}
        self.injected: Counter[tuple[str, str]] = Counter()
        self.forwarded: Counter[str] = Counter()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The endpoint URL clients should use."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def plan(self) -> FaultPlan:
        """The current plan."""
        return self._plan

    @plan.setter
    def plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)
            self._streaks.clear()

    def injected_count(self, kind: str, *, services: set[str] | None = None) -> int:
        """How many faults of ``kind`` were injected (optionally for some services only)."""
        return sum(
            count
            for (service, fault), count in self.injected.items()
            if fault == kind and (services is None or service in services)
        )

    def start(self) -> FaultProxy:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def decide(self, service: str, path: str, body: bytes) -> str:
        """The fault for this request: ``"throttle"``, ``"server_error"``, ``"truncate"``,
        ``"slow"`` or ``""``."""
        key = (service, path, hashlib.sha256(body).hexdigest())
        with self._lock:
            plan = self._plan
            draw = self._rng.random()
            streak = self._streaks.get(key, 0)
            fault = ""
            if streak < plan.max_consecutive_faults:
                if draw < plan.throttle_rate:
                    fault = "throttle"
                elif draw < plan.throttle_rate + plan.server_error_rate:
                    fault = "server_error"
                elif draw < plan.throttle_rate + plan.server_error_rate + plan.truncate_rate:
                    fault = "truncate"
            if fault == "throttle" and service not in THROTTLE_RESPONSES:
                fault = "server_error"
            if not fault and draw >= 1.0 - plan.slow_rate:
                fault = "slow"
            if fault in ("throttle", "server_error", "truncate"):
                self._streaks[key] = streak + 1
            else:
                self._streaks.pop(key, None)
            if fault:
                self.injected[(service, fault)] += 1
            if fault in ("", "slow"):
                self.forwarded[service] += 1
            return fault

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send the request upstream and return its status, headers and body."""
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


class DenyingProxy(FaultProxy):
    """Answers every request of ``services`` with their ``ACCESS_DENIED_RESPONSES``; forwards
    the rest."""

    def __init__(self, upstream_url: str, *, services: set[str]) -> None:
        super().__init__(upstream_url)
        self._denied = services

    def decide(self, service: str, path: str, body: bytes) -> str:
        if service in self._denied:
            self.injected[(service, "denied")] += 1
            return "denied"
        self.forwarded[service] += 1
        return ""


class _QuietServer(ThreadingHTTPServer):
    """Ignores clients that hung up (a client timed out on a slow response)."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _server_error(service: str, ordinal: int) -> tuple[int, dict[str, str], bytes]:
    """Alternately a 500 and a 503, in the service's error shape."""
    status = 503 if ordinal % 2 else 500
    code = "ServiceUnavailableException" if status == 503 else "InternalFailure"
    headers = {"Content-Type": _JSON}
    if service in ("xray", "lambda"):
        headers["x-amzn-ErrorType"] = code
    body = f'{{"__type":"{code}","message":"injected {status}"}}'.encode()
    return status, headers, body


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            scope = _SCOPE.search(self.headers.get("Authorization", ""))
            service = scope.group(1) if scope else "unknown"
            fault = proxy.decide(service, self.path, body)
            if fault == "denied":
                self._reply(*ACCESS_DENIED_RESPONSES[service])
                return
            if fault == "throttle":
                self._reply(*THROTTLE_RESPONSES[service])
                return
            if fault == "server_error":
                ordinal = proxy.injected_count("server_error", services={service})
                self._reply(*_server_error(service, ordinal))
                return
            if fault == "slow":
                time.sleep(proxy.plan.slow_delay_s)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            status, upstream_headers, payload = proxy.forward(
                self.command, self.path, headers, body
            )
            kept = {k: v for k, v in upstream_headers if k.lower() not in _HOP_BY_HOP}
            if fault == "truncate":
                self._reply(status, kept, payload, cut=len(payload) // 2)
                return
            self._reply(status, kept, payload)

        def _reply(
            self, status: int, headers: dict[str, str], body: bytes, cut: int | None = None
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body if cut is None else body[:cut])
            if cut is not None:
                self.close_connection = True

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def do_HEAD(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the counters say what happened."""

    return Handler
