"""Inquiry endpoints: file, the caller's queue, one inquiry, messages and the state machine's transitions."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi import Body as RequestBody

from pmo.deps import CurrentUser, ReadSessionDep, SessionDep
from pmo.inquiries import assignment, service
from pmo.inquiries.schemas import (
    AssignIn,
    Category,
    CloseIn,
    FiledInquiry,
    InquiryIn,
    InquiryOut,
    InquirySummary,
    MessageIn,
    ReasonIn,
    RouteIn,
    Similar,
    TextIn,
    Tier,
)
from pmo.openapi import declare
from pmo.pagination import Page, PageRequest, paging
from pmo.text import SingleLine

router = APIRouter(tags=["inquiries"])
InquiryId = Annotated[int, Path(ge=1, le=2_147_483_647, description="inquiry id")]


@router.post("/inquiries", response_model=FiledInquiry, status_code=201, responses=declare(403))
def file_inquiry(data: InquiryIn, session: SessionDep, principal: CurrentUser) -> FiledInquiry:
    """File an inquiry (a municipality's goes to its prefecture, a prefecture's to the helpdesk).

    Similar FAQ entries and the asker's own open inquiries come back as suggestions."""
    return service.file(session, principal, data)


@router.get("/inquiries", response_model=Page[InquirySummary])
def list_inquiries(
    session: ReadSessionDep,
    principal: CurrentUser,
    page: Annotated[PageRequest, paging(50)],
    status: Annotated[
        str | None, Query(description="open, awaiting_asker, answered, closed or active; comma-separated")
    ] = None,
    overdue: Annotated[
        bool | None, Query(description="only (true) or no (false) inquiries past their due time")
    ] = None,
    tier: Tier | None = None,
    category: Category | None = None,
    operation: Annotated[
        str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$", description="operation code")
    ] = None,
    assignee: Annotated[
        Literal["me", "none"] | None, Query(description="only those assigned to the caller (me) or to nobody (none)")
    ] = None,
) -> Page[InquirySummary]:
    """The caller's queue: the inquiries it may see, soonest due first, with overdue flags; paged."""
    return service.queue(
        session,
        principal,
        status=status,
        overdue=overdue,
        tier=tier,
        category=category,
        operation=operation,
        assignee=assignee,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/inquiries/similar", response_model=Similar)
def similar_inquiries(
    session: ReadSessionDep,
    principal: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=500), SingleLine],
) -> Similar:
    """Published FAQ entries and the caller's own open inquiries resembling q (check before filing)."""
    return service.similar(session, principal, q)


@router.get("/inquiries/{inquiry_id}", response_model=InquiryOut)
def get_inquiry(inquiry_id: InquiryId, session: ReadSessionDep, principal: CurrentUser) -> InquiryOut:
    """One inquiry with the messages the caller may read and its history (404 unless the caller may see it)."""
    return service.get(session, principal, inquiry_id)


@router.post(
    "/inquiries/{inquiry_id}/messages", response_model=InquiryOut, status_code=201, responses=declare(403, 409)
)
def add_message(inquiry_id: InquiryId, data: MessageIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Add a message, public or internal to your tier; the asker's message while asked back is its reply."""
    return service.add_message(session, principal, inquiry_id, data)


@router.post("/inquiries/{inquiry_id}/answer", response_model=InquiryOut, responses=declare(403, 409))
def answer(inquiry_id: InquiryId, data: TextIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Answer (the tier handling it): open → answered."""
    return service.act(session, principal, inquiry_id, "answer", text=data.text)


@router.post("/inquiries/{inquiry_id}/ask-back", response_model=InquiryOut, responses=declare(403, 409))
def ask_back(inquiry_id: InquiryId, data: TextIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Ask the asker for more (the tier handling it): open → awaiting_asker; the due time's clock stops."""
    return service.act(session, principal, inquiry_id, "ask_back", text=data.text)


@router.post("/inquiries/{inquiry_id}/reply", response_model=InquiryOut, responses=declare(403, 409))
def reply(inquiry_id: InquiryId, data: TextIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Reply to a question back (the asker): awaiting_asker → open; the due time moves by the paused business days."""
    return service.act(session, principal, inquiry_id, "reply", text=data.text)


@router.post("/inquiries/{inquiry_id}/escalate", response_model=InquiryOut, responses=declare(403, 409))
def escalate(inquiry_id: InquiryId, data: ReasonIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Escalate to the national helpdesk with a reason (the prefecture handling it); the helpdesk's clock starts."""
    return service.act(session, principal, inquiry_id, "escalate", text=data.reason)


@router.post("/inquiries/{inquiry_id}/route", response_model=InquiryOut, responses=declare(403, 409))
def route(inquiry_id: InquiryId, data: RouteIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Route to the ministry that owns the matter (the helpdesk): its due time starts; the helpdesk keeps following."""
    return service.act(session, principal, inquiry_id, "route", text=data.reason, ministry=data.ministry)


@router.post("/inquiries/{inquiry_id}/close", response_model=InquiryOut, responses=declare(403, 409))
def close(
    inquiry_id: InquiryId,
    session: SessionDep,
    principal: CurrentUser,
    data: Annotated[CloseIn | None, RequestBody()] = None,
) -> InquiryOut:
    """Close (the asker): settled, or withdrawn before an answer."""
    return service.act(session, principal, inquiry_id, "close", text=data.note if data else None)


@router.post("/inquiries/{inquiry_id}/reopen", response_model=InquiryOut, responses=declare(403, 409))
def reopen(inquiry_id: InquiryId, data: ReasonIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Reopen an answered or closed inquiry (the asker, within PMO_INQUIRY_REOPEN_DAYS), saying what is unclear."""
    return service.act(session, principal, inquiry_id, "reopen", text=data.reason)


@router.post("/inquiries/{inquiry_id}/assign", response_model=InquiryOut, responses=declare(403, 409))
def assign(inquiry_id: InquiryId, data: AssignIn, session: SessionDep, principal: CurrentUser) -> InquiryOut:
    """Assign it to a person of the tier handling it ("me", an account id, or null for nobody); they are told."""
    return assignment.assign(session, principal, inquiry_id, data.assignee)
