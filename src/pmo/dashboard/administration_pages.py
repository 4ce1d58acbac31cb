"""Account administration as pages (アカウント管理): the accounts an administrator manages, inviting a
person, and changing, disabling or resetting an account — the same service and models as /api/v1/accounts."""

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo.accounts import administration
from pmo.accounts.schemas import ManagedAccountChange, ManagedAccountIn
from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, attempt, text, validated
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.labels import ROLE_LABELS
from pmo.models import AuditEntry
from pmo.pagination import PageRequest

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_session.require_user)]
AccountId = Annotated[int, Path(ge=1, le=2_147_483_647)]
PER_PAGE = 50
STATES = {"": "すべて", "active": "有効", "disabled": "無効"}
DISABLED_FILTER = {"": None, "active": False, "disabled": True}
FLASH = {
    "invited": "招待メールを送りました。",
    "changed": "変更しました。",
    "disabled": "アカウントを無効にしました。このアカウントのセッションはすべて終了しました。",
    "enabled": "アカウントを有効に戻しました。",
    "link": "リンクをメールで送りました。",
    "second_factor": "二要素認証をリセットしました。次のログインで設定し直します。",
    "administrator": "アカウント管理者の指定を変更しました。",
}
TARGET_FIELDS = ("role", "body", "administrator")  # where an invitation's problems about its target belong


def _targets(session: Session, user: Principal) -> list[tuple[str, str]]:
    """What the invitation form offers the user: (value "role|body|administrator", label), all in scope."""
    if user.role == "admin":
        national = [(f"{role}||0", ROLE_LABELS[role]) for role in administration.NATIONAL_ROLES]
        prefectures, _ = directory.list_bodies(session, prefecture=None, kind="prefecture", limit=100, offset=0)
        return national + [(f"prefecture|{b.code}|1", f"{b.name}のアカウント管理者") for b in prefectures]
    own = directory.get_body(session, user.body_code or "")
    targets = [(f"{user.role}|{own.code}|0", f"{own.name}の職員")]
    if user.role == "prefecture":
        bodies, _ = directory.list_bodies(session, prefecture=user.prefecture_code, kind=None, limit=1000, offset=0)
        targets += [
            (f"municipality|{b.code}|1", f"{b.name}のアカウント管理者")
            for b in sorted(bodies, key=lambda b: b.code)
            if b.kind != "prefecture"
        ]
    return targets


def _list(
    request: Request,
    session: Session,
    user: Principal,
    q: str,
    state: str,
    page: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    listing = administration.list_managed(
        session, user, PageRequest(PER_PAGE, (page - 1) * PER_PAGE), q=q or None, disabled=DISABLED_FILTER[state]
    )
    return render(
        request,
        "accounts.html",
        status_code,
        listing=listing,
        q=q,
        state=state,
        states=STATES,
        page=page,
        targets=_targets(session, user),
        **{"values": {}, "errors": None, "flash": None, **context},
    )


@router.get("/accounts")
def accounts_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    q: Annotated[str, Query(max_length=100)] = "",
    state: Literal["", "active", "disabled"] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    flash: str | None = None,
) -> Response:
    """The accounts the administrator manages, searchable, and the form to invite a person."""
    return _list(request, session, user, q, state, page, flash=FLASH.get(flash or ""))


@router.post("/accounts")
def invite_page(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Invite a person from the form: the account is made and mailed a link to set its password."""
    values = {name: text(form, name) for name in ("email", "display_name", "target", "organization", "operations")}
    made = []

    def invite() -> None:
        role, body, administrator = ((values["target"] or "") + "||").split("|")[:3]
        payload = {
            "email": values["email"] or "",
            "display_name": values["display_name"] or "",
            "role": role or None,
            "body": body or None,
            "administrator": administrator == "1",
            "organization": values["organization"],
            "operations": [o.strip() for o in (values["operations"] or "").split(",") if o.strip()] or None,
        }
        made.append(administration.invite(session, user, validated(ManagedAccountIn, payload)))

    errors = attempt(session, invite)
    if errors:
        for name in TARGET_FIELDS:  # the form chooses role, body and mark with one control
            if name in errors:
                errors.setdefault("target", errors.pop(name))
        return _list(request, session, user, "", "", 1, 422, values=values, errors=errors)
    return RedirectResponse(f"/accounts/{made[0].id}?flash=invited", status_code=303)


def _detail(
    request: Request, session: Session, user: Principal, account_id: int, status_code: int = 200, **context: Any
) -> Response:
    account = administration.get(session, user, account_id)
    history = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target == f"account:{account.name}")
        .order_by(AuditEntry.id.desc())
        .limit(50)
    )
    return render(
        request,
        "managed_account.html",
        status_code,
        account=account,
        history=list(history),
        national_roles=("admin", "helpdesk", "viewer"),
        **{"errors": None, "flash": None, **context},
    )


@router.get("/accounts/{account_id}")
def account_page(
    request: Request, account_id: AccountId, session: ReadSessionDep, user: SignedIn, flash: str | None = None
) -> Response:
    """One managed account: its facts, the change form and actions, and the audit of changes to it."""
    return _detail(request, session, user, account_id, flash=FLASH.get(flash or ""))


@router.post("/accounts/{account_id}")
def change_page(
    request: Request, account_id: AccountId, session: SessionDep, user: SignedIn, form: CsrfForm
) -> Response:
    """Change a managed account from one of its forms: name and role, disable or enable, the administrator mark."""
    payload: dict[str, Any] = {}
    if "display_name" in form:
        payload["display_name"] = text(form, "display_name") or ""
    if text(form, "role"):
        payload["role"] = text(form, "role")
    for flag in ("disabled", "administrator"):
        if text(form, flag) in ("true", "false"):
            payload[flag] = text(form, flag) == "true"
    errors = attempt(
        session, lambda: administration.change(session, user, account_id, validated(ManagedAccountChange, payload))
    )
    if errors:
        return _detail(request, session, user, account_id, 422, errors=errors)
    flash = (
        ("disabled" if payload["disabled"] else "enabled")
        if "disabled" in payload
        else "administrator"
        if "administrator" in payload
        else "changed"
    )
    return RedirectResponse(f"/accounts/{account_id}?{urlencode({'flash': flash})}", status_code=303)


@router.post("/accounts/{account_id}/link")
def link_page(account_id: AccountId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Mail the account a new invitation or password-reset link."""
    administration.send_link(session, user, account_id)
    return RedirectResponse(f"/accounts/{account_id}?flash=link", status_code=303)


@router.post("/accounts/{account_id}/second-factor/reset")
def second_factor_page(account_id: AccountId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Forget the account's authenticator: it sets one up again at its next sign-in."""
    administration.reset_second_factor(session, user, account_id)
    return RedirectResponse(f"/accounts/{account_id}?flash=second_factor", status_code=303)
