"""The second factor: a TOTP code (RFC 6238, pyotp) from an authenticator app, or a one-time recovery
code. Required of admin, helpdesk and prefecture accounts signing in with a password (their first password
sign-in enrols them before any page opens), optional for everyone else (from the account page)."""

import hashlib
import secrets
import time

import pyotp
import segno
from sqlalchemy.orm import Session

from pmo import audit
from pmo.config import get_settings
from pmo.db import utcnow
from pmo.errors import Conflict, InvalidInput
from pmo.models import Account
from pmo.throttle import failures

REQUIRED_ROLES = ("admin", "helpdesk", "prefecture")
ISSUER = "pmo 標準化進捗管理"
RECOVERY_CODES = 10
WRONG = "確認コードが正しくありません。認証アプリの6桁の数字（または回復コード）を入力してください。"


def required(account: Account) -> bool:
    """Whether the account must have a second factor to sign in with a password (also every body's account
    administrator: it can invite and disable people)."""
    return account.role in REQUIRED_ROLES or account.administrator


def begin(account: Account) -> str:
    """A new pending key for the account (replacing a pending one; an enabled one stays until confirmed)."""
    if account.totp_enabled_at is None:
        account.totp_secret = pyotp.random_base32()
    return account.totp_secret or ""


def qr_svg(account: Account) -> str:
    """The enrolment QR code (otpauth URI) as an inline SVG: made here, nothing fetched."""
    uri = pyotp.TOTP(account.totp_secret or "").provisioning_uri(name=account.email or account.name, issuer_name=ISSUER)
    svg: str = segno.make(uri, error="m").svg_inline(scale=4, title="認証アプリで読み取る QR コード")
    return svg


def _code_step(secret: str, code: str) -> int | None:
    """The time step the code belongs to (this one, or one either side for clock drift), or None."""
    totp, now = pyotp.TOTP(secret), time.time()
    for drift in (0, -totp.interval, totp.interval):
        if secrets.compare_digest(totp.at(now + drift), code):
            return int((now + drift) // totp.interval)
    return None


def confirm(session: Session, account: Account, code: str) -> list[str]:
    """Enable the pending key with a code it produced; the recovery codes, shown once."""
    step = _code_step(account.totp_secret or "", code.strip())
    if account.totp_secret is None or step is None:
        raise InvalidInput.at(["code"], WRONG)
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    account.totp_enabled_at = utcnow()
    account.totp_last_step = step
    account.recovery_hashes = [_hash(c) for c in codes]
    audit.record(session, account.name, "account.second_factor", f"account:{account.name}", {"enabled": True})
    return codes


def verify(session: Session, account: Account, code: str, client: str | None) -> None:
    """Accept a current TOTP code (each time step once) or an unused recovery code; 422 otherwise, with
    failures counted against the account like wrong passwords."""
    settings = get_settings()
    keys = {
        f"client:{client or '-'}": settings.auth_failures_per_client,
        f"second-factor:{account.id}": settings.auth_failures_per_account,
    }
    failures.check(keys)
    code = code.strip().lower()
    step = _code_step(account.totp_secret or "", code) if account.totp_enabled_at else None
    if step is not None and step > (account.totp_last_step or 0):
        account.totp_last_step = step
        return
    hashes = account.recovery_hashes or []
    if _hash(code) in hashes:
        account.recovery_hashes = [h for h in hashes if h != _hash(code)]
        audit.record(session, account.name, "account.recovery_code", f"account:{account.name}")
        return
    failures.fail(keys)
    raise InvalidInput.at(["code"], WRONG)


def clear(account: Account) -> None:
    """Forget the account's key and recovery codes (it enrols again at its next password sign-in if required)."""
    account.totp_secret = account.totp_enabled_at = account.totp_last_step = account.recovery_hashes = None


def turn_off(session: Session, account: Account, code: str, client: str | None) -> None:
    """Stop using the second factor, confirmed with a current code; 409 for the roles that require one."""
    if required(account):
        raise Conflict("このアカウントは二段階認証が必須のため、解除できません。")
    verify(session, account, code, client)
    clear(account)
    audit.record(session, account.name, "account.second_factor", f"account:{account.name}", {"enabled": False})


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()
