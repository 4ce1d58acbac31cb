"""create_app(): the routers, the one error handler, middleware."""

import json
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pmo.accounts.router import router as accounts_router
from pmo.advisers.router import router as advisers_router
from pmo.api_docs import install_api_docs
from pmo.config import get_settings
from pmo.dashboard.router import install as install_dashboard
from pmo.directory.router import router as directory_router
from pmo.errors import PmoError
from pmo.faqs.router import router as faqs_router
from pmo.followups.router import router as followups_router
from pmo.health.router import router as health_router
from pmo.health.storage import is_storage_full, note_storage_full
from pmo.http.body import with_body_schemas
from pmo.http.methods import HeadAsGet, allowed_methods
from pmo.inquiries.router import router as inquiries_router
from pmo.logs import configure_logging
from pmo.messages import field_errors
from pmo.middleware import ObservabilityMiddleware, RequestLimitsMiddleware
from pmo.notices.router import router as notices_router
from pmo.notifications.router import router as notifications_router
from pmo.openapi import TAGS, declare_responses, operation_id
from pmo.outbox.delivery import keep_delivering
from pmo.reports.router import router as reports_router
from pmo.review.router import router as review_router
from pmo.route_index import index_routes, prepare_routes
from pmo.stats.fastpath import CachedStatisticsMiddleware
from pmo.stats.matrix import warm_up
from pmo.stats.router import router as stats_router
from pmo.systems.router import router as systems_router

API_PREFIX = "/api/v1"
# Metrics are Prometheus (/metrics) and logs our JSON lines; with FastAPI's native OpenTelemetry on, every
# request asked whether a tracer, meter or logger provider had been configured (≈12 µs, 4 % of a cached answer).
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
log = logging.getLogger("pmo")


def _encodable(value: object) -> object:
    """value with every string made encodable as UTF-8: an echoed lone surrogate shows as \\udXXX."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encodable(v) for v in value]
    return value


def _error(
    status: int, code: str, message: str, detail: object = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = _encodable({"error": code, "message": message, "detail": detail})  # an error must always render
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error, ours or the framework's, leaves as {"error", "message", "detail"}."""

    @app.exception_handler(PmoError)
    async def _pmo(_: Request, exc: PmoError) -> JSONResponse:
        return _error(exc.status_code, exc.code, exc.message, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc.errors())
        where = "、".join(".".join(str(p) for p in e["loc"]) + "：" + e["msg"] for e in errors[:3])
        return _error(422, "validation_error", f"入力に誤りがあります。{where}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            400: ("bad_request", "リクエスト本文を読めません（JSON が壊れているか、入れ子が深すぎます）。"),
            404: ("not_found", "該当するページまたはAPIはありません。"),
            405: ("method_not_allowed", "このメソッドは使えません。"),
            413: ("payload_too_large", "リクエスト本文が大きすぎます。分割して送信してください。"),
        }
        code, message = codes.get(exc.status_code, ("http_error", str(exc.detail)))
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request.app, request.url.path)
        return _error(exc.status_code, code, message, None, headers or None)

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: DBAPIError) -> JSONResponse:  # OperationalError, or a lost connection
        if is_storage_full(exc):
            return _storage_full(exc)
        log.warning("database unavailable: %s", exc.orig)
        return _error(
            503,
            "service_unavailable",
            "データベースに一時的に接続できません。しばらくしてから再試行してください。",
            headers={"Retry-After": "5"},
        )

    def _storage_full(exc: DBAPIError) -> JSONResponse:
        note_storage_full()
        log.error("database storage full: %s", exc.orig)
        return _error(
            503,
            "storage_full",
            "データベースの保存領域がいっぱいのため、書き込めませんでした（何も保存していません）。"
            "時間をおいて再試行するか、管理者に連絡してください。",
            headers={"Retry-After": "60"},
        )

    @app.exception_handler(DBAPIError)
    async def _db_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return await _db_down(_, exc)
        log.exception("database error")
        return _error(500, "internal_error", "サーバー内部でエラーが発生しました。")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal_error", "サーバー内部でエラーが発生しました。")


def _warm_up(app: FastAPI) -> None:
    """Build the route table, then load the statistics matrices, so the first requests after a start are fast."""
    prepare_routes(app)
    warm_up()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    if settings.warm_cache:
        threading.Thread(target=_warm_up, args=(app,), name="pmo-warm-up", daemon=True).start()
    stop = threading.Event()
    if settings.outbox_deliver_seconds:
        loop = (settings.outbox_deliver_seconds, stop)
        threading.Thread(target=keep_delivering, args=loop, name="pmo-outbox", daemon=True).start()
    yield
    stop.set()


def create_app() -> FastAPI:
    """The pmo application."""
    settings = get_settings()
    configure_logging()
    app = FastAPI(
        lifespan=_lifespan,
        title="pmo — 地方公共団体情報システム標準化 進捗管理",
        version="0.1.0",
        description="Monthly step status of the 20 standardized operations for 1,788 local bodies, "
        "inquiries, FAQ, notices, and aggregate-only statistics.",
        docs_url=None,
        redoc_url=None,  # /docs is served from the app's own files (api_docs)
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        telemetry=NO_OPENTELEMETRY,
    )
    install_error_handlers(app)
    declare_responses(health_router)
    app.include_router(health_router)
    for router in (
        directory_router,
        accounts_router,
        reports_router,
        systems_router,
        review_router,
        followups_router,
        advisers_router,
        inquiries_router,
        faqs_router,
        notices_router,
        notifications_router,
        stats_router,
    ):
        declare_responses(router)
        app.include_router(router, prefix=API_PREFIX)
    document = app.openapi
    app.openapi = lambda: with_body_schemas(document())  # type: ignore[method-assign]  # add JsonBody schemas
    install_api_docs(app)
    install_dashboard(app)  # HTML pages and static files; errors of page requests become the Japanese error page
    index_routes(app)
    app.add_middleware(RequestLimitsMiddleware, max_bytes=settings.max_body_bytes)
    # inside the observability (request id, headers, metrics, log) and HEAD as GET: a cached answer skips the rest
    app.add_middleware(CachedStatisticsMiddleware, prefix=f"{API_PREFIX}/stats/")
    app.add_middleware(HeadAsGet)
    app.add_middleware(ObservabilityMiddleware)
    return app


def openapi_text() -> str:
    """The app's OpenAPI document, serialized stably (sorted keys, trailing newline)."""
    return json.dumps(create_app().openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
