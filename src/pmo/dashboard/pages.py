"""Rendering pages: the Jinja2 environment, the navigation, and the Japanese error page."""

import inspect
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from pmo import labels
from pmo.accounts import administration
from pmo.auth import Principal
from pmo.dashboard import figures
from pmo.dashboard import session as page_session
from pmo.dashboard.assets import plotly_url
from pmo.db import utcnow
from pmo.notices import service as notices

HERE = Path(__file__).parent
NOT_PAGES = ("/api/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")
PAGE_PREFIXES: tuple[str, ...] = ("/login", "/logout", "/prefectures/", "/bodies/", "/inquiries", "/faqs", "/notices")
PAGE_PREFIXES += ("/static/", "/follow-ups", "/adviser-requests", "/outbox", "/password/", "/account", "/notifications")
STATUS_TITLES = {
    400: "リクエストに誤りがあります",
    401: "ログインが必要です",
    403: "このページを表示する権限がありません",
    404: "ページが見つかりません",
    405: "この操作はできません",
    409: "内容が競合しています",
    412: "ほかの人が先に更新しました",
    413: "ファイルが大きすぎます",
    422: "入力内容に誤りがあります",
    500: "サーバーでエラーが発生しました",
    503: "一時的に利用できません",
}

env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(
    month_ja=labels.month_ja,
    date_ja=labels.date_ja,
    deadline_ja=labels.deadline_ja,
    datetime_ja=labels.datetime_ja,
    fy_ja=labels.period_fy_ja,
    percent=labels.percent,
    kind_ja=lambda k: labels.KIND_LABELS.get(k, k),
    status_ja=lambda s: labels.STATUS_LABELS.get(s, s),
    role_ja=lambda r: labels.ROLE_LABELS.get(r, r),
    audit_ja=lambda a: labels.AUDIT_LABELS.get(a, a),
    report_status_ja=lambda s: labels.REPORT_STATUS_LABELS.get(s, s),
    data_table=figures.data_table,
    chart_summary=figures.summary,
)
env.globals.update(plotly_url=plotly_url, labels=labels)


def nav(user: Principal | None) -> list[tuple[str, str]]:
    """Links the signed-in user can follow: (path, label)."""
    links = [("/", "全国")]
    if user is None:
        return links
    if user.role == "prefecture" and user.body_code:
        links.append((f"/prefectures/{user.body_code}", "管内の状況"))
    if user.role in ("municipality", "prefecture") and user.body_code:
        links.append((f"/bodies/{user.body_code}", "自団体の報告"))
    if user.role != "viewer":
        links.append(("/inquiries", "問合せ"))
    if user.role in ("prefecture", "helpdesk", "admin"):
        links.append(("/follow-ups", "フォローアップ"))
    if user.role in ("municipality", "prefecture", "helpdesk", "admin"):
        links.append(("/adviser-requests", "アドバイザー派遣"))
    links.append(("/faqs", "FAQ"))
    if user.role in (*notices.READERS, *notices.PUBLISHERS):
        links.append(("/notices", "お知らせ"))
    if administration.administers(user):
        links.append(("/accounts", "アカウント管理"))
    if user.role == "admin":
        links.append(("/outbox", "送信メッセージ"))
    return links


def render(
    request: Request, template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """A page: the template with the user, navigation and CSRF token; never cached (it may hold rows)."""
    user = getattr(request.state, "page_user", None)
    html = env.get_template(template).render(
        request=request,
        user=user,
        nav=nav(user),
        path=request.url.path,
        csrf=page_session.csrf_token(request),
        unread=getattr(request.state, "unread", 0),
        printed_at=utcnow(),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store", **(headers or {})})


def is_page(request: Request) -> bool:
    """Errors of this request are shown as a page: a dashboard path, or a browser asking outside the API."""
    path = request.url.path
    if path.startswith(NOT_PAGES):
        return False
    return path == "/" or path.startswith(PAGE_PREFIXES) or "text/html" in request.headers.get("accept", "")


def _located(item: dict) -> str:
    """One problem as a person reads it: a file's row and column as the spreadsheet numbers them, then why."""
    loc, msg = item.get("loc") or [], str(item.get("msg", ""))
    if len(loc) >= 3 and loc[0] == "file" and loc[1] == "row":
        column = f"「{loc[3]}」列" if len(loc) > 3 else ""
        return f"{loc[2]} 行目{column}：{msg}"
    return msg


def error_page(
    request: Request, status: int, message: str, detail: object = None, headers: dict[str, str] | None = None
) -> Response:
    """The Japanese error page (401 on a page sends the browser to the sign-in form instead)."""
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if status < 500 and not hasattr(request.state, "page_user"):
        try:  # show who is signed in (e.g. on a 404) unless the database is what failed
            page_session.page_user(request)
        except Exception:
            request.state.page_user = None
    items = [_located(d) for d in detail if isinstance(d, dict)] if isinstance(detail, list) else []
    response = render(
        request,
        "error.html",
        status_code=status,
        title=STATUS_TITLES.get(status, "エラー"),
        message=message,
        items=items,
        code=status,
        back=_back_to(request),
    )
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


def _back_to(request: Request) -> str | None:
    """The page a refused form was posted from (this site's, by its Referer), to offer the way back."""
    referer = urlsplit(request.headers.get("referer", ""))
    if request.method != "POST" or referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return None
    return referer.path + (f"?{referer.query}" if referer.query else "")


def html_errors(app: FastAPI) -> None:
    """The one HTML branch of error handling: for page requests, every JSON error the app's handlers
    produce is shown as the Japanese error page instead (the API's JSON shape is untouched)."""
    for exc_class, handler in list(app.exception_handlers.items()):
        app.exception_handlers[exc_class] = _as_page(handler)


def _as_page(
    handler: Callable[[Request, Any], Response | Awaitable[Response]],
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        result = handler(request, exc)
        response = await result if inspect.isawaitable(result) else result  # the app's handlers are async
        if not (is_page(request) and response.headers.get("content-type", "").startswith("application/json")):
            return response
        body = json.loads(bytes(response.body))  # typed bytes | memoryview: a JSONResponse holds bytes
        keep = {k: v for k, v in response.headers.items() if k.lower() in ("retry-after", "etag")}
        return error_page(request, response.status_code, body.get("message") or "", body.get("detail"), keep)

    return handle
