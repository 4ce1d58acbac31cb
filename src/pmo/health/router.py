"""Liveness, readiness and Prometheus metrics."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from pmo.config import get_settings
from pmo.db import get_engine
from pmo.deps import client_address
from pmo.errors import ErrorOut, Forbidden, ServiceUnavailable
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


LOOPBACK = frozenset({"127.0.0.1", "::1"})


scrape_bearer = HTTPBearer(
    scheme_name="metrics",
    description="PMO_METRICS_TOKEN, for /metrics only; with none set, /metrics answers this host without a token",
    auto_error=False,
)


def scrape_allowed(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(scrape_bearer)]
) -> None:
    """A scrape sends the configured metrics token; without one configured, only this host may scrape."""
    expected = get_settings().metrics_token
    if expected is None:
        if client_address(request) not in LOOPBACK:
            raise Forbidden(
                "メトリクスはこのサーバー自身からのみ取得できます"
                "（PMO_METRICS_TOKEN を設定すると他のホストからも取得できます）。"
            )
        return
    token = credentials.credentials if credentials else ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("メトリクスの取得には Authorization: Bearer（PMO_METRICS_TOKEN の値）が必要です。")


@router.get(
    "/metrics",
    response_class=Response,
    responses={403: {"model": ErrorOut, "description": "Not the scrape token, or not this host when none is set"}},
)
def metrics(_: Annotated[None, Depends(scrape_allowed)]) -> Response:
    """Prometheus metrics in the text exposition format, for the scrape token (or this host) only."""
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
