"""The account page: who you are signed in as, your sessions, your personal tokens, your password."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pmo.accounts import own, passwords, second_factor
from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, attempt, text, validated
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep, client_address
from pmo.models import Account

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_session.require_user)]
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
FactorCode = Annotated[str, Form(max_length=40)]  # an authenticator's six digits, or a recovery code


def _page(request: Request, session: Session, user: Principal, status_code: int = 200, **context: Any) -> Response:
    account = session.get_one(Account, user.account_id)
    return render(
        request,
        "account.html",
        status_code=status_code,
        account=account,
        sessions=own.sessions(session, user, user.token_id),
        tokens=own.tokens(session, user),
        second_factor_required=second_factor.required(account),
        **{"token_errors": None, "password_errors": None, "factor_errors": None, "new_token": None, **context},
    )


@router.get("/account")
def account_page(request: Request, session: ReadSessionDep, user: SignedIn, done: str | None = None) -> Response:
    """Your account: sessions to end, personal tokens to make or revoke, your password."""
    return _page(request, session, user, done=done)


@router.post("/account/sessions/{session_id}/end")
def end_session(session_id: RowId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """End one of your sessions (another browser, or this one)."""
    own.end_session(session, user, session_id)
    return RedirectResponse("/account?done=session#sessions", status_code=303)


@router.post("/account/tokens")
def create_token(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Make a personal token: its text is shown on this page once."""
    made: list[str] = []
    errors = attempt(
        session,
        lambda: made.append(
            own.create_token(
                session, user, validated(own.TokenIn, {"label": text(form, "label") or "", "days": text(form, "days")})
            )
        ),
    )
    if errors:
        return _page(request, session, user, status_code=422, token_errors=errors, form=form)
    return _page(request, session, user, new_token=made[0])


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(token_id: RowId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Revoke one of your tokens."""
    own.revoke_token(session, user, token_id)
    return RedirectResponse("/account?done=token#tokens", status_code=303)


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    user: SignedIn,
    form: CsrfForm,
    current: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    confirm: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
) -> Response:
    """Change your password (every password session ends; signed in by password, you sign in again)."""

    def change() -> None:
        passwords.check_new_password(password, confirm)
        own.change_password(session, user, current, password)

    errors = attempt(session, change)
    if errors:
        return _page(request, session, user, status_code=422, password_errors=errors)
    if own.signed_in_by_password(session, user):  # that session ended with the old password: sign in again
        return RedirectResponse("/login?password_set=1", status_code=303)
    return RedirectResponse("/account?done=password#password", status_code=303)


def _enrolment(request: Request, session: Session, user: Principal, status_code: int = 200, **context: Any) -> Response:
    account = session.get_one(Account, user.account_id)
    return _page(
        request,
        session,
        user,
        status_code,
        enrol=True,
        qr=second_factor.qr_svg(account),
        secret=account.totp_secret,
        **context,
    )


@router.post("/account/second-factor")
def begin_second_factor(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Start setting up a second factor: a new key, shown as a QR code and as text, waiting for a code."""
    second_factor.begin(session.get_one(Account, user.account_id))
    return _enrolment(request, session, user)


@router.post("/account/second-factor/confirm")
def confirm_second_factor(
    request: Request,
    session: SessionDep,
    user: SignedIn,
    form: CsrfForm,
    code: FactorCode = "",
) -> Response:
    """Turn the second factor on with a code from the app; the recovery codes are shown once."""
    account = session.get_one(Account, user.account_id)
    codes: list[str] = []
    errors = attempt(session, lambda: codes.extend(second_factor.confirm(session, account, code)))
    if errors:
        return _enrolment(request, session, user, 422, factor_errors=errors)
    return render(request, "recovery_codes.html", codes=codes, next="/account#second-factor")


@router.post("/account/second-factor/off")
def second_factor_off(
    request: Request,
    session: SessionDep,
    user: SignedIn,
    form: CsrfForm,
    code: FactorCode = "",
) -> Response:
    """Stop using the second factor (only where the role does not require one), with a current code."""
    account = session.get_one(Account, user.account_id)
    errors = attempt(session, lambda: second_factor.turn_off(session, account, code, client_address(request)))
    if errors:
        return _page(request, session, user, 422, factor_errors=errors)
    return RedirectResponse("/account?done=second_factor_off#second-factor", status_code=303)
