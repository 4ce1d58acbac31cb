"""What pmo relies on inside FastAPI beyond its documented API (pyproject bounds fastapi to the versions
checked here). When an upgrade fails one of these, the named module must be adapted before the bound moves."""

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient


def test_route_contexts_give_each_included_routes_full_path():
    """route_index.py and http/methods.py list the paths of included routers through iter_route_contexts."""
    from fastapi import routing

    if not hasattr(routing, "iter_route_contexts"):
        pytest.fail("fastapi.routing.iter_route_contexts is gone: adapt pmo/route_index.py and pmo/http/methods.py")
    app = FastAPI()
    router = APIRouter()
    router.get("/things/{thing_id}")(lambda thing_id: thing_id)
    app.include_router(router, prefix="/api/v1")
    formats = [c.path_format for route in app.router.routes for c in routing.iter_route_contexts([route])]
    assert "/api/v1/things/{thing_id}" in formats, f"route contexts no longer carry full paths: {formats}"


def test_the_matched_routes_template_is_in_the_scope():
    """middleware.py labels metrics with scope['fastapi']['effective_route_context'].path_format."""
    seen = {}
    app = FastAPI()
    router = APIRouter()

    @router.get("/things/{thing_id}")
    def thing(thing_id: str, request: Request):
        seen["context"] = (request.scope.get("fastapi") or {}).get("effective_route_context")
        return thing_id

    app.include_router(router, prefix="/api/v1")
    assert TestClient(app).get("/api/v1/things/7").status_code == 200
    template = getattr(seen["context"], "path_format", None)
    assert template == "/api/v1/things/{thing_id}", (
        f"FastAPI no longer puts the route template in scope['fastapi']: adapt pmo/middleware.py ({template!r})"
    )


def test_the_router_asks_the_wrapped_route_matchers(monkeypatch):
    """route_index.py replaces each top-level route's matches() with a guard; the router must call it."""
    from pmo.app import create_app
    from pmo.route_index import _Guard

    app = create_app()
    guards = [route.matches for route in app.router.routes if isinstance(route.matches, _Guard)]
    assert guards, "create_app() no longer guards its routes (pmo/route_index.py)"
    asked = []
    for guard in guards:
        monkeypatch.setattr(guard, "_matches", lambda scope, inner=guard._matches: asked.append(1) or inner(scope))
    client = TestClient(app)
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/no-such-path").status_code == 404
    assert asked, "Starlette's router no longer calls route.matches: adapt pmo/route_index.py"
