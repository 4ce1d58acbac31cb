"""One-time links by e-mail to set a password: an invitation (an operator or administrator makes it) or a
reset (asked for on the sign-in page). Each works once and expires; only its SHA-256 is kept, and asking for
a reset says the same whether or not the address is known."""

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pmo import audit
from pmo.accounts import passwords
from pmo.auth import Principal, hash_token
from pmo.config import get_settings
from pmo.db import utcnow
from pmo.errors import NotFound
from pmo.models import Account, AccountLink
from pmo.outbox import service as outbox
from pmo.throttle import failures

LIFETIMES = {"invite": timedelta(days=7), "reset": timedelta(hours=1)}
RESETS_PER_MINUTE = 3  # links one address may be sent a minute
GONE = "このリンクは使用済みか、有効期限が切れています。もう一度パスワードの再設定を申し込んでください。"


def _issue(session: Session, account: Account, purpose: str) -> str:
    """A new link of purpose for account (earlier open ones stop working); its path, e.g. /password/set/…"""
    now = utcnow()
    session.execute(
        update(AccountLink)
        .where(AccountLink.account_id == account.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
    )
    plain = secrets.token_urlsafe(32)
    link = AccountLink(
        account_id=account.id,
        purpose=purpose,
        token_hash=hash_token(plain),
        created_at=now,
        expires_at=now + LIFETIMES[purpose],
    )
    session.add(link)
    session.flush()
    path = f"/password/set/{plain}"
    if purpose == "invite":
        subject, lines = (
            "pmo へのご招待",
            [
                f"{account.display_name or account.name} さんのアカウントが用意されました。",
                "次のリンクからパスワードを設定してください（7日間有効、1回限り）。",
            ],
        )
    else:
        subject, lines = (
            "パスワードの再設定",
            [
                "パスワードの再設定が申し込まれました。",
                "次のリンクから新しいパスワードを設定してください（1時間有効、1回限り）。心当たりがなければ、このメールは破棄してください。",
            ],
        )
    outbox.enqueue(session, account, f"account.{purpose}", f"account_link:{link.id}", subject, lines, path)
    return path


def invite(session: Session, account: Account, email: str, *, actor: Principal | str) -> str:
    """Give the account its sign-in e-mail and mail it a link to set its password; the link's path."""
    passwords.claim_email(session, account, email)
    path = _issue(session, account, "invite")
    audit.record(session, actor, "account.invite", f"account:{account.name}", {"email": account.email})
    return path


def send_reset(session: Session, account: Account, *, actor: Principal) -> str:
    """Mail the account a reset link at an administrator's request (a forgotten password); the link's path."""
    path = _issue(session, account, "reset")
    audit.record(session, actor, "account.reset_sent", f"account:{account.name}")
    return path


def request_reset(session: Session, email: str, client: str | None) -> None:
    """Mail a reset link when the address is an enabled account's; the same answer either way (throttled)."""
    settings = get_settings()
    address = passwords.normalized_email(email)
    keys = {f"reset-client:{client or '-'}": settings.auth_failures_per_client, f"reset:{address}": RESETS_PER_MINUTE}
    failures.check(keys)
    failures.fail(keys)  # every request counts: three links a minute per address at most
    account = session.scalar(select(Account).where(Account.email == address, Account.disabled_at.is_(None)))
    if account is not None:
        _issue(session, account, "reset")
        audit.record(session, account.name, "account.reset_requested", f"account:{account.name}")


def open_link(session: Session, token: str) -> AccountLink:
    """The unused, unexpired link of token; 404 with what to do otherwise."""
    link = session.scalar(select(AccountLink).where(AccountLink.token_hash == hash_token(token)))
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise NotFound(GONE)
    return link


def use_link(session: Session, token: str, password: str) -> Account:
    """Set the password through the link (it then no longer works); every password session of the account ends."""
    link = open_link(session, token)
    account = session.get_one(Account, link.account_id)
    passwords.set_password(session, account, account.email or "", password, actor=account.name)
    link.used_at = utcnow()
    return account
