"""Follow-up endpoints."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pmo.deps import BodyCode, BodyDep, CurrentUser, ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.directory.codes import PREFECTURE_NUMBER_PATTERN
from pmo.followups import service
from pmo.followups.schemas import DoneIn, FollowUpIn, FollowUpOut
from pmo.openapi import declare
from pmo.pagination import Page, PageRequest, paging

router = APIRouter(tags=["follow-ups"])
FollowUpId = Annotated[int, Path(ge=1, le=2_147_483_647, description="follow-up id")]


@router.post("/bodies/{code}/follow-ups", response_model=FollowUpOut, status_code=201, responses=declare(403))
def record_follow_up(code: BodyCode, data: FollowUpIn, session: SessionDep, principal: CurrentUser) -> FollowUpOut:
    """Record a hearing or advice with a municipality (its prefecture only); optionally share it nationally."""
    return service.record(session, principal, directory.get_body(session, code), data)


@router.get("/bodies/{code}/follow-ups", response_model=Page[FollowUpOut], responses=declare(403))
def list_body_follow_ups(
    body: BodyDep, session: ReadSessionDep, principal: CurrentUser, page: Annotated[PageRequest, paging(100)]
) -> Page[FollowUpOut]:
    """The follow-ups of one municipality the caller may read, newest first."""
    return service.list_for_body(session, principal, body, page)


@router.get("/follow-ups", response_model=Page[FollowUpOut])
def list_follow_ups(
    session: ReadSessionDep,
    principal: CurrentUser,
    page: Annotated[PageRequest, paging(100)],
    shared: bool | None = None,
    prefecture: Annotated[str | None, Query(pattern=PREFECTURE_NUMBER_PATTERN)] = None,
    done: Annotated[bool | None, Query(description="true: done only; false: open only")] = None,
) -> Page[FollowUpOut]:
    """The caller's follow-ups: a prefecture's own; for the helpdesk, those shared with the national tier."""
    return service.list_visible(session, principal, shared=shared, prefecture=prefecture, page=page, done=done)


@router.get("/follow-ups/{follow_up_id}", response_model=FollowUpOut)
def get_follow_up(follow_up_id: FollowUpId, session: ReadSessionDep, principal: CurrentUser) -> FollowUpOut:
    """One follow-up (404 unless the caller may see it)."""
    return service.get(session, principal, follow_up_id)


@router.post("/follow-ups/{follow_up_id}/done", response_model=FollowUpOut, responses=declare(403, 409))
def mark_done(follow_up_id: FollowUpId, data: DoneIn, session: SessionDep, principal: CurrentUser) -> FollowUpOut:
    """Mark a follow-up done once its agreed actions are confirmed (the prefecture that recorded it)."""
    return service.mark_done(session, principal, follow_up_id, data.note)
