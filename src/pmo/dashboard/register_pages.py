"""The systems register and notices (publishing, read receipts) as pages — the same services as /api/v1."""

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pmo.accounts.service import ministries
from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, FieldErrors, attempt, text, validated
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.errors import Forbidden
from pmo.http import conditional
from pmo.labels import KIND_LABELS, datetime_ja
from pmo.models import Body
from pmo.notices import service as notices
from pmo.notices.schemas import AUDIENCE_LABELS, CATEGORY_LABELS, NoticeIn, NoticeOut, Readers
from pmo.systems import service as systems
from pmo.systems.schemas import REASON_LABELS, SystemDetail, SystemIn
from pmo.tabular import Sheet, file_response

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_session.require_user)]
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # 32-bit ids in the database: bigger ones are a 422
SYSTEM_TEXT = ("vendor", "planned_go_live", "deferral_reason", "deferral_target", "note")
NOTICE_TEXT = ("title", "body", "category", "audience", "prefecture", "operation", "publisher", "faq_id", "inquiry_id")
READ_FILTERS = {"unread": "未読の団体", "read": "既読の団体", "all": "すべて"}
READ_VALUES = {"unread": False, "read": True, "all": None}


def _op_names(session: Session) -> dict[str, str]:
    return {o.code: o.name for o in directory.list_operations(session)}


