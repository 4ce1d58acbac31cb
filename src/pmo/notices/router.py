"""Notice endpoints: publish, list, read, mark read, and who has (not) read."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pmo.auth import Principal
from pmo.deps import CurrentUser, ReadSessionDep, SessionDep, require_role
from pmo.notices import service
from pmo.notices.schemas import NoticeCategory, NoticeIn, NoticeOut, Readers, ReadOut
from pmo.openapi import declare
from pmo.pagination import Page, PageRequest, paging

router = APIRouter(tags=["notices"])
NoticeId = Annotated[int, Path(ge=1, le=2_147_483_647, description="notice id")]
Sender = Annotated[Principal, require_role(*service.SENDERS)]
Publisher = Annotated[Principal, require_role(*service.PUBLISHERS)]


@router.get("/notices", response_model=Page[NoticeOut])
def list_notices(
    session: ReadSessionDep,
    principal: CurrentUser,
    page: Annotated[PageRequest, paging(20)],
    unread: Annotated[bool | None, Query(description="bodies: only unread (true) or read (false) notices")] = None,
    category: NoticeCategory | None = None,
) -> Page[NoticeOut]:
    """Notices addressed to the caller's body (senders: all, with read counts), newest first."""
    return service.list_notices(
        session, principal, unread=unread, category=category, limit=page.limit, offset=page.offset
    )


@router.post("/notices", response_model=NoticeOut, status_code=201)
def publish_notice(data: NoticeIn, session: SessionDep, principal: Publisher) -> NoticeOut:
    """Publish a notice to all bodies, the prefectures, the municipalities or one prefecture's municipalities."""
    return service.publish(session, principal, data)


@router.get("/notices/{notice_id}", response_model=NoticeOut)
def get_notice(notice_id: NoticeId, session: ReadSessionDep, principal: CurrentUser) -> NoticeOut:
    """One notice addressed to the caller (404 otherwise)."""
    return service.get(session, principal, notice_id)


@router.post("/notices/{notice_id}/read", response_model=ReadOut, responses=declare(403))
def mark_read(notice_id: NoticeId, session: SessionDep, principal: CurrentUser) -> ReadOut:
    """Mark the notice read for the caller's body (repeating it changes nothing)."""
    return service.mark_read(session, principal, notice_id)


@router.get("/notices/{notice_id}/readers", response_model=Readers)
def notice_readers(
    notice_id: NoticeId,
    session: ReadSessionDep,
    principal: Sender,
    read: Annotated[bool | None, Query(description="false: only the bodies that have not read it")] = None,
) -> Readers:
    """Every body of the audience and when it read the notice — who has not read yet (senders only)."""
    return service.readers(session, principal, notice_id, read=read)
