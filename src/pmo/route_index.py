"""A string test in front of each top-level route, so a request skips the routers it cannot match."""

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

Matcher = Callable[[Scope], tuple[Match, Scope]]


def index_routes(app: FastAPI) -> None:
    """Guard every top-level route (an included router above all) by the literal prefixes of its paths."""
    # FastAPI asks each included router in turn, and each router each of its routes, until one matches:
    # ~60 regex tests and scope rewrites before the statistics routes. A path can only match a route whose
    # literal text before the first {param} it starts with, so a failed startswith() gives the same answer.
    # The routes are fixed once create_app() returns.
    for route in app.router.routes:
        route.matches = _Guard(route, route.matches)  # type: ignore[method-assign]  # this route only, on purpose


def prepare_routes(app: FastAPI) -> None:
    """Build the route table now rather than on the first request (FastAPI builds included routers lazily)."""
    for route in app.router.routes:
        if isinstance(route.matches, _Guard):
            route.matches.prefixes()


class _Guard:
    """route.matches, answering NONE at once for a path outside every literal prefix of the route."""

    def __init__(self, route: BaseRoute, matches: Matcher):
        self._route = route
        self._matches = matches
        self._prefixes: tuple[str, ...] | None = None

    def prefixes(self) -> tuple[str, ...]:
        """The text before the first {param} of each path the route serves; () when one has no path."""
        if self._prefixes is None:
            formats = [context.path_format for context in iter_route_contexts([self._route])]
            usable = formats and all(isinstance(f, str) for f in formats)
            self._prefixes = (
                tuple(sorted({f.partition("{")[0] for f in formats if isinstance(f, str)})) if usable else ()
            )
        return self._prefixes

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        prefixes = self._prefixes if self._prefixes is not None else self.prefixes()
        if prefixes and scope["type"] in ("http", "websocket") and not _route_path(scope).startswith(prefixes):
            return Match.NONE, {}
        return self._matches(scope)


def _route_path(scope: Scope) -> str:
    """The path the routes see: without the root path a proxy mounts the app under (as Starlette's routing)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
