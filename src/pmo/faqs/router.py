"""FAQ endpoints: search, read, create (or promote an answered inquiry), update."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pmo.auth import Principal
from pmo.deps import CurrentUser, ReadSessionDep, SessionDep, require_role
from pmo.faqs import service
from pmo.faqs.schemas import DraftedFaq, FaqCreate, FaqOut, FaqStatus, FaqUpdate
from pmo.inquiries.schemas import Category
from pmo.openapi import declare
from pmo.pagination import Page, PageRequest, paging
from pmo.text import SingleLine

router = APIRouter(tags=["faq"])
FaqId = Annotated[int, Path(ge=1, le=2_147_483_647, description="FAQ id")]
Editor = Annotated[Principal, require_role(*service.EDITORS)]


@router.get("/faqs", response_model=Page[FaqOut])
def search_faqs(
    session: ReadSessionDep,
    principal: CurrentUser,
    page: Annotated[PageRequest, paging(20)],
    q: Annotated[
        str | None, Query(max_length=500, description="Japanese or English words; ranked by relevance"), SingleLine
    ] = None,
    operation: Annotated[
        str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$", description="operation code")
    ] = None,
    step: Annotated[str | None, Query(max_length=3, pattern=r"^S[0-9]{2}$", description="step code S01–S40")] = None,
    category: Category | None = None,
    status: Annotated[FaqStatus | None, Query(description="drafts are visible to the helpdesk and admin only")] = None,
) -> Page[FaqOut]:
    """FAQ entries: with q, ranked by relevance (Japanese text search); otherwise newest first."""
    return service.search(
        session,
        principal,
        q=q,
        operation=operation,
        step=step,
        status=status,
        category=category,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/faqs/{faq_id}", response_model=FaqOut)
def get_faq(faq_id: FaqId, session: ReadSessionDep, principal: CurrentUser) -> FaqOut:
    """One entry (drafts only for the helpdesk and admin)."""
    return service.get(session, principal, faq_id)


@router.post("/faqs", response_model=DraftedFaq, status_code=201, responses=declare(404, 409))  # from_inquiry
def create_faq(data: FaqCreate, session: SessionDep, principal: Editor) -> DraftedFaq:
    """Create an entry (helpdesk), or draft one from an answered inquiry with the asker's identity removed."""
    return service.create(session, principal, data)


@router.put("/faqs/{faq_id}", response_model=FaqOut)
def update_faq(faq_id: FaqId, data: FaqUpdate, session: SessionDep, principal: Editor) -> FaqOut:
    """Replace an entry (helpdesk); status published shows it to every body."""
    return service.update(session, principal, faq_id, data)
