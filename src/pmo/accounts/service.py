"""Accounts and tokens: create, issue (shown once), revoke, list; every change audited."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo import audit, messages
from pmo.accounts.schemas import AuditOut
from pmo.auth import Principal, hash_token, new_token
from pmo.db import utcnow
from pmo.directory import service as directory
from pmo.errors import Conflict, InvalidInput, NotFound
from pmo.models import ROLES, Account, AuditEntry, Body, Operation, Token
from pmo.pagination import Page, PageRequest, fetch_page

BODY_ROLES = {"municipality": "municipality", "prefecture": "prefecture"}
ORGANIZATION_ROLES = ("vendor", "ministry")


@dataclass(frozen=True)
class IssuedToken:
    account: str
    role: str
    body_code: str | None
    token: str
    token_id: int
    expires_at: datetime


def ministries(session: Session) -> list[str]:
    """The organisations a ministry account may stand for: those owning operations, and デジタル庁."""
    owners = session.scalars(select(Operation.ministry).distinct().order_by(Operation.ministry))
    return ["デジタル庁", *[m for m in owners if m != "デジタル庁"]]


def _organization(
    session: Session, role: str, organization: str | None, operations: list[str] | None
) -> list[str] | None:
    """Check what binds a vendor (company, operations supplied) or a ministry (which one)."""
    if role not in ORGANIZATION_ROLES:
        if organization or operations:
            raise InvalidInput.at(["organization"], f"ロール {role} には組織（--organization）を指定しません。")
        return None
    if not organization or len(organization) > 120:
        raise InvalidInput.at(
            ["organization"], f"ロール {role} のアカウントには組織名（--organization、120文字以内）が必要です。"
        )
    if role == "ministry":
        allowed = ministries(session)
        if organization not in allowed:
            raise InvalidInput.at(["organization"], f"府省は {'・'.join(allowed)} のいずれかです（{organization!r}）。")
        if operations:
            raise InvalidInput.at(
                ["operations"], "府省の所管業務は業務一覧から決まります。--operations は指定しません。"
            )
        return None
    codes = set(session.scalars(select(Operation.code)))
    unknown = [c for c in operations or [] if c not in codes]
    if unknown:
        raise InvalidInput.at(["operations"], messages.unknown_operation(unknown))
    return sorted(set(operations or []))


def create_account(
    session: Session,
    name: str,
    role: str,
    body_code: str | None,
    *,
    actor: Principal | str,
    display_name: str | None = None,
    organization: str | None = None,
    operations: list[str] | None = None,
    administrator: bool = False,
) -> Account:
    """A new account: municipality and prefecture roles bound to a body of that kind, vendor and ministry
    roles to an organisation (a vendor also to the operations it supplies). administrator: it manages its
    body's accounts (pmo.accounts.administration)."""
    if administrator and role not in BODY_ROLES:
        raise InvalidInput.at(["administrator"], "アカウント管理者にできるのは都道府県と市区町村のアカウントです。")
    if role not in ROLES:
        raise InvalidInput.at(["role"], f"ロールは {', '.join(ROLES)} のいずれかです（{role!r}）。")
    if not name or len(name) > 80:
        raise InvalidInput.at(["name"], "アカウント名は1〜80文字です。")
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise Conflict(f"アカウント {name} は既にあります。")
    body = None
    if role in BODY_ROLES:
        if not body_code:
            raise InvalidInput.at(["body"], f"ロール {role} のアカウントには団体コード（--body）が必要です。")
        directory.validate_body_code(body_code, ["body"])
        body = session.scalar(select(Body).where(Body.code == body_code))
        if body is None:
            raise InvalidInput.at(["body"], f"団体コード {body_code} の団体は登録されていません。")
        if (role == "prefecture") != (body.kind == "prefecture"):
            need = "都道府県" if role == "prefecture" else "市区町村"
            raise InvalidInput.at(
                ["body"], f"ロール {role} には{need}の団体コードを指定してください（{body.name} は対象外）。"
            )
    elif body_code:
        raise InvalidInput.at(["body"], f"ロール {role} は団体に結び付きません。--body は指定しないでください。")
    supplied = _organization(session, role, organization, operations)
    account = Account(
        name=name,
        role=role,
        body_id=body.id if body else None,
        display_name=display_name,
        created_at=utcnow(),
        organization=organization if role in ORGANIZATION_ROLES else None,
        operations=supplied,
        administrator=administrator,
    )
    session.add(account)
    session.flush()
    audit.record(
        session,
        actor,
        "account.create",
        f"account:{name}",
        {"role": role, "body": body_code, "organization": account.organization, "administrator": administrator},
    )
    return account


def get_account(session: Session, name: str) -> Account:
    """The account with this name, or NotFound."""
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise NotFound(f"アカウント {name} はありません。")
    return account


def account_body_code(session: Session, account: Account) -> str | None:
    """The code of the body an account is bound to, if any."""
    return session.scalar(select(Body.code).where(Body.id == account.body_id)) if account.body_id else None


def issue_token(session: Session, account: Account, *, actor: str, ttl_days: int) -> IssuedToken:
    """A new token for account; its plain text is returned here once and never stored."""
    if ttl_days < 1:
        raise InvalidInput.at(["days"], "有効期間は1日以上です。")
    if account.disabled_at is not None:
        raise Conflict(f"アカウント {account.name} は無効化されています。トークンは発行できません。")
    plain = new_token()
    token = Token(
        account_id=account.id,
        token_hash=hash_token(plain),
        prefix=plain[:12],
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(days=ttl_days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session, actor, "token.issue", f"account:{account.name}", {"token_id": token.id, "prefix": token.prefix}
    )
    return IssuedToken(
        account.name, account.role, account_body_code(session, account), plain, token.id, token.expires_at
    )


def revoke_tokens(session: Session, *, actor: str, token_id: int | None = None, account_name: str | None = None) -> int:
    """Revoke one token by id, or every live token of an account; returns how many were revoked."""
    query = select(Token).where(Token.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(Token.id == token_id)
    elif account_name is not None:
        query = query.where(Token.account_id == get_account(session, account_name).id)
    else:
        raise InvalidInput.at(["token"], "失効させるトークンの ID かアカウント名を指定してください。")
    tokens = list(session.scalars(query))
    if token_id is not None and not tokens:
        raise NotFound(f"有効なトークン {token_id} はありません。")
    for token in tokens:
        token.revoked_at = utcnow()
        audit.record(session, actor, "token.revoke", f"token:{token.id}")
    return len(tokens)


def disable_account(session: Session, name: str, *, actor: str) -> Account:
    """Disable an account: its tokens stop working at once."""
    account = get_account(session, name)
    account.disabled_at = account.disabled_at or utcnow()
    audit.record(session, actor, "account.disable", f"account:{name}")
    return account


def list_accounts(session: Session) -> list[tuple[Account, str | None, int]]:
    """Every account with its body code and number of live tokens."""
    live = (
        select(Token.account_id, func.count().label("n"))
        .where(Token.revoked_at.is_(None), Token.expires_at > utcnow())
        .group_by(Token.account_id)
        .subquery()
    )
    return [
        (account, code, n or 0)
        for account, code, n in session.execute(
            select(Account, Body.code, live.c.n)
            .outerjoin(Body, Account.body_id == Body.id)
            .outerjoin(live, live.c.account_id == Account.id)
            .order_by(Account.name)
        )
    ]


def recent_audit(session: Session, page: PageRequest) -> Page[AuditOut]:
    """The newest audit entries first, a page at a time."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    return fetch_page(session, query, page, lambda row: AuditOut.model_validate(row[0], from_attributes=True))
