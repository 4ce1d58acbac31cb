"""Setting a password through a one-time link (an invitation or a reset), and asking for a reset."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from pmo.accounts import links, passwords
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, attempt
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep, client_address

router = APIRouter(include_in_schema=False)
LinkToken = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def _anonymous_form(request: Request, template: str, **context: Any) -> Response:
    """A form page for someone not signed in: it starts an anonymous session for the CSRF token if needed."""
    fresh = page_session.read(request) is None
    if fresh:
        page_session.start(request)
    response = render(request, template, **context)
    if fresh:
        page_session.save(request, response)
    return response


@router.get("/password/forgot")
def forgot_form(request: Request) -> Response:
    """The form to ask for a password reset link."""
    return _anonymous_form(request, "password_forgot.html", sent=False)


@router.post("/password/forgot")
def forgot(
    request: Request, session: SessionDep, form: CsrfForm, email: Annotated[str, Form(max_length=254)]
) -> Response:
    """Mail a reset link if the address is known; the answer is the same either way."""
    links.request_reset(session, email, client_address(request))
    return render(request, "password_forgot.html", sent=True)


@router.get("/password/set/{token}")
def set_form(request: Request, token: LinkToken, session: ReadSessionDep) -> Response:
    """The form to choose a password, while the link is unused and unexpired."""
    link = links.open_link(session, token)
    return _anonymous_form(request, "password_set.html", token=token, purpose=link.purpose, errors=None)


@router.post("/password/set/{token}")
def set_password(
    request: Request,
    token: LinkToken,
    session: SessionDep,
    form: CsrfForm,
    password: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
    confirm: Annotated[str, Form(max_length=passwords.MAX_LENGTH)],
) -> Response:
    """Set the password through the link; then sign in with it."""
    link = links.open_link(session, token)

    def choose() -> None:
        passwords.check_new_password(password, confirm)
        links.use_link(session, token, password)

    errors = attempt(session, choose)
    if errors:
        return render(request, "password_set.html", status_code=422, token=token, purpose=link.purpose, errors=errors)
    return RedirectResponse("/login?password_set=1", status_code=303)
