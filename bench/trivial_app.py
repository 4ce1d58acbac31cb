"""The floor for the statistics HTTP benchmark: an `async def` FastAPI endpoint returning the statistics
answer's bytes with its headers (content type, ETag, Cache-Control), under the same uvicorn settings and the
same FastAPI options (OpenTelemetry off, as in pmo): what any FastAPI app pays to send that answer, without
pmo's authentication, caching and middleware."""

import json
import os
from pathlib import Path

from fastapi import FastAPI, Response

BODY = Path(os.environ["PMO_BENCH_BODY"]).read_bytes()
HEADERS = json.loads(Path(os.environ["PMO_BENCH_HEADERS"]).read_text()) if os.environ.get("PMO_BENCH_HEADERS") else {}
app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})  # as pmo's (src/pmo/app.py)


@app.get("/bytes")
async def fixed_bytes() -> Response:
    """The same bytes and headers the statistics endpoint returns (no worker-thread hop: async, as pmo's is)."""
    return Response(BODY, media_type="application/json", headers=HEADERS)
