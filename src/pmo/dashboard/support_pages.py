"""Follow-ups and adviser requests as pages — the same services and payload models as /api/v1."""

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from pmo.advisers import service as advisers
from pmo.advisers.schemas import MODE_LABELS, STATE_LABELS, AdviserRequestIn, AssignIn, OutcomeIn, State, VisitIn
from pmo.auth import Principal
from pmo.dashboard import session as page_session
from pmo.dashboard.forms import CsrfForm, attempt, text, validated
from pmo.dashboard.pages import render
from pmo.deps import ReadSessionDep, SessionDep
from pmo.directory import service as directory
from pmo.errors import InvalidInput, NotFound
from pmo.followups import service as followups
from pmo.followups.schemas import CAUSE_LABELS, CHANNEL_LABELS, DoneIn, FollowUpIn
from pmo.models import Body
from pmo.pagination import PageRequest

router = APIRouter(include_in_schema=False)
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]  # 32-bit in the database: bigger ids are a 422, not a 500
SignedIn = Annotated[Principal, Depends(page_session.require_user)]
BodyCode = Annotated[str | None, Query(max_length=6)]
PageNo = Annotated[int, Query(ge=1, le=10_000)]
PER_PAGE = 50
DONE_FILTER = {"open": False, "done": True, "": None}
STATE_CHOICES = {"open": "対応中", "done": "完了", "": "すべて"}
FOLLOW_UP_FIELDS: tuple[str, ...] = ("body", "held_on", "channel", "learned", "agreed_actions", "next_check_on")
FOLLOW_UP_FIELDS += ("delay_cause", "delay_detail")
REQUEST_FIELDS = ("body", "topic", "detail", "follow_up_id")
# Each action's payload model and the form fields it takes.
ACTIONS: dict[str, tuple[type[AssignIn] | type[VisitIn] | type[OutcomeIn], tuple[str, ...]]] = {
    "assign": (AssignIn, ("adviser",)),
    "visit": (VisitIn, ("visited_on", "mode", "summary")),
    "complete": (OutcomeIn, ("outcome",)),
    "cancel": (OutcomeIn, ("outcome",)),
}
ACTION_LABELS = {"assign": "アドバイザーを決める", "visit": "派遣を記録する", "complete": "完了にする"}
ACTION_LABELS["cancel"] = "依頼を取り下げる"
FLASH = {
    "recorded": "フォローアップを記録しました。",
    "done": "フォローアップを完了にしました。",
    "requested": "アドバイザー派遣を依頼しました。",
    "assign": "アドバイザーを決めました。",
    "visit": "派遣の記録を追加しました。",
    "complete": "支援を完了にしました。",
    "cancel": "依頼を取り下げました。",
}


def _values(form: FormData, names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: text(form, name) for name in names}


def _payload(values: dict) -> dict:
    """The form's values as the API's payload: a blank field is one not sent (so its default, or 必須項目)."""
    return {k: v for k, v in values.items() if v is not None and v != []}


def _body_field(session: Session, code: str | None) -> Body:
    """The body a form names, or a problem beside its 団体 field."""
    if code is None:
        raise InvalidInput.at(["body"], "団体を選んでください。")
    try:
        return directory.get_body(session, code)
    except (InvalidInput, NotFound) as exc:
        raise InvalidInput.at(["body"], exc.message) from None


def _region(session: Session, user: Principal) -> list[Body]:
    """The bodies a prefecture's forms offer: itself first, then its municipalities in code order."""
    if user.role != "prefecture" or not user.prefecture_code:
        return []
    bodies, _ = directory.list_bodies(session, prefecture=user.prefecture_code, kind=None, limit=1000, offset=0)
    return sorted(bodies, key=lambda b: (b.kind != "prefecture", b.code))


def _back(form: FormData) -> tuple[str | None, str]:
    """The list filter the form was posted from (body code, open/done), to show the same list again."""
    body, state = text(form, "back_body"), text(form, "back_state") or ""
    return (body if body and body.isascii() and body.isdigit() and len(body) == 6 else None), (
        state if state in DONE_FILTER else ""
    )


# --- follow-ups ----------------------------------------------------------------------------------------


def _follow_ups(
    request: Request,
    session: Session,
    user: Principal,
    body: str | None,
    state: str,
    page: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    target = directory.get_body(session, body) if body else None
    listing = followups.list_visible(
        session,
        user,
        shared=None,
        prefecture=None,
        page=PageRequest(PER_PAGE, (page - 1) * PER_PAGE),
        done=DONE_FILTER[state],
        body=target,
    )
    return render(
        request,
        "follow_ups.html",
        status_code,
        listing=listing,
        body=body or "",
        state=state,
        page=page,
        states=STATE_CHOICES,
        municipalities=[b for b in _region(session, user) if b.kind != "prefecture"],
        channels=CHANNEL_LABELS,
        causes=CAUSE_LABELS,
        can_record=user.role == "prefecture",
        **{"values": {"body": body}, "errors": None, "done_errors": None, "done_for": None, **context},
    )


@router.get("/follow-ups")
def follow_ups_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    body: BodyCode = None,
    state: Literal["open", "done", ""] = "",
    page: PageNo = 1,
    flash: str | None = None,
) -> Response:
    """The caller's follow-ups (a prefecture's own, the helpdesk's shared ones) and the form to record one."""
    return _follow_ups(request, session, user, body or None, state, page, flash=FLASH.get(flash or ""))


