"""Your notifications and how messages reach you."""

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from pmo.db import utcnow
from pmo.deps import CurrentUser, ReadSessionDep, SessionDep
from pmo.notifications import service
from pmo.notifications.schemas import NotificationOut, PreferencesIn, PreferencesOut
from pmo.pagination import Page, PageRequest, paging

router = APIRouter(tags=["notifications"])
NotificationId = Annotated[int, Path(ge=1, le=2_147_483_647, description="notification id")]


class MarkedOut(BaseModel):
    marked: int


@router.get("/notifications", response_model=Page[NotificationOut])
def list_notifications(
    session: ReadSessionDep,
    principal: CurrentUser,
    page: Annotated[PageRequest, paging(50)],
    unread: bool | None = None,
) -> Page[NotificationOut]:
    """Your notifications, newest first (unread=true: only those not yet read)."""
    return service.listing(session, principal, page, unread=unread)


@router.post("/notifications/read", response_model=MarkedOut)
def mark_all_read(session: SessionDep, principal: CurrentUser) -> MarkedOut:
    """Mark every one of your notifications read."""
    return MarkedOut(marked=service.mark_all_read(session, principal, utcnow()))


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
def mark_read(notification_id: NotificationId, session: SessionDep, principal: CurrentUser) -> NotificationOut:
    """Mark one of your notifications read (404 for anyone else's)."""
    return service.mark_read(session, principal, notification_id)


@router.get("/notifications/preferences", response_model=PreferencesOut)
def get_preferences(session: ReadSessionDep, principal: CurrentUser) -> PreferencesOut:
    """How each topic of messages reaches you: immediate, digest (once a day) or off (in the app only)."""
    return service.preferences(session, principal)


@router.put("/notifications/preferences", response_model=PreferencesOut)
def set_preferences(data: PreferencesIn, session: SessionDep, principal: CurrentUser) -> PreferencesOut:
    """Change how topics of messages reach you (security mails are always sent at once)."""
    return service.set_preferences(session, principal, data)
