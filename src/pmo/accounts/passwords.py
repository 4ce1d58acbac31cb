"""Personal sign-in: an e-mail address and a password, kept only as an argon2id hash (argon2-cffi: the
OWASP default, salted, memory-hard, verified in constant time). A password sign-in opens a page session
backed by a sign-in token of its own, so every existing rule (expiry, revocation, a disabled account, the
role and scope of the account) applies to it unchanged."""

from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pmo import audit
from pmo.auth import Principal, hash_token, new_token
from pmo.config import get_settings
from pmo.db import utcnow
from pmo.errors import InvalidInput, Unauthenticated
from pmo.models import Account, Token
from pmo.throttle import failures

hasher = PasswordHasher()
SIGN_IN_PREFIX = "signin"  # Token.prefix of a page session's own token (a real token starts with pmo_)
MIN_LENGTH, MAX_LENGTH = 12, 128
WRONG = "メールアドレスまたはパスワードが正しくありません。"


def normalized_email(email: str) -> str:
    """The sign-in name as stored: trimmed and lower-cased (addresses differ in case only by mistake)."""
    return email.strip().lower()


@cache
def _dummy_hash() -> str:
    """Verified against when no account matches, so that a wrong address costs what a wrong password does
    (made on first use: an argon2 hash at import would slow every CLI command and worker start)."""
    return hasher.hash("a password nobody has")


def email_problem(address: str) -> str | None:
    """Why address cannot be a sign-in name, in Japanese; None when it can."""
    if "@" not in address.strip("@") or len(address) > 254 or any(c.isspace() for c in address):
        return "メールアドレスの形式が正しくありません。"
    return None


def check_new_password(password: str, confirm: str) -> None:
    """422 unless the two entries of a new password agree and the password keeps the rules."""
    if password != confirm:
        raise InvalidInput.at(["confirm"], "確認用のパスワードが一致しません。")
    check_password_rules(password)


def check_password_rules(password: str) -> None:
    """422 unless the password is 12–128 characters and not one character repeated."""
    if not (MIN_LENGTH <= len(password) <= MAX_LENGTH):
        raise InvalidInput.at(["password"], f"パスワードは {MIN_LENGTH}〜{MAX_LENGTH} 文字にしてください。")
    if len(set(password)) < 4:
        raise InvalidInput.at(["password"], "同じ文字の繰り返しなど、推測されやすいパスワードは使えません。")


def set_password(session: Session, account: Account, email: str, password: str, *, actor: Principal | str) -> None:
    """Give the account its sign-in e-mail and a new password; every page session it had ends."""
    check_password_rules(password)
    address = claim_email(session, account, email)
    account.password_hash = hasher.hash(password)
    end_password_sessions(session, account.id)
    audit.record(session, actor, "account.password", f"account:{account.name}", {"email": address})


def claim_email(session: Session, account: Account, email: str) -> str:
    """Make email the account's sign-in address (422 when malformed or another account's); the address."""
    address = normalized_email(email)
    problem = email_problem(address)
    if problem:
        raise InvalidInput.at(["email"], problem)
    taken = session.scalar(select(Account.id).where(Account.email == address, Account.id != account.id))
    if taken is not None:
        raise InvalidInput.at(["email"], "このメールアドレスは別のアカウントで使われています。")
    account.email = address
    return address


def end_password_sessions(session: Session, account_id: int) -> None:
    """Revoke the sign-in tokens of the account's password sessions (a new password ends them all)."""
    session.execute(
        update(Token)
        .where(Token.account_id == account_id, Token.prefix == SIGN_IN_PREFIX, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def check(session: Session, email: str, password: str, client: str | None) -> Account:
    """The enabled account whose e-mail and password these are. Failures are counted per client and per
    address; past the limit the attempt is refused for a while (429), even with the right password."""
    settings = get_settings()
    address = normalized_email(email)
    keys = {
        f"client:{client or '-'}": settings.auth_failures_per_client,
        f"email:{address}": settings.auth_failures_per_account,
    }
    failures.check(keys)
    account = session.scalar(select(Account).where(Account.email == address)) if address else None
    dummy = _dummy_hash()
    stored = account.password_hash if account is not None and account.password_hash else dummy
    try:
        hasher.verify(stored, password)
        ok = account is not None and stored is not dummy
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or account is None:
        failures.fail(keys)
        raise Unauthenticated(WRONG)
    if account.disabled_at is not None:
        raise Unauthenticated("このアカウントは無効化されています。管理者にお問い合わせください。")
    if hasher.check_needs_rehash(stored):
        account.password_hash = hasher.hash(password)
    return account


def open_session(session: Session, account: Account) -> int:
    """A new sign-in token for a page session of the account (once every factor is checked); its id."""
    now = utcnow()
    token = Token(
        account_id=account.id,
        token_hash=hash_token(new_token()),  # never shown: the page session is the only way to use it
        prefix=SIGN_IN_PREFIX,
        created_at=now,
        expires_at=now + timedelta(hours=get_settings().session_hours),
    )
    session.add(token)
    session.flush()
    audit.record(session, account.name, "account.sign_in", f"account:{account.name}", {"token_id": token.id})
    return token.id
