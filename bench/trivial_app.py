"""The floor for the statistics HTTP benchmark: a FastAPI endpoint returning fixed JSON bytes."""

import os
from pathlib import Path

from fastapi import FastAPI, Response

BODY = Path(os.environ["PMO_BENCH_BODY"]).read_bytes()
app = FastAPI()


@app.get("/bytes")
def fixed_bytes() -> Response:
    """The same bytes the statistics endpoint returns."""
    return Response(BODY, media_type="application/json")
