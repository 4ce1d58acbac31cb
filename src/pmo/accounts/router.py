"""Who am I, the audit log for administrators, and delegated administration of accounts."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from pmo.accounts import administration, service
from pmo.accounts.schemas import AuditOut, ManagedAccountChange, ManagedAccountIn, ManagedAccountOut, MeOut
from pmo.auth import Principal
from pmo.deps import CurrentUser, ReadSessionDep, SessionDep, require_role
from pmo.openapi import declare
from pmo.pagination import Page, PageRequest, paging
from pmo.text import SingleLine

router = APIRouter(tags=["accounts"])
AccountId = Annotated[int, Path(ge=1, le=2_147_483_647, description="account id")]


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentUser) -> MeOut:
    """The caller's account, role and the body it is bound to."""
    return MeOut(
        name=principal.name,
        role=principal.role,
        body_code=principal.body_code,
        prefecture_code=principal.prefecture_code,
        administrator=principal.administrator,
    )


@router.get("/audit", response_model=Page[AuditOut])
def audit_log(
    session: ReadSessionDep,
    _: Annotated[Principal, require_role("admin")],
    page: Annotated[PageRequest, paging(100, maximum=1000)],
) -> Page[AuditOut]:
    """The newest writes first: who did what, when (administrators only)."""
    return service.recent_audit(session, page)


@router.get("/accounts", response_model=Page[ManagedAccountOut], responses=declare(403))
def list_accounts(
    session: ReadSessionDep,
    principal: CurrentUser,
    page: Annotated[PageRequest, paging(100)],
    q: Annotated[str | None, Query(max_length=100, description="part of the e-mail or name"), SingleLine] = None,
    body: Annotated[str | None, Query(pattern=r"^[0-9]{6}$")] = None,
    disabled: bool | None = None,
) -> Page[ManagedAccountOut]:
    """The accounts the caller manages (administrators only: national, a prefecture's, a municipality's)."""
    return administration.list_managed(session, principal, page, q=q, body=body, disabled=disabled)


@router.post("/accounts", response_model=ManagedAccountOut, status_code=201, responses=declare(403, 409))
def invite_account(data: ManagedAccountIn, session: SessionDep, principal: CurrentUser) -> ManagedAccountOut:
    """Invite a person into the caller's scope: the account is made and mailed a link to set its password."""
    return administration.invite(session, principal, data)


@router.get("/accounts/{account_id}", response_model=ManagedAccountOut, responses=declare(403))
def get_account(account_id: AccountId, session: ReadSessionDep, principal: CurrentUser) -> ManagedAccountOut:
    """One account the caller manages (404 for any other)."""
    return administration.get(session, principal, account_id)


@router.patch("/accounts/{account_id}", response_model=ManagedAccountOut, responses=declare(403, 409))
def change_account(
    account_id: AccountId, data: ManagedAccountChange, session: SessionDep, principal: CurrentUser
) -> ManagedAccountOut:
    """Rename, change the role or administrator mark of, disable or enable an account the caller manages."""
    return administration.change(session, principal, account_id, data)


@router.post("/accounts/{account_id}/link", response_model=ManagedAccountOut, responses=declare(403, 409))
def send_account_link(account_id: AccountId, session: SessionDep, principal: CurrentUser) -> ManagedAccountOut:
    """Mail the account a new invitation (no password yet) or password-reset link."""
    return administration.send_link(session, principal, account_id)


@router.post(
    "/accounts/{account_id}/second-factor/reset", response_model=ManagedAccountOut, responses=declare(403, 409)
)
def reset_second_factor(account_id: AccountId, session: SessionDep, principal: CurrentUser) -> ManagedAccountOut:
    """Forget the account's authenticator (a lost phone): it enrols again at its next sign-in."""
    return administration.reset_second_factor(session, principal, account_id)
