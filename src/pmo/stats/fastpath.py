"""Cached statistics answers served before the framework: dashboards poll the same few queries, and a hit
needs only three dictionary lookups (the query as sent, the caller's remembered principal, the rendering).

A request is answered here only when the route itself already answered the same path and query string at
this data version for some caller, and this caller's token is one the statistics route signed in within
PMO_AUTH_CACHE_SECONDS (deps.principals). Everything else — a first request, a token not yet seen, a data
version due for a recheck, a malformed header — goes to the route, which validates, authenticates and renders
as always. The middleware around this one (request id, security headers, metrics, access log) still sees
every request. Routing, dependency and query-parameter solving were two thirds of a cached answer's cost."""

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from pmo import caching, periods
from pmo.auth import hash_token
from pmo.db import utc_timestamp, utcnow
from pmo.deps import principals
from pmo.http import conditional
from pmo.stats.matrix import cache

# (path, raw query string) → (the route's cache key, until when it stands), learned from the route's answers
queries: caching.Cache[tuple[str, bytes], tuple[tuple, float]] = caching.Cache(
    "stats_queries", max_entries=20_000, max_bytes=8 * 2**20, sizeof=lambda learned: 64 * len(learned[0]) + 300
)
STATISTICS_CACHE_CONTROL = conditional.STATISTICS.encode()


@dataclass(frozen=True)
class _Route:
    path_format: str  # what the metrics and the access log name the request by


def learn(path: str, query_string: bytes, key: tuple) -> None:
    """Remember that this path and query string are answered by the rendering cached under key — until the
    clock changes what a default means (a new month: the default period) or a report window closes."""
    now = utcnow()
    last = periods.add_months(periods.current(now), -1)
    changes = [periods.end_of(periods.current(now))]
    if periods.window_open(last, now):
        changes.append(periods.due_at(last))
    queries.put((path, query_string), (key, min(changes).timestamp()))


class CachedStatisticsMiddleware:
    """Answers GET statistics requests whose rendering is cached, for callers already signed in."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith(self.prefix):
            hit = self._cached(scope)
            if hit is not None:
                scope["route"] = _Route(scope["path"])
                await _send(scope, send, *hit)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _cached(scope: Scope) -> tuple[bytes, str] | None:
        learned = queries.get((scope["path"], scope["query_string"]))
        if learned is None or learned[1] <= utc_timestamp() or not cache.current():
            return None
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
        if authorization is None or authorization[:7].lower() != b"bearer ":
            return None  # anonymous (PMO_PUBLIC_STATS) and malformed headers: the route decides
        token = authorization[7:].strip().decode("latin-1")
        if not token or principals.get(hash_token(token)) is None:
            return None
        return cache.responses.get(learned[0])


async def _send(scope: Scope, send: Send, content: bytes, etag: str) -> None:
    if_none_match = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
    headers = [(b"etag", etag.encode()), (b"cache-control", STATISTICS_CACHE_CONTROL)]
    if conditional.not_modified(if_none_match.decode("latin-1") if if_none_match else None, etag):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": content})
