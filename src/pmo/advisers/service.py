"""Adviser support: a body or its prefecture asks, the national tier assigns an adviser, visits and
records the outcome; the body, its prefecture and the national tier (helpdesk, admin) see the record.
Out-of-scope ids are 404; a wrong role on a visible request 403; a wrong state 409."""

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from pmo import audit, messages, periods
from pmo.advisers.schemas import (
    STATE_LABELS,
    AdviserRequestIn,
    AdviserRequestOut,
    AssignIn,
    OutcomeIn,
    State,
    VisitIn,
    VisitOut,
)
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.errors import Conflict, Forbidden, InvalidInput, NotFound
from pmo.models import AdviserRequest, AdviserVisit, Body, FollowUp, Operation
from pmo.outbox import events
from pmo.pagination import Page, PageRequest, fetch_page

NATIONAL = ("helpdesk", "admin")
# action → (states it may start from, state it leads to, who may take it)
TRANSITIONS: dict[str, tuple[tuple[State, ...], State, str]] = {
    "assign": (("requested",), "assigned", "national"),
    "visit": (("assigned", "visiting"), "visiting", "national"),
    "complete": (("visiting",), "completed", "national"),
    "cancel": (("requested", "assigned"), "cancelled", "requester_side_or_national"),
}


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The body's own requests, its prefecture's municipalities' (and its own), or all for the national tier."""
    if principal.role in NATIONAL:
        return true()
    if principal.role == "prefecture" and principal.prefecture_code:
        return AdviserRequest.prefecture_code == principal.prefecture_code
    if principal.role == "municipality" and principal.body_id is not None:
        return AdviserRequest.body_id == principal.body_id
    return false()


def _out(session: Session, req: AdviserRequest, body: Body) -> AdviserRequestOut:
    visits = session.scalars(
        select(AdviserVisit).where(AdviserVisit.request_id == req.id).order_by(AdviserVisit.visited_on)
    )
    return AdviserRequestOut(
        id=req.id,
        body=body.code,
        body_name=body.name,
        prefecture=req.prefecture_code,
        requested_by=req.requested_by,
        requester_role=req.requester_role,
        follow_up_id=req.follow_up_id,
        topic=req.topic,
        detail=req.detail,
        operations=req.operations,
        state=req.state,
        state_label=STATE_LABELS[req.state],
        adviser=req.adviser,
        outcome=req.outcome,
        created_at=req.created_at,
        updated_at=req.updated_at,
        visits=[
            VisitOut(id=v.id, visited_on=v.visited_on, mode=v.mode, summary=v.summary, recorded_by=v.recorded_by)
            for v in visits
        ],
    )


def request(session: Session, principal: Principal, body: Body, data: AdviserRequestIn) -> AdviserRequestOut:
    """File a request for an adviser for body: by the body itself or by its prefecture."""
    if not (principal.owns(body) or principal.oversees(body)):
        raise Forbidden(f"{body.name}（{body.code}）のアドバイザー派遣を依頼できるのは当該団体とその都道府県だけです。")
    known = set(session.scalars(select(Operation.code)))
    unknown = [c for c in data.operations if c not in known]
    if unknown:
        raise InvalidInput.at(["body", "operations"], messages.unknown_operation(unknown))
    if data.follow_up_id is not None:
        follow_up = session.get(FollowUp, data.follow_up_id)
        if follow_up is None or follow_up.body_id != body.id or not principal.oversees(body):
            raise InvalidInput.at(
                ["body", "follow_up_id"], "この団体について自分の都道府県が記録したフォローアップを指定してください。"
            )
    now = utcnow()
    req = AdviserRequest(
        body_id=body.id,
        prefecture_code=body.prefecture_code,
        requester_account_id=principal.account_id,
        requester_role=principal.role,
        requested_by=principal.name,
        follow_up_id=data.follow_up_id,
        topic=data.topic,
        detail=data.detail,
        operations=sorted(set(data.operations)),
        state="requested",
        created_at=now,
        updated_at=now,
    )
    session.add(req)
    session.flush()
    audit.record(session, principal, "adviser.request", f"adviser_request:{req.id}", {"body": body.code})
    return _out(session, req, body)


