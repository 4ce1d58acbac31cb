"""HTML pages: sign-in, the national, prefecture and body dashboards, report forms, plotly.js (not in OpenAPI)."""

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from pmo.accounts import passwords, second_factor
from pmo.auth import Principal, principal_for_token_id, sign_in
from pmo.config import get_settings
from pmo.dashboard import (
    account_pages,
    administration_pages,
    assets,
    helpdesk_pages,
    inquiry_pages,
    notification_pages,
    outbox_pages,
    own_pages,
    register_pages,
    support_pages,
    views,
)
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, attempt, text, validated
from pmo.dashboard.pages import html_errors, render
from pmo.deps import ReadSessionDep, SessionDep, StatsSessionDep, client_address
from pmo.directory import service as directory
from pmo.errors import InvalidInput, NotFound, TooManyRequests, Unauthenticated
from pmo.http import conditional
from pmo.models import Account
from pmo.reports import service as reports
from pmo.reports import spreadsheet
from pmo.reports.schemas import ReportIn, SubmitOut

router = APIRouter(include_in_schema=False)
PageUser = Annotated[Principal | None, Depends(page_session.page_user)]
SignedIn = Annotated[Principal, Depends(page_session.require_user)]


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


@router.get("/login")
def login_form(request: Request, next: str | None = None, password_set: bool = False) -> Response:
    """The sign-in form (a token issued by `pmo tokens issue`)."""
    fresh = page_session.read(request) is None
    if fresh:  # an anonymous session carries the form's CSRF token
        page_session.start(request)
    response = render(request, "login.html", next=_safe_next(next), error=None, password_set=password_set)
    if fresh:
        page_session.save(request, response)
    return response


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    form: CsrfForm,
    token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the token and start a new session, kept on the server: the cookie holds its key, never the token."""
    try:
        token_id = sign_in(session, token.strip(), client_address(request)).token_id
    except (Unauthenticated, TooManyRequests) as exc:
        return _refused(request, exc, next, token_error=True)
    return _signed_in(request, session, token_id, next)


@router.post("/login/password")
def login_with_password(
    request: Request,
    session: SessionDep,
    form: CsrfForm,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Sign in with an e-mail address and password: a new server-side session, as with a token."""
    try:
        account = passwords.check(session, email, password, client_address(request))
    except (Unauthenticated, TooManyRequests) as exc:
        session.rollback()
        return _refused(request, exc, next, email=email)
    if account.totp_enabled_at is None and not second_factor.required(account):
        return _signed_in(request, session, passwords.open_session(session, account), next)
    second_factor.begin(account)  # a first sign-in of a role that needs one: enrol now
    return _second_factor_form(request, account, next)


def _second_factor_form(request: Request, account: Account, next: str, **context: Any) -> Response:
    """The code form after the password (with the QR code to enrol when the account has no factor yet)."""
    enrol = account.totp_enabled_at is None
    return render(
        request,
        "login_code.html",
        status_code=422 if context.get("errors") else 200,
        ticket=page_session.second_factor_ticket(request, account.id),
        next=_safe_next(next),
        enrol=enrol,
        qr=second_factor.qr_svg(account) if enrol else None,
        secret=account.totp_secret if enrol else None,
        **{"errors": None, **context},
    )


