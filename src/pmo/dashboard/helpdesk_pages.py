"""Queue work as pages: bulk actions, saved filters, and FAQ drafting from an answered inquiry — the API's services."""

import re
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from pmo.accounts.service import ministries
from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, FieldErrors, attempt, text, validated
from pmo.dashboard.inquiry_pages import assignee_of, on_form, show_queue
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.errors import Conflict, Forbidden, InvalidInput, NotFound
from pmo.faqs import service as faqs
from pmo.faqs.schemas import FaqCreate, FaqOut, FaqUpdate, Removed
from pmo.inquiries import bulk, filters
from pmo.inquiries.schemas import CATEGORY_LABELS, CloseIn, ReasonIn, RouteIn, SavedFilterIn

router = APIRouter(include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
SignedIn = Annotated[Principal, Depends(page_session.require_user)]
REMOVED_LABELS = {
    "body_name": "団体名",
    "body_code": "団体コード",
    "person": "人名",
    "email": "メールアドレス",
    "phone": "電話番号",
}
FAQ_FIELDS = ("title", "question", "answer", "category", "operation", "step", "status", "publisher")
# what the scrubber puts in place of what it removed (faqs/scrub.py), marked for the reviewer
PLACEHOLDER = re.compile(r"(〇+[都道府県市区町村]?|（メールアドレス）|（電話番号）|担当者)")


# --- bulk actions on the queue ------------------------------------------------------------------


def _back(form: FormData) -> dict[str, str]:
    """The queue's filters the form was posted from (the defaults when they cannot be read)."""
    try:
        chosen = dict(parse_qsl(filters.normalized(text(form, "back") or ""), keep_blank_values=True))
    except InvalidInput:
        chosen = {}
    return {"status": "active", **chosen}


def _ids(form: FormData) -> list[int]:
    values = [v for v in form.getlist("ids") if isinstance(v, str)]
    if not all(v.isascii() and v.isdigit() and len(v) <= 10 and 1 <= int(v) <= 2_147_483_647 for v in values):
        raise InvalidInput.at(["body", "ids"], "選んだ問合せの番号が読めません。ページを開き直してください。")
    return [int(v) for v in values]


def _run_bulk(session: Session, user: Principal, form: FormData) -> int:
    action, value = text(form, "action") or "", text(form, "text")
    ministry, assignee = None, None
    if action == "assign":
        assignee = assignee_of(form)
    elif action == "route":
        route = validated(RouteIn, {"ministry": text(form, "ministry") or "", "reason": value or ""})
        value, ministry = route.reason, route.ministry
    elif action == "escalate":
        value = validated(ReasonIn, {"reason": value or ""}).reason
    elif action == "close":
        value = validated(CloseIn, {"note": value} if value else {}).note
    return bulk.act_many(session, user, _ids(form), action, text=value, ministry=ministry, assignee=assignee)


@router.post("/inquiries/bulk")
def bulk_page(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """One action (assign, route, escalate, close) on every selected inquiry, all or none; a refusal names it."""
    chosen, done = _back(form), 0
    values = {
        "ids": set(form.getlist("ids")),
        "action": text(form, "action") or "",
        "text": text(form, "text") or "",
        "ministry": text(form, "ministry") or "",
        "assignee": text(form, "assignee") or "",
    }

    def run() -> None:
        nonlocal done
        done = _run_bulk(session, user, form)

    try:
        errors = attempt(session, run)
    except bulk.Refused as refused:
        session.rollback()
        return show_queue(
            request,
            session,
            user,
            chosen,
            status_code=refused.error.status_code,
            refused=refused,
            bulk_values=values,
        )
    if errors:
        return show_queue(
            request, session, user, chosen, status_code=422, bulk_errors=on_form(errors, form), bulk_values=values
        )
    return RedirectResponse(f"/inquiries?{urlencode({**chosen, 'done': values['action'], 'n': done})}", status_code=303)


# --- saved filters ------------------------------------------------------------------------------


@router.post("/inquiries/filters")
def save_filter_page(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Keep the queue's current filters under a name (the same name replaces the one kept before)."""
    name, query = text(form, "name") or "", text(form, "query") or ""
    errors = attempt(
        session, lambda: filters.save_filter(session, user, validated(SavedFilterIn, {"name": name, "query": query}))
    )
    if errors:
        return show_queue(request, session, user, _back(form), status_code=422, filter_errors=errors, filter_name=name)
    return RedirectResponse(f"/inquiries?{filters.normalized(query)}&done=saved", status_code=303)


@router.post("/inquiries/filters/{filter_id}/delete")
def delete_filter_page(filter_id: RowId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Delete one of the caller's saved filters."""
    filters.delete_filter(session, user, filter_id)
    return RedirectResponse("/inquiries?done=deleted", status_code=303)


# --- FAQ drafting and publishing ----------------------------------------------------------------


def _editor(user: Principal) -> None:
    if user.role not in faqs.EDITORS:
        raise Forbidden("FAQ を作成・編集できるのは国のヘルプデスクのアカウントです。")


@router.get("/faqs/new")
def new_faq_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    from_inquiry: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    """The form to draft an FAQ entry from an answered inquiry (helpdesk)."""
    _editor(user)
    return render(request, "faq_new.html", from_inquiry=from_inquiry or "")


@router.post("/faqs/new")
def draft_faq_page(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Draft an entry from the inquiry, identities removed, and open it for review."""
    _editor(user)
    given, drafted, status = text(form, "from_inquiry") or "", 0, 422

    def run() -> None:
        nonlocal drafted
        drafted = faqs.create(session, user, validated(FaqCreate, {"from_inquiry": given or None})).id

    try:
        errors = attempt(session, run)
    except (NotFound, Conflict) as exc:  # no such inquiry for the caller, or not answered yet: beside the field too
        session.rollback()
        errors, status = {"from_inquiry": exc.message}, exc.status_code
    if errors or not drafted:
        errors = errors or {"from_inquiry": "問合せ番号を指定してください。"}
        return render(request, "faq_new.html", status_code=status, from_inquiry=given, errors=errors)
    return RedirectResponse(f"/faqs/{drafted}/edit?done=drafted", status_code=303)


def marked(text: str) -> list[tuple[str, bool]]:
    """The text in pieces, each with whether it stands in for something removed (the page marks those)."""
    return [(piece, i % 2 == 1) for i, piece in enumerate(PLACEHOLDER.split(text)) if piece]


def _show_editor(
    request: Request,
    session: Session,
    user: Principal,
    faq: FaqOut,
    *,
    status_code: int = 200,
    values: dict | None = None,
    errors: FieldErrors | None = None,
    done: str | None = None,
) -> Response:
    removed: list[Removed] | None = faqs.removals(session, user, faq.source_inquiry)
    return render(
        request,
        "faq_edit.html",
        status_code=status_code,
        faq=faq,
        values=values or faq.model_dump(),
        errors=errors,
        done=done,
        removed=removed,
        removed_labels=REMOVED_LABELS,
        preview={k: marked(getattr(faq, k)) for k in ("title", "question", "answer")},
        categories=CATEGORY_LABELS,
        operations=[(o.code, o.name) for o in directory.list_operations(session)],
        publishers=ministries(session),
    )


@router.get("/faqs/{faq_id}/edit")
def edit_faq_page(
    request: Request, faq_id: RowId, session: ReadSessionDep, user: SignedIn, done: str | None = None
) -> Response:
    """An entry to review and edit (what drafting removed is listed and marked), then save or publish."""
    _editor(user)
    return _show_editor(request, session, user, faqs.get(session, user, faq_id), done=done)


def _faq_update(values: dict[str, str | None]) -> FaqUpdate:
    return validated(FaqUpdate, {**values, **{k: values[k] or "" for k in ("title", "question", "answer", "status")}})


@router.post("/faqs/{faq_id}/edit")
def update_faq_page(request: Request, faq_id: RowId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Save the entry as a draft, or publish it (then every body finds it in the FAQ search)."""
    _editor(user)
    current = faqs.get(session, user, faq_id)
    values = {name: text(form, name) for name in FAQ_FIELDS}
    errors = attempt(session, lambda: faqs.update(session, user, faq_id, _faq_update(values)))
    if errors:
        return _show_editor(request, session, user, current, status_code=422, values=values, errors=errors)
    return RedirectResponse(f"/faqs/{faq_id}/edit?done={values['status']}", status_code=303)
