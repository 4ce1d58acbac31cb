"""Inquiry queue and thread and FAQ search as pages — the same services as /api/v1 (notices: register_pages)."""

from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from pmo.accounts.service import ministries
from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, FieldErrors, attempt, text, validated
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.errors import Conflict, Forbidden, InvalidInput, NotFound
from pmo.faqs import service as faqs
from pmo.inquiries import assignment, filters
from pmo.inquiries import service as inquiries
from pmo.inquiries.schemas import (
    CATEGORY_LABELS,
    STATE_LABELS,
    TIER_LABELS,
    AssignIn,
    CloseIn,
    InquiryIn,
    MessageIn,
    ReasonIn,
    RouteIn,
    TextIn,
)
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
ON_PAGE = (*ACTION_MODELS, "route", "comment", "assign")  # the actions the thread page's forms post
STATUS_CHOICES = {"active": "対応中・回答待ち", "answered": "回答済み", "closed": "完了", "": "すべて"}
TEXT_FIELDS = {"reason": "text", "note": "text"}  # the payload's field → the form's one text box
NATIONAL_READERS = ("helpdesk", "ministry", "admin")  # see inquiries of many prefectures: filter by one
# what each role may do to many inquiries at once (the service still decides for each one)
BULK_ACTIONS: dict[str, tuple[str, ...]] = {
    "helpdesk": ("route", "assign"),
    "ministry": ("assign",),
    "prefecture": ("escalate", "close", "assign"),
    "municipality": ("close",),
    "vendor": ("close",),
}


def _operations(session: Session) -> list[tuple[str, str]]:
    return [(o.code, o.name) for o in directory.list_operations(session)]


def on_form(errors: FieldErrors, form: FormData) -> FieldErrors:
    """The payload's problems by the form's field names (one text box for text, reason and note)."""
    out = {TEXT_FIELDS.get(name, name): message for name, message in errors.items()}
    if "ministry" in out and not text(form, "ministry"):  # a select left at its prompt, not a string too short
        out["ministry"] = "回付先の府省を選んでください。"
    return out


def _prefectures(session: Session) -> list[tuple[str, str]]:
    bodies, _ = directory.list_bodies(session, prefecture=None, kind="prefecture", limit=47, offset=0)
    return [(b.prefecture_code, b.name) for b in bodies]


def queue_filters(request: Request) -> dict[str, str]:
    """The queue's filters of this request, checked as saved filters are (422 for a value the queue cannot use)."""
    given = [(k, v) for k, v in request.query_params.multi_items() if k in filters.QUEUE_PARAMS]
    return {"status": "active", **dict(parse_qsl(filters.normalized(urlencode(given)), keep_blank_values=True))}


def show_queue(
    request: Request, session: Session, user: Principal, chosen: dict[str, str], *, status_code: int = 200, **extra: Any
) -> Response:
    """The queue page for these filters (also re-shown, with the problems, by the bulk and saved-filter forms)."""
    page = extra.pop("page", 1)
    listing = inquiries.queue(
        session,
        user,
        status=chosen["status"] or None,
        overdue={"true": True, "false": False}.get(chosen.get("overdue", "")),
        tier=chosen.get("tier"),
        category=chosen.get("category"),
        operation=chosen.get("operation"),
        prefecture=chosen.get("prefecture"),
        text=chosen.get("q"),
        assignee=chosen.get("assignee"),
        limit=50,
        offset=(page - 1) * 50,
    )
    return render(
        request,
        "inquiries.html",
        status_code=status_code,
        listing=listing,
        chosen=chosen,
        query=urlencode(chosen),
        page=page,
        statuses=STATUS_CHOICES,
        tiers=TIER_LABELS,
        can_file=user.role in FILERS,
        categories=CATEGORY_LABELS,
        operations=_operations(session),
        prefectures=_prefectures(session) if user.role in NATIONAL_READERS else [],
        saved_filters=filters.list_filters(session, user),
        bulk_actions=BULK_ACTIONS.get(user.role, ()),
        colleagues=assignment.colleagues(session, user),
        action_labels=inquiries.ACTION_LABELS,
        ministries=ministries(session) if "route" in BULK_ACTIONS.get(user.role, ()) else [],
        **extra,
    )


