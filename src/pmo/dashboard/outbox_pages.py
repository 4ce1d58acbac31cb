"""The outbox as a page for admins: what was sent, what waits (all of it when no SMTP server is set)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pmo.auth import Principal
from pmo.config import get_settings
from pmo.dashboard import session as page_session
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep
from pmo.errors import Forbidden
from pmo.outbox import service as outbox

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[Principal, Depends(page_session.require_user)]


@router.get("/outbox")
def outbox_page(request: Request, session: ReadSessionDep, user: SignedIn) -> Response:
    """The newest messages with their state (admins only: they hold people's addresses)."""
    if user.role != "admin":
        raise Forbidden("送信メッセージの一覧は管理者だけが見られます。")
    return render(request, "outbox.html", messages=outbox.recent(session), smtp=bool(get_settings().smtp_url))
