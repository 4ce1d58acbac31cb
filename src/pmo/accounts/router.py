"""Who am I, and the audit log for administrators."""

from typing import Annotated

from fastapi import APIRouter

from pmo.accounts import service
from pmo.accounts.schemas import AuditOut, MeOut
from pmo.auth import Principal
from pmo.deps import CurrentUser, ReadSessionDep, require_role
from pmo.pagination import Page, PageRequest, paging

router = APIRouter(tags=["accounts"])


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentUser) -> MeOut:
    """The caller's account, role and the body it is bound to."""
    return MeOut(
        name=principal.name,
        role=principal.role,
        body_code=principal.body_code,
        prefecture_code=principal.prefecture_code,
    )


@router.get("/audit", response_model=Page[AuditOut])
def audit_log(
    session: ReadSessionDep,
    _: Annotated[Principal, require_role("admin")],
    page: Annotated[PageRequest, paging(100, maximum=1000)],
) -> Page[AuditOut]:
    """The newest writes first: who did what, when (administrators only)."""
    return service.recent_audit(session, page)