@router.post("/login/code")
def login_code(
    request: Request,
    session: SessionDep,
    form: CsrfForm,
    ticket: Annotated[str, Form(max_length=500)],
    code: Annotated[str, Form(max_length=40)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """The second factor: a code from the authenticator (enrolling it on a first sign-in) or a recovery code."""
    account_id = page_session.read_ticket(request, ticket)
    account = session.get(Account, account_id) if account_id is not None else None
    if account is None or account.disabled_at is not None:
        expired = "確認の期限（5分）が切れました。もう一度メールアドレスとパスワードでログインしてください。"
        return _refused(request, Unauthenticated(expired), next)
    recovery: list[str] = []
    if account.totp_enabled_at is None:
        errors = attempt(session, lambda: recovery.extend(second_factor.confirm(session, account, code)))
    else:
        errors = attempt(session, lambda: second_factor.verify(session, account, code, client_address(request)))
    if errors:
        return _second_factor_form(request, session.get_one(Account, account.id), next, errors=errors)
    token_id = passwords.open_session(session, account)
    if not recovery:
        return _signed_in(request, session, token_id, next)
    page_session.start(request, session, token_id)  # signed in; first the recovery codes, shown this once
    request.state.page_user = principal_for_token_id(session, token_id)  # the header shows who, not 「ログイン」
    response = render(request, "recovery_codes.html", codes=recovery, next=_safe_next(next))
    page_session.save(request, response)
    return response


def _refused(request: Request, exc: Unauthenticated | TooManyRequests, next: str, **context: Any) -> Response:
    """The sign-in form again, saying why (429 carries Retry-After)."""
    page = render(
        request, "login.html", status_code=exc.status_code, next=_safe_next(next), error=exc.message, **context
    )
    page.headers.update(exc.headers or {})
    return page


def _signed_in(request: Request, session: Session, token_id: int | None, next: str) -> Response:
    """A new server-side session for the token, and on to where the person was going."""
    response = RedirectResponse(_safe_next(next), status_code=303)
    page_session.start(request, session, token_id)
    page_session.save(request, response)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, form: CsrfForm) -> Response:
    """End the session on the server (every copy of its cookie) and in this browser."""
    page_session.end(request, session)
    response = RedirectResponse("/login", status_code=303)
    page_session.clear(response)
    return response


@router.get("/")
def national(
    request: Request,
    session: StatsSessionDep,
    user: PageUser,
    period: str | None = None,
    kind: str | None = None,
    prefecture: str | None = None,
    operation: str | None = None,
) -> Response:
    """The national dashboard: statistics only (any signed-in role; anyone when PMO_PUBLIC_STATS is on)."""
    if user is None and not get_settings().public_stats:
        raise Unauthenticated("ログインしてください。")
    return render(request, "national.html", **views.national(session, period, kind, prefecture, operation))


@router.get("/prefectures/{code}")
def prefecture_page(
    request: Request,
    code: str,
    session: ReadSessionDep,
    user: SignedIn,
    period: str | None = None,
    lagging: Literal["first", "all"] = "first",
) -> Response:
    """A prefecture's municipalities: table, heatmap, laggards with reasons, missing reports, follow-ups."""
    return render(request, "prefecture.html", **views.prefecture(session, user, code, period, lagging == "all"))


@router.get("/prefectures/{code}/export")
def prefecture_export(
    code: str,
    session: ReadSessionDep,
    user: SignedIn,
    period: str | None = None,
    table: Literal["bodies", "missing"] = "bodies",
    format: Literal["csv", "xlsx"] = "xlsx",
) -> Response:
    """The prefecture page's municipalities table or its not-yet-reported list as Excel or CSV, headed as on
    the page (the same files the review API gives)."""
    return views.prefecture_export(session, user, code, period, table, format)


@router.get("/bodies/{code}")
def body_page(
    request: Request,
    code: str,
    session: ReadSessionDep,
    user: SignedIn,
    period: str | None = None,
    op: str | None = None,
    saved: int | None = None,
    changed: int | None = None,
    warnings: int | None = None,
) -> Response:
    """A body's grid for a period with its charts, report form, upload and download."""
    data = views.body(session, user, directory.get_body(session, code), period, op)
    return render(request, "body.html", saved=saved, changed=changed, warnings=warnings, **data)


def _cells_from_form(form: FormData, operation: str, steps: list[str]) -> ReportIn:
    cells = []
    for step in steps:
        status = text(form, f"status-{step}")
        if status is None:
            continue
        cell: dict[str, str | None] = {"operation": operation, "step": step, "status": status}
        for field in ("planned_start", "planned_end", "note"):
            cell[field] = text(form, f"{field}-{step}")
        if status == "done":  # an end month belongs to done steps only
            cell["actual_end"] = text(form, f"actual_end-{step}")
        cells.append(cell)
    return validated(ReportIn, {"cells": cells})


def _back(code: str, period: str, op: str | None, out: SubmitOut) -> RedirectResponse:
    query = {"period": period, "saved": out.revision, "changed": out.changed, "warnings": len(out.warnings)}
    if op:
        query["op"] = op
    return RedirectResponse(f"/bodies/{code}?{urlencode(query)}", status_code=303)


@router.post("/bodies/{code}/reports/{period}")
def submit_form(code: str, period: str, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """The report form: the shown operation's cells, or "no change this month" — the same service as PUT."""
    body = directory.get_body(session, code)
    op = text(form, "operation")
    if text(form, "action") == "no_change":
        report, op = ReportIn(), None
    else:
        report = _cells_from_form(form, op or "", [f"S{i:02d}" for i in range(1, 41)])
    out = reports.submit_report(
        session, user, body, period, report, source="web", if_match=conditional.parse_if_match(text(form, "etag"))
    )
    return _back(code, period, op, out)


@router.post("/bodies/{code}/reports/{period}/upload")
def upload_form(code: str, period: str, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """An Excel/CSV file as the period's report: all rows or none, like the upload API."""
    body = directory.get_body(session, code)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput.at(["file"], "ファイルを選んでください。")
    out = spreadsheet.submit_upload(session, user, body, period, upload)
    return _back(code, period, None, out)


@router.get("/bodies/{code}/reports/{period}/download")
def download(
    code: str, period: str, session: ReadSessionDep, user: SignedIn, format: spreadsheet.Format = "xlsx"
) -> Response:
    """The grid as Excel or CSV, as the download API gives it."""
    grid = reports.get_grid(session, user, directory.get_body(session, code), period)
    content, media_type, filename = spreadsheet.export_grid(session, grid, format)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}", "Cache-Control": "no-store"},
    )


@router.get("/static/vendor/plotly-{version}.min.js")
def plotly_js(version: str) -> Response:
    """plotly.js from the installed plotly package (no CDN); the URL changes with the version."""
    if version != assets.PLOTLY_VERSION:
        raise NotFound("plotly.js のこの版はありません。")
    return FileResponse(
        assets.PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=31536000, immutable"}
    )


def install(app: FastAPI) -> None:
    """Add the pages and static files to the app, and show errors of page requests as pages (after the handlers)."""
    app.include_router(router)
    app.include_router(inquiry_pages.router)
    app.include_router(support_pages.router)  # follow-ups, adviser requests
    app.include_router(register_pages.router)  # systems register, notice publishing
    app.include_router(account_pages.router)  # setting a password through a one-time link
    app.include_router(own_pages.router)  # your account: sessions, personal tokens, password
    app.include_router(administration_pages.router)  # accounts an administrator manages
    app.include_router(notification_pages.router)  # your notifications and how messages reach you
    app.include_router(outbox_pages.router)  # messages, for admins
    app.include_router(helpdesk_pages.router)  # helpdesk bulk work, saved filters, FAQ drafting
    app.mount("/static", StaticFiles(directory=assets.STATIC_DIR), name="static")
    html_errors(app)
