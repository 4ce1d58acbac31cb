"""Your notifications as a page (通知): the list with what is unread, opening one (marked read, then its page),
and how each topic of messages reaches you — the same service as /api/v1/notifications."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, attempt, text, validated
from pmo.dashboard.pages import render
from pmo.db import utcnow
from pmo.deps import ReadSessionDep, SessionDep
from pmo.notifications import service
from pmo.notifications.schemas import PreferencesIn
from pmo.pagination import PageRequest

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_session.require_user)]
NotificationId = Annotated[int, Path(ge=1, le=2_147_483_647)]
PER_PAGE = 50
FLASH = {"saved": "通知の受け取り方を保存しました。", "read": "すべて既読にしました。"}


def _page(
    request: Request, session: Session, user: Principal, page: int, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "notifications.html",
        status_code,
        listing=service.listing(session, user, PageRequest(PER_PAGE, (page - 1) * PER_PAGE)),
        page=page,
        preferences=service.preferences(session, user).modes,
        topics=service.TOPICS,
        modes=service.MODES,
        **{"errors": None, "flash": None, **context},
    )


@router.get("/notifications")
def notifications_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    flash: str | None = None,
) -> Response:
    """Your notifications, newest first, and how each topic of messages reaches you."""
    return _page(request, session, user, page, flash=FLASH.get(flash or ""))


@router.post("/notifications/{notification_id}/open")
def open_notification(notification_id: NotificationId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Mark the notification read and go to the page it is about."""
    opened = service.mark_read(session, user, notification_id)
    return RedirectResponse(opened.path or "/notifications", status_code=303)


@router.post("/notifications/read")
def read_all(session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Mark every notification read."""
    service.mark_all_read(session, user, utcnow())
    return RedirectResponse("/notifications?flash=read", status_code=303)


@router.post("/notifications/preferences")
def save_preferences(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Save how each topic reaches you."""
    modes = {topic: text(form, topic) for topic in service.TOPICS if text(form, topic)}
    errors = attempt(
        session, lambda: service.set_preferences(session, user, validated(PreferencesIn, {"modes": modes}))
    )
    if errors:
        return _page(request, session, user, 1, 422, errors=errors)
    return RedirectResponse("/notifications?flash=saved#settings", status_code=303)