@router.get("/inquiries")
def queue_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    done: str | None = None,
    n: Annotated[int | None, Query(ge=0, le=1000)] = None,
) -> Response:
    """The caller's inquiry queue, soonest due first, filtered (status, overdue, tier, category, operation,
    prefecture, text); saved filters, bulk actions and the form to file a new one."""
    return show_queue(request, session, user, queue_filters(request), page=page, done=done, done_count=n)


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


def show_thread(
    request: Request,
    session: Session,
    user: Principal,
    inquiry_id: int,
    *,
    status_code: int = 200,
    filed: int | None = None,
    **extra: Any,
) -> Response:
    """The thread page (also re-shown by a refused action with its problems beside the fields)."""
    inquiry = inquiries.get(session, user, inquiry_id)
    similar = inquiries.similar(session, user, inquiry.title, exclude_id=inquiry.id) if filed else None
    return render(
        request,
        "inquiry.html",
        status_code=status_code,
        inquiry=inquiry,
        similar=similar,
        action_labels=inquiries.ACTION_LABELS,
        party_labels=inquiries.PARTY_LABELS,
        state_labels=STATE_LABELS,
        tier_labels=TIER_LABELS,
        op_names=dict(_operations(session)),
        can_note_internally=user.role in inquiries.INTERNAL_TO,
        on_page=ON_PAGE,
        ministries=ministries(session) if "route" in inquiry.allowed_actions else [],
        can_draft_faq=user.role in faqs.EDITORS and inquiry.state in ("answered", "closed"),
        **extra,
    )


@router.get("/inquiries/{inquiry_id}")
def thread_page(
    request: Request, inquiry_id: RowId, session: ReadSessionDep, user: SignedIn, filed: int | None = None
) -> Response:
    """One inquiry: the question, the messages the caller may read, its history and the actions open now."""
    return show_thread(request, session, user, inquiry_id, filed=filed)


def assignee_of(form: FormData) -> int | Literal["me"] | None:
    """The form's choice of assignee ("me", an account id, or "none"), checked by the API's model."""
    raw = text(form, "assignee") or ""
    number = raw.isascii() and raw.isdigit() and len(raw) <= 10
    return validated(AssignIn, {"assignee": None if raw == "none" else int(raw) if number else raw}).assignee


def _act(session: Session, user: Principal, inquiry_id: int, action: str, form: FormData) -> None:
    value = text(form, "text")
    if action == "assign":
        assignment.assign(session, user, inquiry_id, assignee_of(form))
    elif action == "comment":
        message = validated(MessageIn, {"text": value or "", "internal": form.get("internal") == "on"})
        inquiries.add_message(session, user, inquiry_id, message)
    elif action == "route":
        route = validated(RouteIn, {"ministry": text(form, "ministry") or "", "reason": value or ""})
        inquiries.act(session, user, inquiry_id, "route", text=route.reason, ministry=route.ministry)
    else:
        model, field = ACTION_MODELS[action]
        payload = validated(model, {field: value} if value is not None or field != "note" else {})
        inquiries.act(session, user, inquiry_id, action, text=getattr(payload, field))


@router.post("/inquiries/{inquiry_id}/{action}")
def act_page(
    request: Request, inquiry_id: RowId, action: str, session: SessionDep, user: SignedIn, form: CsrfForm
) -> Response:
    """Take one action on the inquiry (answer, ask back, reply, escalate, route, close, reopen, assign) or add a
    message; a refusal (the inquiry moved on) is shown on the thread as it now stands."""
    if action not in ON_PAGE:
        raise NotFound(f"問合せの操作 {action!r} はありません。")
    values = {key: text(form, key) or "" for key in ("text", "ministry", "assignee")}
    try:
        errors = attempt(session, lambda: _act(session, user, inquiry_id, action, form))
    except (Conflict, Forbidden) as refused:  # the thread moved on (or the action is another party's)
        session.rollback()
        return show_thread(request, session, user, inquiry_id, status_code=refused.status_code, refusal=refused.message)
    if errors:
        return show_thread(
            request,
            session,
            user,
            inquiry_id,
            status_code=422,
            errors=on_form(errors, form),
            failed=action,
            values=values,
        )
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
