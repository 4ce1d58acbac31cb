"""Adviser support endpoints (アドバイザー派遣)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pmo.advisers import service
from pmo.advisers.schemas import AdviserRequestIn, AdviserRequestOut, AssignIn, OutcomeIn, State, VisitIn
from pmo.deps import BodyCode, BodyDep, CurrentUser, ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.openapi import declare
from pmo.pagination import Page, PageRequest, paging

router = APIRouter(tags=["advisers"])
RequestId = Annotated[int, Path(ge=1, le=2_147_483_647, description="adviser request id")]


@router.post(
    "/bodies/{code}/adviser-requests", response_model=AdviserRequestOut, status_code=201, responses=declare(403)
)
def request_adviser(
    code: BodyCode, data: AdviserRequestIn, session: SessionDep, principal: CurrentUser
) -> AdviserRequestOut:
    """Ask the national tier for an adviser (the body itself, or its prefecture)."""
    return service.request(session, principal, directory.get_body(session, code), data)


@router.get("/bodies/{code}/adviser-requests", response_model=Page[AdviserRequestOut], responses=declare(403))
def body_adviser_requests(
    body: BodyDep, session: ReadSessionDep, principal: CurrentUser, page: Annotated[PageRequest, paging(50)]
) -> Page[AdviserRequestOut]:
    """The body's adviser requests the caller may see, newest first."""
    return service.list_visible(session, principal, page, state=None, body=body)


@router.get("/adviser-requests", response_model=Page[AdviserRequestOut])
def adviser_requests(
    session: ReadSessionDep,
    principal: CurrentUser,
    page: Annotated[PageRequest, paging(50)],
    state: Annotated[State | None, Query()] = None,
) -> Page[AdviserRequestOut]:
    """The caller's adviser requests (all for the national tier, its municipalities' for a prefecture), newest
    first."""
    return service.list_visible(session, principal, page, state=state)


@router.get("/adviser-requests/{request_id}", response_model=AdviserRequestOut)
def adviser_request(request_id: RequestId, session: ReadSessionDep, principal: CurrentUser) -> AdviserRequestOut:
    """One adviser request with its visits."""
    return service.get(session, principal, request_id)


@router.post("/adviser-requests/{request_id}/assign", response_model=AdviserRequestOut, responses=declare(403, 409))
def assign(request_id: RequestId, data: AssignIn, session: SessionDep, principal: CurrentUser) -> AdviserRequestOut:
    """The national tier names the adviser."""
    return service.act(session, principal, request_id, "assign", data)


@router.post("/adviser-requests/{request_id}/visits", response_model=AdviserRequestOut, responses=declare(403, 409))
def record_visit(
    request_id: RequestId, data: VisitIn, session: SessionDep, principal: CurrentUser
) -> AdviserRequestOut:
    """The national tier records a visit (on site or online) and what was advised."""
    return service.act(session, principal, request_id, "visit", data)


@router.post("/adviser-requests/{request_id}/complete", response_model=AdviserRequestOut, responses=declare(403, 409))
def complete(request_id: RequestId, data: OutcomeIn, session: SessionDep, principal: CurrentUser) -> AdviserRequestOut:
    """The national tier closes the support with its outcome."""
    return service.act(session, principal, request_id, "complete", data)


@router.post("/adviser-requests/{request_id}/cancel", response_model=AdviserRequestOut, responses=declare(403, 409))
def cancel(request_id: RequestId, data: OutcomeIn, session: SessionDep, principal: CurrentUser) -> AdviserRequestOut:
    """Withdraw a request before any visit (the requester's side or the national tier)."""
    return service.act(session, principal, request_id, "cancel", data)
