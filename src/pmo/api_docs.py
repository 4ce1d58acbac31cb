"""Interactive API documentation served from the app itself (the network has no CDN): Swagger UI's
files come from the fastapi-offline package, the page loads them and a start script from our own
origin, so the Content-Security-Policy (no inline scripts) stays as strict as for every other page."""

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"

PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>pmo API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"><link rel="icon" href="/docs/assets/favicon.png"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/static/api-docs.js"></script></body></html>"""

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "`pmo tokens issue` またはアカウント画面で発行したトークン（Authorization: Bearer …）",
}


def install_api_docs(app: FastAPI) -> None:
    """/docs with the bearer scheme declared, so that 'Authorize' sends the token."""
    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)

    generate = app.openapi

    def openapi() -> dict:
        schema = generate()
        schema.setdefault("components", {}).setdefault("securitySchemes", {"bearer": BEARER})
        schema.setdefault("security", [{"bearer": []}])
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
