"""Delegated administration: who manages whose accounts.

The national admin manages the national accounts (admin, helpdesk, viewer, vendor, ministry) and the
prefectures' administrators; a prefecture's administrator manages its prefecture's staff and its
municipalities' administrators; a municipality's administrator manages its own staff. So each level's
administrators are managed by the level above, nobody can make themselves more, and the April handover is
one invitation from above. Nobody changes their own account here (that is /account). Every change is in the
audit log; a change of role or of the administrator mark, disabling, and a second-factor reset end every
session of the account at once."""

import secrets

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from pmo import audit
from pmo.accounts import links, passwords, second_factor
from pmo.accounts import service as accounts
from pmo.accounts.passwords import SIGN_IN_PREFIX
from pmo.accounts.schemas import ManagedAccountChange, ManagedAccountIn, ManagedAccountOut
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.directory import service as directory
from pmo.errors import Conflict, Forbidden, InvalidInput, NotFound
from pmo.models import Account, AccountLink, Body, Token
from pmo.pagination import Page, PageRequest, fetch_page

NATIONAL_ROLES = ("admin", "helpdesk", "viewer", "vendor", "ministry")
GONE = "このアカウントはありません（管理できる範囲のアカウントではありません）。"


def administers(principal: Principal) -> bool:
    """True for the callers who manage anyone's account: the national admin and the bodies' administrators."""
    return principal.role == "admin" or (principal.administrator and principal.role in ("prefecture", "municipality"))


def _gate(principal: Principal) -> None:
    if not administers(principal):
        raise Forbidden("アカウントの管理は、管理者と各団体のアカウント管理者に限られます。")


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The accounts principal manages (the same rule as _manages, as a query condition)."""
    if principal.role == "admin":
        return or_(Account.role.in_(NATIONAL_ROLES), and_(Account.role == "prefecture", Account.administrator))
    if not administers(principal):
        return false()
    own_staff = and_(Account.role == principal.role, Account.body_id == principal.body_id, ~Account.administrator)
    if principal.role == "municipality":
        return own_staff
    municipalities = select(Body.id).where(Body.prefecture_code == principal.prefecture_code, Body.kind != "prefecture")
    return or_(
        own_staff,
        and_(Account.role == "municipality", Account.administrator, Account.body_id.in_(municipalities)),
    )


def _manages(principal: Principal, role: str, body: Body | None, administrator: bool) -> bool:
    """Whether principal manages an account of role, bound to body, with or without the administrator mark."""
    if principal.role == "admin":
        return role in NATIONAL_ROLES or (role == "prefecture" and administrator)
    if not administers(principal) or body is None:
        return False
    if role == principal.role and body.id == principal.body_id:
        return not administrator
    return (
        principal.role == "prefecture"
        and role == "municipality"
        and administrator
        and body.prefecture_code == principal.prefecture_code
    )


def _out(session: Session, account: Account) -> ManagedAccountOut:
    body = session.get(Body, account.body_id) if account.body_id else None
    last = session.scalar(
        select(func.max(Token.created_at)).where(Token.account_id == account.id, Token.prefix == SIGN_IN_PREFIX)
    )
    link_open = session.scalar(
        select(
            exists().where(
                AccountLink.account_id == account.id, AccountLink.used_at.is_(None), AccountLink.expires_at > utcnow()
            )
        )
    )
    return ManagedAccountOut(
        id=account.id,
        name=account.name,
        email=account.email,
        display_name=account.display_name,
        role=account.role,
        body=body.code if body else None,
        body_name=body.name if body else None,
        administrator=account.administrator,
        organization=account.organization,
        disabled=account.disabled_at is not None,
        password_set=account.password_hash is not None,
        second_factor=account.totp_enabled_at is not None,
        invitation_open=bool(link_open),
        last_sign_in_at=last,
        created_at=account.created_at,
    )


def list_managed(
    session: Session,
    principal: Principal,
    page: PageRequest,
    *,
    q: str | None = None,
    body: str | None = None,
    disabled: bool | None = None,
) -> Page[ManagedAccountOut]:
    """The accounts principal manages, by body then name; q matches the e-mail, name or display name."""
    _gate(principal)
    query = select(Account).outerjoin(Body, Body.id == Account.body_id).where(visible_to(principal))
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            or_(
                func.lower(Account.email).like(like),
                func.lower(Account.name).like(like),
                Account.display_name.like(f"%{q}%"),
            )
        )
    if body:
        query = query.where(Body.code == body)
    if disabled is not None:
        query = query.where(Account.disabled_at.is_not(None) if disabled else Account.disabled_at.is_(None))
    query = query.order_by(Body.code.nulls_first(), Account.role, Account.name)
    return fetch_page(session, query, page, lambda row: _out(session, row[0]))


def _managed(session: Session, principal: Principal, account_id: int) -> Account:
    _gate(principal)
    account = session.scalar(select(Account).where(Account.id == account_id, visible_to(principal)))
    if account is None:
        raise NotFound(GONE)
    return account


def get(session: Session, principal: Principal, account_id: int) -> ManagedAccountOut:
    """One account principal manages (404 for any other, as for one that does not exist)."""
    return _out(session, _managed(session, principal, account_id))


def _body(session: Session, principal: Principal, data: ManagedAccountIn) -> Body | None:
    code = data.body or (principal.body_code if principal.role != "admin" else None)
    if code is None:
        return None
    directory.validate_body_code(code, ["body"])
    body = session.scalar(select(Body).where(Body.code == code))
    if body is None:
        raise InvalidInput.at(["body"], f"団体コード {code} の団体は登録されていません。")
    return body


def invite(session: Session, principal: Principal, data: ManagedAccountIn) -> ManagedAccountOut:
    """Make an account in principal's scope and mail it an invitation. When the level above names the e-mail
    of an existing account of that body, that account is made the body's administrator instead."""
    _gate(principal)
    body = _body(session, principal, data)
    # left out: a body's role for a body, and for the national admin the least of the national roles
    role = data.role or (_body_role(body) if body is not None else "viewer")
    if not _manages(principal, role, body, data.administrator):
        raise Forbidden(_out_of_scope(principal))
    address = passwords.normalized_email(data.email)
    existing = session.scalar(select(Account).where(Account.email == address))
    if existing is not None:
        if data.administrator and existing.role == role and existing.body_id == (body.id if body else None):
            return _set_administrator(session, principal, existing, True)
        if session.scalar(select(Account.id).where(Account.id == existing.id, visible_to(principal))):
            raise Conflict(
                f"このメールアドレスのアカウント（{existing.display_name or existing.name}）は既にあります。"
                "招待をやり直すときは、そのアカウントの画面からリンクを送ってください。"
            )
        raise InvalidInput.at(["email"], "このメールアドレスは別のアカウントで使われています。")
    account = accounts.create_account(
        session,
        address if len(address) <= 80 else f"user-{secrets.token_hex(6)}",  # the name is at most 80
        role,
        body.code if body else None,
        actor=principal,
        display_name=data.display_name,
        organization=data.organization,
        operations=data.operations,
        administrator=data.administrator,
    )
    links.invite(session, account, address, actor=principal)
    return _out(session, account)