@router.get("/bodies/{code}/systems")
def systems_page(
    request: Request,
    code: str,
    session: ReadSessionDep,
    user: SignedIn,
    saved: Annotated[str | None, Query(max_length=40)] = None,
    version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    """The body's system per operation: vendor, go-live, 特定移行支援 with reason and target month."""
    body = directory.get_body(session, code)
    listing = systems.list_systems(session, user, body)
    op_names = _op_names(session)
    return render(
        request,
        "systems.html",
        body=body,
        systems=listing,
        op_names=op_names,
        can_edit=user.owns(body),
        saved=saved if saved in op_names else None,
        version=version,
    )


def _system_form(
    request: Request,
    session: Session,
    user: Principal,
    body: Body,
    operation: str,
    values: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
) -> Response:
    detail = systems.get_system(session, user, body, operation)
    if values is None:
        values = {**detail.model_dump(include={*SYSTEM_TEXT, "deferred"}), "etag": systems.etag_of(detail.version or 0)}
    return render(
        request,
        "system.html",
        status_code=422 if errors else 200,
        body=body,
        detail=detail,
        op_name=_op_names(session).get(detail.operation, detail.operation),
        values=values,
        errors=errors,
        reasons=REASON_LABELS,
        can_edit=user.owns(body),
    )


@router.get("/bodies/{code}/systems/{operation}")
def system_page(request: Request, code: str, operation: str, session: ReadSessionDep, user: SignedIn) -> Response:
    """One operation's system record with its history, and the form to change it (the body itself)."""
    return _system_form(request, session, user, directory.get_body(session, code), operation)


@router.post("/bodies/{code}/systems/{operation}")
def save_system(
    request: Request, code: str, operation: str, session: SessionDep, user: SignedIn, form: CsrfForm
) -> Response:
    """Record the operation's system from the form — a new version, as PUT does."""
    body = directory.get_body(session, code)
    values: dict[str, Any] = {name: text(form, name) for name in SYSTEM_TEXT}
    values["deferred"] = form.get("deferred") == "on"
    etag = text(form, "etag")
    saved: list[SystemDetail] = []
    errors = attempt(
        session,
        lambda: saved.append(
            systems.put_system(
                session, user, body, operation, validated(SystemIn, values), conditional.parse_if_match(etag)
            )
        ),
    )
    if errors:
        return _system_form(request, session, user, body, operation, {**values, "etag": etag}, errors)
    query = urlencode({"saved": operation, "version": saved[0].version})
    return RedirectResponse(f"/bodies/{code}/systems?{query}#system-{operation}", status_code=303)


def _notices(
    request: Request,
    session: Session,
    user: Principal,
    values: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
) -> Response:
    context: dict[str, Any] = {"can_publish": user.role in notices.PUBLISHERS, "errors": errors}
    if context["can_publish"]:
        prefectures, _ = directory.list_bodies(session, prefecture=None, kind="prefecture", limit=47, offset=0)
        context.update(
            values=values or {"category": "administrative_notice", "audience": "all"},
            categories=CATEGORY_LABELS,
            audiences=AUDIENCE_LABELS,
            prefectures=[(p.prefecture_code, p.name) for p in prefectures],
            operations=[(o.code, o.name, o.ministry) for o in directory.list_operations(session)],
            publishers=[user.organization] if user.role == "ministry" else ministries(session),
        )
    return render(
        request,
        "notices.html",
        status_code=422 if errors else 200,
        listing=notices.list_notices(session, user, limit=50),
        is_body=user.role in notices.READERS and user.body_id,
        **context,
    )


@router.get("/notices")
def notices_page(request: Request, session: ReadSessionDep, user: SignedIn) -> Response:
    """Notices addressed to the caller's body (senders: all, with read counts), and the form to publish one."""
    return _notices(request, session, user)


@router.post("/notices")
def publish_page(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Publish a notice to its audience from the form — the same service as POST /api/v1/notices."""
    values = {name: text(form, name) for name in NOTICE_TEXT}
    data = {name: value for name, value in values.items() if value is not None}  # a blank field is left out
    published: list[NoticeOut] = []
    errors = attempt(session, lambda: published.append(notices.publish(session, user, validated(NoticeIn, data))))
    if errors:
        return _notices(request, session, user, values, errors)
    return RedirectResponse(f"/notices/{published[0].id}?published=1", status_code=303)


RECEIPTS_PER_PAGE = 100
PrefectureFilter = Annotated[str, Query(pattern=r"^([0-9]{2})?$", description="2-digit prefecture number")]


def _receipts(session: Session, user: Principal, notice_id: int, read: str, pref: str) -> Readers | None:
    """Who of the notice's audience has read it (senders only; None for everyone else), in one prefecture."""
    try:
        receipts = notices.readers(session, user, notice_id, read=READ_VALUES[read])
    except Forbidden:  # the service decides who sees read receipts (the senders)
        return None
    if pref:
        receipts.bodies = [b for b in receipts.bodies if b.prefecture_code == pref]
    return receipts


@router.get("/notices/{notice_id}")
def notice_page(
    request: Request,
    notice_id: RowId,
    session: ReadSessionDep,
    user: SignedIn,
    read: Literal["unread", "read", "all"] = "unread",
    pref: PrefectureFilter = "",
    page: Annotated[int, Query(ge=1, le=100)] = 1,
    published: int | None = None,
) -> Response:
    """One notice; for senders, who of its audience has read it and who has not (by prefecture, a page of
    100 bodies at a time, and as a download)."""
    notice = notices.get(session, user, notice_id)
    receipts = _receipts(session, user, notice_id, read, pref)
    shown = receipts.bodies[(page - 1) * RECEIPTS_PER_PAGE : page * RECEIPTS_PER_PAGE] if receipts else []
    return render(
        request,
        "notice.html",
        notice=notice,
        receipts=receipts,
        shown=shown,
        page=page,
        per_page=RECEIPTS_PER_PAGE,
        pref=pref,
        prefectures=directory.list_bodies(session, prefecture=None, kind="prefecture", limit=100, offset=0)[0],
        read=read,
        read_filters=READ_FILTERS,
        is_body=user.role in notices.READERS and user.body_id,
        published=published,
    )


@router.get("/notices/{notice_id}/receipts")
def receipts_download(
    notice_id: RowId,
    session: ReadSessionDep,
    user: SignedIn,
    read: Literal["unread", "read", "all"] = "unread",
    pref: PrefectureFilter = "",
    format: Literal["csv", "xlsx"] = "xlsx",
) -> Response:
    """The read receipts as on the page (the filter chosen), as Excel or CSV (senders only)."""
    receipts = _receipts(session, user, notice_id, read, pref)
    if receipts is None:
        raise Forbidden("既読状況を見られるのは送信側（ヘルプデスク・管理者）だけです。")
    headers = ["団体コード", "団体名", "区分", "既読日時", "既読にした人"]
    rows = [
        [b.body, b.name, KIND_LABELS.get(b.kind, b.kind), datetime_ja(b.read_at) if b.read_at else "未読", b.read_by]
        for b in receipts.bodies
    ]
    return file_response(Sheet(headers, rows, f"お知らせ{notice_id}_{READ_FILTERS[read]}"), format)


@router.post("/notices/{notice_id}/read")
def read_page(notice_id: RowId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Mark a notice read for the caller's body."""
    notices.mark_read(session, user, notice_id)
    back = f"/notices/{notice_id}" if text(form, "back") == "notice" else f"/notices#notice-{notice_id}"
    return RedirectResponse(back, status_code=303)