@router.post("/follow-ups")
def record_page(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Record a follow-up of one of the prefecture's municipalities from the form."""
    values: dict = {**_values(form, FOLLOW_UP_FIELDS), "shared_with_national": form.get("shared_with_national") == "on"}
    saved = []

    def record() -> None:
        body = _body_field(session, values["body"])
        data = validated(FollowUpIn, _payload({k: v for k, v in values.items() if k != "body"}))
        saved.append(followups.record(session, user, body, data))

    errors = attempt(session, record)
    if errors:
        body, state = _back(form)
        return _follow_ups(request, session, user, body, state, 1, 422, values=values, errors=errors)
    query = urlencode({"body": saved[0].body, "flash": "recorded"})
    return RedirectResponse(f"/follow-ups?{query}#follow-up-{saved[0].id}", status_code=303)


@router.post("/follow-ups/{follow_up_id}/done")
def done_page(request: Request, follow_up_id: RowId, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Mark a follow-up done, with an optional note of how its agreed actions were confirmed."""
    body, state = _back(form)
    note = text(form, "note")
    errors = attempt(
        session,
        lambda: followups.mark_done(session, user, follow_up_id, validated(DoneIn, _payload({"note": note})).note),
    )
    if errors:
        failed = {"done_errors": errors, "done_for": follow_up_id, "done_note": note}
        return _follow_ups(request, session, user, body, state, 1, 422, **failed)
    query = urlencode({"body": body or "", "state": state, "flash": "done"})
    return RedirectResponse(f"/follow-ups?{query}#follow-up-{follow_up_id}", status_code=303)


# --- adviser requests ----------------------------------------------------------------------------------


def _requests(
    request: Request,
    session: Session,
    user: Principal,
    state: str,
    page: int,
    status_code: int = 200,
    **context: Any,
) -> Response:
    listing = advisers.list_visible(session, user, PageRequest(PER_PAGE, (page - 1) * PER_PAGE), state=state or None)
    region = _region(session, user)
    if user.role == "municipality" and user.body_code:
        region = [directory.get_body(session, user.body_code)]
    origins = []
    if user.role == "prefecture":  # what a prefecture's request may come from: its newest follow-ups
        origins = followups.list_visible(session, user, shared=None, prefecture=None, page=PageRequest(100, 0)).items
    return render(
        request,
        "adviser_requests.html",
        status_code,
        listing=listing,
        state=state,
        page=page,
        states={"": "すべて", **STATE_LABELS},
        region=region,
        follow_ups=origins,
        operations=[(o.code, o.name) for o in directory.list_operations(session)],
        **{"values": {}, "errors": None, **context},
    )


@router.get("/adviser-requests")
def requests_page(
    request: Request,
    session: ReadSessionDep,
    user: SignedIn,
    state: State | Literal[""] = "",
    page: PageNo = 1,
    body: BodyCode = None,
    follow_up: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Response:
    """The adviser requests the caller may see, newest first, and the form to ask for an adviser."""
    values = {"body": body, "follow_up_id": str(follow_up) if follow_up else None}
    return _requests(request, session, user, state, page, values=values)


@router.post("/adviser-requests")
def request_page(request: Request, session: SessionDep, user: SignedIn, form: CsrfForm) -> Response:
    """Ask for an adviser from the form (the body itself, or its prefecture)."""
    values: dict = {**_values(form, REQUEST_FIELDS), "operations": [str(v) for v in form.getlist("operations")]}
    saved = []

    def ask() -> None:
        body = _body_field(session, values["body"])
        data = validated(AdviserRequestIn, _payload({k: v for k, v in values.items() if k != "body"}))
        saved.append(advisers.request(session, user, body, data))

    errors = attempt(session, ask)
    if errors:
        return _requests(request, session, user, "", 1, 422, values=values, errors=errors)
    return RedirectResponse(f"/adviser-requests/{saved[0].id}?flash=requested#flash", status_code=303)


def _request(
    request: Request, session: Session, user: Principal, request_id: int, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "adviser_request.html",
        status_code,
        req=advisers.get(session, user, request_id),
        actions=advisers.available_actions(session, user, request_id),
        action_labels=ACTION_LABELS,
        modes=MODE_LABELS,
        op_names={o.code: o.name for o in directory.list_operations(session)},
        **{"values": {}, "errors": None, "failed": None, **context},
    )


@router.get("/adviser-requests/{request_id}")
def request_detail_page(
    request: Request, request_id: RowId, session: ReadSessionDep, user: SignedIn, flash: str | None = None
) -> Response:
    """One adviser request: what was asked, its visits and outcome, and the actions the caller may take now."""
    return _request(request, session, user, request_id, flash=FLASH.get(flash or ""))


@router.post("/adviser-requests/{request_id}/{action}")
def act_page(
    request: Request, request_id: RowId, action: str, session: SessionDep, user: SignedIn, form: CsrfForm
) -> Response:
    """Assign an adviser, record a visit, complete or cancel — the same state machine as the API."""
    if action not in ACTIONS:
        raise NotFound(f"アドバイザー派遣の操作 {action!r} はありません。")
    model, fields = ACTIONS[action]
    values = _values(form, fields)
    errors = attempt(
        session, lambda: advisers.act(session, user, request_id, action, validated(model, _payload(values)))
    )
    if errors:
        return _request(request, session, user, request_id, 422, values=values, errors=errors, failed=action)
    return RedirectResponse(f"/adviser-requests/{request_id}?flash={action}#flash", status_code=303)
