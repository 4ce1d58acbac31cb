"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from pmo.db import get_engine
from pmo.errors import ErrorOut, ServiceUnavailable
from pmo.health.metrics import render

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": ErrorOut, "description": "The database does not answer"}})
def readyz() -> dict[str, str]:
    """The database answers; 503 otherwise."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        raise ServiceUnavailable("データベースに接続できません。", detail=[{"msg": type(exc).__name__}]) from exc
    return {"status": "ready", "database": get_engine().dialect.name}


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
