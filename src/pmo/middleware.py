"""Pure ASGI middleware: request ids, security headers, body-size limit, Prometheus metrics."""

import json
import logging
import os
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pmo import logs
from pmo.http import conditional

access_log = logging.getLogger("pmo.access")

REQUESTS = Counter("pmo_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "pmo_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Any other token a client sends as the method is counted as "OTHER", so it cannot grow the label sets.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

DEFAULT_CACHE_CONTROL = conditional.ROW_DATA.encode()
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    # Only the app's own origin; no inline scripts (pages pass figures as JSON data blocks). Inline styles are
    # allowed because plotly.js styles the SVG it draws; form posts go back to the app only.
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
]


def _error_body(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message, "detail": None}, ensure_ascii=False).encode()


class RequestLimitsMiddleware:
    """Refuses bodies over max_bytes with 413 before the app reads them, even without Content-Length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        if declared in (None, b"0") and _header(scope, b"transfer-encoding") is None:
            return await self.app(scope, receive, send)  # no body to count (most GETs)
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Once the limit tripped, whatever the app answers (FastAPI turns the failed body read into
            # a 400 "error parsing the body") is dropped in favour of the 413 below.
            if exceeded and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(send)
        return None

    async def _refuse(self, send: Send) -> None:
        message = f"リクエスト本文が大きすぎます（上限 {self.max_bytes:,} バイト）。分割して送信してください。"
        body = _error_body(413, "payload_too_large", message)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class ObservabilityMiddleware:
    """Adds a request id and security headers to every response and records metrics by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        supplied = (_header(scope, b"x-request-id") or b"")[:64]
        clean = supplied.isascii() and supplied.decode("ascii").isprintable()
        request_id = supplied if supplied and clean else os.urandom(16).hex().encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode("ascii")
        token = logs.request_id.set(request_id.decode("ascii"))
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id), *SECURITY_HEADERS]
                for name, _ in headers:
                    if name.lower() == b"cache-control":
                        break
                else:
                    headers.append((b"cache-control", DEFAULT_CACHE_CONTROL))  # nobody's rows in a shared cache
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            template = _route_template(scope)
            method = scope["method"]
            elapsed = time.perf_counter() - started
            _record(method, template, status_holder["status"], elapsed)
            logs.info_line(
                access_log,
                "request",
                {
                    "method": method,
                    "path": scope["path"],
                    "route": template,
                    "status": status_holder["status"],
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            logs.request_id.reset(token)


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The last value of a request header (names arrive lower-cased), or None."""
    found = None
    for key, value in scope["headers"]:
        if key == name:
            found = value
    return found


_series: dict[tuple[str, str, int], tuple] = {}


def _record(method: str, template: str, status: int, elapsed: float) -> None:
    """Count the request and its latency under its route template."""
    # labels() takes a lock and builds its key on every call; the children for one (method, route, status)
    # never change, and there are only as many as there are series.
    key = (method if method in METHODS else "OTHER", template, status)
    children = _series.get(key)
    if children is None:
        children = _series[key] = (REQUESTS.labels(key[0], template, str(status)), LATENCY.labels(key[0], template))
    children[0].inc()
    children[1].observe(elapsed)


def _route_template(scope: Scope) -> str:
    """The matched route's full path template (e.g. /api/v1/bodies/{code}), or 'unmatched'."""
    # FastAPI >= 0.16x serves included routers as sub-routers: scope["route"] is then the router's own
    # route, whose path lacks the include prefix; the full template sits in FastAPI's route context.
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    template: str | None = getattr(context, "path_format", None)
    if template:
        return template
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