def _body_role(body: Body) -> str:
    return "prefecture" if body.kind == "prefecture" else "municipality"


def _out_of_scope(principal: Principal) -> str:
    if principal.role == "admin":
        return "管理者が管理するのは国のアカウントと都道府県のアカウント管理者です。"
    if principal.role == "prefecture":
        return "都道府県のアカウント管理者が管理するのは、自団体の職員と管内市区町村のアカウント管理者です。"
    return "市区町村のアカウント管理者が管理するのは、自団体の職員のアカウントです。"


def _not_self(principal: Principal, account: Account) -> None:
    if account.id == principal.account_id:
        raise Conflict("自分のアカウントはここでは変更できません。「アカウント」のページから変更してください。")


def _set_administrator(
    session: Session, principal: Principal, account: Account, administrator: bool
) -> ManagedAccountOut:
    body = session.get(Body, account.body_id) if account.body_id else None
    # only the level above marks or unmarks a body's administrators
    if not _manages(principal, account.role, body, True):
        raise Forbidden("アカウント管理者の指定と解除は、一つ上の階層の管理者が行います。")
    _not_self(principal, account)
    if account.administrator != administrator:
        account.administrator = administrator
        passwords.end_password_sessions(session, account.id)
        audit.record(
            session, principal, "account.administrator", f"account:{account.name}", {"administrator": administrator}
        )
    return _out(session, account)


def change(session: Session, principal: Principal, account_id: int, data: ManagedAccountChange) -> ManagedAccountOut:
    """Change an account of principal's scope: its display name, its role (national accounts between admin,
    helpdesk and viewer), its administrator mark (the level above only), disabled or enabled again."""
    account = _managed(session, principal, account_id)
    _not_self(principal, account)
    if data.administrator is not None:
        _set_administrator(session, principal, account, data.administrator)
    if data.role is not None and data.role != account.role:
        if principal.role != "admin" or account.role not in ("admin", "helpdesk", "viewer"):
            raise InvalidInput.at(
                ["role"], "このアカウントのロールは変更できません。新しいロールのアカウントを招待してください。"
            )
        audit.record(
            session, principal, "account.role", f"account:{account.name}", {"from": account.role, "to": data.role}
        )
        account.role = data.role
        passwords.end_password_sessions(session, account.id)
    if data.display_name is not None and data.display_name != account.display_name:
        account.display_name = data.display_name
        audit.record(
            session, principal, "account.rename", f"account:{account.name}", {"display_name": data.display_name}
        )
    if data.disabled is not None and data.disabled != (account.disabled_at is not None):
        account.disabled_at = utcnow() if data.disabled else None
        if data.disabled:
            passwords.end_password_sessions(session, account.id)
        audit.record(
            session, principal, "account.disable" if data.disabled else "account.enable", f"account:{account.name}"
        )
    return _out(session, account)


def send_link(session: Session, principal: Principal, account_id: int) -> ManagedAccountOut:
    """Mail the account a new link: an invitation while it has no password, else a password reset."""
    account = _managed(session, principal, account_id)
    _not_self(principal, account)
    if account.disabled_at is not None:
        raise Conflict("無効化されたアカウントにはリンクを送れません。先に有効に戻してください。")
    if not account.email:
        raise Conflict("このアカウントにはメールアドレスがありません。新しく招待してください。")
    if account.password_hash is None:
        links.invite(session, account, account.email, actor=principal)
    else:
        links.send_reset(session, account, actor=principal)
    return _out(session, account)


def reset_second_factor(session: Session, principal: Principal, account_id: int) -> ManagedAccountOut:
    """Forget the account's authenticator and recovery codes (a lost phone): it enrols again at its next
    sign-in, and every session it had ends."""
    account = _managed(session, principal, account_id)
    _not_self(principal, account)
    second_factor.clear(account)
    passwords.end_password_sessions(session, account.id)
    audit.record(session, principal, "account.second_factor_reset", f"account:{account.name}")
    return _out(session, account)
