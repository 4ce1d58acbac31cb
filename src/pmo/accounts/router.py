"""Who am I, and the audit log for administrators."""

from typing import Annotated

from fastapi import APIRouter, Query

from pmo.accounts import service
from pmo.accounts.schemas import AuditOut, MeOut
from pmo.auth import Principal
from pmo.deps import CurrentUser, ReadSessionDep, require_role

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


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    session: ReadSessionDep,
    _: Annotated[Principal, require_role("admin")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AuditOut]:
    """The newest writes first: who did what, when (administrators only)."""
    return [AuditOut.model_validate(e, from_attributes=True) for e in service.recent_audit(session, limit, offset)]
