"""The app called in this process the way uvicorn calls it, for the in-process figures of bench/run.py and
bench/stats.py."""

import asyncio
import json
import sys


class InProcessResponse:
    """What the measurements read of a response."""

    def __init__(self, status_code: int, headers: list[tuple[bytes, bytes]], content: bytes):
        self.status_code = status_code
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self.text[:300]}")


class InProcessClient:
    """The app called in this process the way uvicorn calls it: an event loop in this thread hands the ASGI
    app a request (scope, receive, send) and collects its response; sync routes run in anyio's worker
    threads. No HTTP client in between: httpx's ASGITransport spent ≈1–1.5 ms of this machine's CPU a request
    building and parsing requests, URLs and cookies, and starlette's TestClient adds a portal thread whose
    hand-offs cost more; neither is a cost of the service. Sync get/put, so the measurement code stays plain."""

    def __init__(self, app):
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.root = self.loop.create_future()
        self.loop.run_until_complete(self._adopt_root())

    async def _adopt_root(self) -> None:
        # anyio keeps its worker threads for the life of the event loop's root task. Under uvicorn that task
        # lives as long as the server; here each run_until_complete would be a root of its own, so every
        # request would start a worker thread and stop it again (≈1.2 ms a request with a sync route on
        # this machine, which no server pays). A pending future stands in for the server's root task.
        try:
            from anyio._backends._asyncio import _root_task
        except ImportError:  # anyio moved it: the figures then include a thread start per request
            print(
                "note: anyio's root task not found; in-process figures include a worker-thread start per request",
                file=sys.stderr,
            )
            return
        _root_task.set(self.root)

    async def _call(self, method: str, url: str, content: bytes, headers: dict) -> InProcessResponse:
        path, _, query = url.partition("?")
        header_list = [(b"host", b"pmo.bench"), (b"content-length", str(len(content)).encode())]
        header_list += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": header_list,
            "client": ("127.0.0.1", 50000),
            "server": ("pmo.bench", 80),
        }
        sent = False
        status, response_headers, body = 500, [], bytearray()

        async def receive():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}

        async def send(message):
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status, response_headers = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, send)
        return InProcessResponse(status, response_headers, bytes(body))

    def request(self, method: str, url: str, *, content: bytes = b"", headers: dict | None = None):
        return self.loop.run_until_complete(self._call(method, url, content, headers or {}))

    def get(self, url: str, **kwargs):
        return self.request("GET", url, **kwargs)

    def put(self, url: str, **kwargs):
        return self.request("PUT", url, **kwargs)

    def close(self) -> None:
        self.root.set_result(None)
        self.loop.run_until_complete(asyncio.sleep(0))  # the root's callbacks stop anyio's worker threads
        self.loop.close()
