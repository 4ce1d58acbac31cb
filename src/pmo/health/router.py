"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from pmo.config import get_settings
from pmo.db import get_engine
from pmo.errors import ErrorOut, ServiceUnavailable
from pmo.health.metrics import render
from pmo.health.storage import write_problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz", responses={503: {"model": ErrorOut, "description": "The database does not answer or cannot take writes"}}
)
def readyz() -> dict[str, str]:
    """The database answers and can take writes; 503 saying which is not so otherwise."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        raise ServiceUnavailable("データベースに接続できません。", detail=[{"msg": type(exc).__name__}]) from exc
    problem = write_problem(get_settings().database_url)
    if problem:
        raise ServiceUnavailable(problem, detail=[{"msg": "storage_full"}])
    return {"status": "ready", "database": get_engine().dialect.name}


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
