"""Inquiry queue and thread, FAQ search and notices as pages — the same services as /api/v1."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, text, validated
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.errors import InvalidInput, NotFound
from pmo.faqs import service as faqs
from pmo.inquiries import service as inquiries
from pmo.inquiries.schemas import (
    CATEGORY_LABELS,
    STATE_LABELS,
    TIER_LABELS,
    CloseIn,
    InquiryIn,
    MessageIn,
    ReasonIn,
    TextIn,
)
from pmo.notices import service as notices
from pmo.text import SingleLine

router = APIRouter(include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # ids are 32-bit in the database: bigger ones are a 422, not a 500
SignedIn = Annotated[Principal, Depends(page_session.require_user)]
FILERS = ("municipality", "prefecture", "vendor")  # who may file (the service has the last word)
# What each action's form field is called in the API's own payload model.
ACTION_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "answer": (TextIn, "text"),
    "ask_back": (TextIn, "text"),
    "reply": (TextIn, "text"),
    "escalate": (ReasonIn, "reason"),
    "reopen": (ReasonIn, "reason"),
    "close": (CloseIn, "note"),
}
STATUS_CHOICES = {"active": "対応中・回答待ち", "answered": "回答済み", "closed": "完了", "": "すべて"}


def _operations(session: Session) -> list[tuple[str, str]]:
    return [(o.code, o.name) for o in directory.list_operations(session)]


@router.get("/inquiries")
def queue_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    status: str = "active",
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The caller's inquiry queue, soonest due first, and the form to file a new one."""
    listing = inquiries.queue(session, user, status=status or None, overdue=overdue, limit=50, offset=(page - 1) * 50)
    return render(
        request,
        "inquiries.html",
        listing=listing,
        status=status,
        overdue=overdue,
        page=page,
        statuses=STATUS_CHOICES,
        can_file=user.role in FILERS,
        categories=CATEGORY_LABELS,
        operations=_operations(session),
    )


@router.post("/inquiries")
def file_page(session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """File an inquiry from the form (to the prefecture, or from a prefecture to the helpdesk)."""
    data = validated(
        InquiryIn,
        {
            "title": text(form, "title") or "",
            "question": text(form, "question") or "",
            "category": text(form, "category"),
            "operation": text(form, "operation"),
            "step": text(form, "step"),
        },
    )
    filed = inquiries.file(session, user, data)
    return RedirectResponse(f"/inquiries/{filed.id}?filed=1", status_code=303)


@router.get("/inquiries/{inquiry_id}")
def thread_page(
    request: Request, inquiry_id: RowId, session: ReadSessionDep, user: SignedIn, filed: int | None = None
) -> Response:
    """One inquiry: the question, the messages the caller may read, its history and the actions open now."""
    inquiry = inquiries.get(session, user, inquiry_id)
    similar = inquiries.similar(session, user, inquiry.title, exclude_id=inquiry.id) if filed else None
    return render(
        request,
        "inquiry.html",
        inquiry=inquiry,
        similar=similar,
        action_labels=inquiries.ACTION_LABELS,
        party_labels=inquiries.PARTY_LABELS,
        state_labels=STATE_LABELS,
        tier_labels=TIER_LABELS,
        op_names=dict(_operations(session)),
        can_note_internally=user.role in inquiries.INTERNAL_TO,
        on_page=(*ACTION_MODELS, "comment"),
    )


@router.post("/inquiries/{inquiry_id}/{action}")
def act_page(inquiry_id: RowId, action: str, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Take one action on the inquiry (answer, ask back, reply, escalate, close, reopen) or add a message."""
    if action == "comment":
        message = validated(MessageIn, {"text": text(form, "text") or "", "internal": form.get("internal") == "on"})
        inquiries.add_message(session, user, inquiry_id, message)
    elif action in ACTION_MODELS:
        model, field = ACTION_MODELS[action]
        value = text(form, "text")
        payload = validated(model, {field: value} if value is not None or field != "note" else {})
        inquiries.act(session, user, inquiry_id, action, text=getattr(payload, field))
    else:
        raise NotFound(f"問合せの操作 {action!r} はありません。")
    return RedirectResponse(f"/inquiries/{inquiry_id}", status_code=303)


@router.get("/faqs")
def faq_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    q: Annotated[str | None, Query(max_length=500), SingleLine] = None,
    operation: str | None = None,
    category: str | None = None,
) -> Response:
    """FAQ search (Japanese full text), newest first without a query."""
    error, ops = None, _operations(session)
    try:
        found = faqs.search(
            session,
            user,
            q=q or None,
            operation=operation or None,
            category=category if category in CATEGORY_LABELS else None,
            limit=30,
        )
    except InvalidInput as exc:
        found, error = None, exc.message
    return render(
        request,
        "faqs.html",
        found=found,
        q=q or "",
        operation=operation or "",
        category=category or "",
        error=error,
        categories=CATEGORY_LABELS,
        operations=ops,
        op_names=dict(ops),
    )


@router.get("/notices")
def notices_page(request: Request, session: ReadSessionDep, user: SignedIn) -> Response:
    """Notices addressed to the caller's body (senders: all, with read counts), newest first."""
    listing = notices.list_notices(session, user, limit=50)
    return render(request, "notices.html", listing=listing, is_body=user.role in notices.READERS and user.body_id)


@router.post("/notices/{notice_id}/read")
def read_page(notice_id: RowId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Mark a notice read for the caller's body."""
    notices.mark_read(session, user, notice_id)
    return RedirectResponse(f"/notices#notice-{notice_id}", status_code=303)
