"""Methods as RFC 9110 has them: HEAD wherever GET is served, and a 405 whose Allow lists every method
the path takes (several routes may share one path, e.g. GET and PUT of a report)."""

from functools import lru_cache

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answer HEAD as GET, with the same headers and no body (the statistics register HEAD themselves)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
        return None


@lru_cache(maxsize=4)
def _route_table(app: FastAPI) -> tuple:
    table = []
    for context in iter_route_contexts(app.router.routes):
        if isinstance(context.path_format, str) and context.methods:
            table.append((compile_path(context.path_format)[0], frozenset(context.methods)))
    return tuple(table)


def allowed_methods(app: FastAPI, path: str) -> str:
    """The Allow header for path: every method of every route that matches it (HEAD with GET)."""
    methods = set()
    for regex, route_methods in _route_table(app):
        if regex.match(path):
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