def _load(
    session: Session, principal: Principal, request_id: int, *, for_update: bool = False
) -> tuple[AdviserRequest, Body]:
    query = (
        select(AdviserRequest, Body)
        .join(Body, Body.id == AdviserRequest.body_id)
        .where(AdviserRequest.id == request_id, visible_to(principal))
    )
    row = session.execute(query.with_for_update(of=AdviserRequest) if for_update else query).first()
    if row is None:
        raise NotFound(f"アドバイザー派遣の依頼 {request_id} はありません。")
    return row[0], row[1]


def get(session: Session, principal: Principal, request_id: int) -> AdviserRequestOut:
    """One request with its visits (404 unless the caller may see it)."""
    return _out(session, *_load(session, principal, request_id))


def list_visible(
    session: Session, principal: Principal, page: PageRequest, *, state: str | None, body: Body | None = None
) -> Page[AdviserRequestOut]:
    """The requests the caller may see (optionally of one body: 403 outside the caller's scope), newest first."""
    if body is not None and not (principal.role in NATIONAL or principal.owns(body) or principal.oversees(body)):
        raise Forbidden(f"{body.name}（{body.code}）のアドバイザー派遣の依頼を閲覧する権限がありません。")
    query = select(AdviserRequest, Body).join(Body, Body.id == AdviserRequest.body_id).where(visible_to(principal))
    if state:
        query = query.where(AdviserRequest.state == state)
    if body is not None:
        query = query.where(AdviserRequest.body_id == body.id)
    return fetch_page(session, query.order_by(AdviserRequest.id.desc()), page, lambda row: _out(session, *row))


def _may_take(principal: Principal, body: Body, who: str) -> bool:
    requester_side = principal.owns(body) or principal.oversees(body)
    return principal.role in NATIONAL or (who == "requester_side_or_national" and requester_side)


def available_actions(session: Session, principal: Principal, request_id: int) -> list[str]:
    """The actions principal may take on the request in its present state (404 unless it may see it)."""
    req, body = _load(session, principal, request_id)
    return [
        action
        for action, (sources, _, who) in TRANSITIONS.items()
        if req.state in sources and _may_take(principal, body, who)
    ]


def act(
    session: Session, principal: Principal, request_id: int, action: str, data: AssignIn | VisitIn | OutcomeIn
) -> AdviserRequestOut:
    """assign / visit / complete / cancel, checked against the state machine."""
    req, body = _load(session, principal, request_id, for_update=True)
    sources, target, who = TRANSITIONS[action]
    if not _may_take(principal, body, who):
        raise Forbidden(
            "この操作は国（ヘルプデスク）が行います。"
            if who == "national"
            else "この依頼を取り下げる権限がありません。"
        )
    if req.state not in sources:
        raise Conflict(f"この依頼は「{STATE_LABELS[req.state]}」（{req.state}）のため、{action} はできません。")
    now = utcnow()
    if isinstance(data, AssignIn):  # the router sends each action its own payload
        req.adviser = data.adviser
    elif isinstance(data, VisitIn):
        if data.visited_on > periods.today():
            raise InvalidInput.at(["body", "visited_on"], "派遣日に未来の日付は記録できません。")
        session.add(
            AdviserVisit(
                request_id=req.id,
                visited_on=data.visited_on,
                mode=data.mode,
                summary=data.summary,
                recorded_by=principal.name,
                created_at=now,
            )
        )
    elif data.outcome:
        req.outcome = data.outcome
    req.state, req.updated_at = target, now
    session.flush()
    audit.record(session, principal, f"adviser.{action}", f"adviser_request:{req.id}", {"state": target})
    events.adviser_event(session, req, action, now)
    return _out(session, req, body)
