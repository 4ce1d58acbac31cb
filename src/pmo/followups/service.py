"""Follow-ups: prefectures record hearings and advice; only shared ones reach the national tier."""

from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from pmo import audit, periods
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.errors import Conflict, Forbidden, InvalidInput, NotFound
from pmo.followups.schemas import CAUSE_LABELS, CHANNEL_LABELS, FollowUpIn, FollowUpOut
from pmo.models import Body, FollowUp
from pmo.pagination import Page, PageRequest, fetch_page


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Which follow-ups principal may read: its prefecture's own, the shared ones (helpdesk), or all (admin)."""
    if principal.role == "admin":
        return true()
    if principal.role == "prefecture" and principal.prefecture_code:
        return FollowUp.prefecture_code == principal.prefecture_code
    if principal.role == "helpdesk":
        return FollowUp.shared_with_national.is_(True)
    return false()


def _out(f: FollowUp, body: Body) -> FollowUpOut:
    return FollowUpOut(
        id=f.id,
        body=body.code,
        body_name=body.name,
        prefecture=f.prefecture_code,
        held_on=f.held_on,
        channel=f.channel,
        channel_label=CHANNEL_LABELS[f.channel],
        learned=f.learned,
        agreed_actions=f.agreed_actions,
        next_check_on=f.next_check_on,
        shared_with_national=f.shared_with_national,
        delay_cause=f.delay_cause,
        delay_cause_label=CAUSE_LABELS.get(f.delay_cause or ""),
        delay_detail=f.delay_detail,
        created_at=f.created_at,
        created_by=f.created_by,
        done_at=f.done_at,
        done_by=f.done_by,
        done_note=f.done_note,
    )


def record(session: Session, principal: Principal, body: Body, data: FollowUpIn) -> FollowUpOut:
    """Record a follow-up of a municipality by its own prefecture."""
    if not principal.oversees(body):
        raise Forbidden(
            f"{body.name}（{body.code}）のフォローアップを記録できるのは、その都道府県のアカウントだけです。"
        )
    if data.held_on > periods.today():
        raise InvalidInput.at(["body", "held_on"], "実施日（held_on）に未来の日付は指定できません。")
    f = FollowUp(
        body_id=body.id,
        prefecture_code=body.prefecture_code,
        created_at=utcnow(),
        created_by=principal.name,
        **data.model_dump(),
    )
    session.add(f)
    session.flush()
    audit.record(
        session,
        principal,
        "follow_up.create",
        f"follow_up:{f.id}",
        {"body": body.code, "shared_with_national": data.shared_with_national},
    )
    return _out(f, body)


def list_for_body(session: Session, principal: Principal, body: Body, page: PageRequest) -> Page[FollowUpOut]:
    """The follow-ups of one body that principal may read, newest first."""
    if principal.role not in ("prefecture", "helpdesk", "admin") or (
        principal.role == "prefecture" and not principal.oversees(body)
    ):
        raise Forbidden(f"{body.name}（{body.code}）のフォローアップ記録を閲覧する権限がありません。")
    query = (
        select(FollowUp)
        .where(FollowUp.body_id == body.id, visible_to(principal))
        .order_by(FollowUp.held_on.desc(), FollowUp.id.desc())
    )
    return fetch_page(session, query, page, lambda row: _out(row[0], body))


def list_visible(
    session: Session,
    principal: Principal,
    *,
    shared: bool | None,
    prefecture: str | None,
    page: PageRequest,
    done: bool | None = None,
    body: Body | None = None,
) -> Page[FollowUpOut]:
    """The caller's follow-ups (a prefecture's own, the helpdesk's shared ones), optionally open or done only
    and of one body, newest first."""
    query = select(FollowUp, Body).join(Body, Body.id == FollowUp.body_id).where(visible_to(principal))
    if shared is not None:
        query = query.where(FollowUp.shared_with_national.is_(shared))
    if prefecture:
        query = query.where(FollowUp.prefecture_code == prefecture)
    if done is not None:
        query = query.where(FollowUp.done_at.is_not(None) if done else FollowUp.done_at.is_(None))
    if body is not None:
        query = query.where(FollowUp.body_id == body.id)
    return fetch_page(session, query.order_by(FollowUp.held_on.desc(), FollowUp.id.desc()), page, lambda r: _out(*r))


def get(session: Session, principal: Principal, follow_up_id: int) -> FollowUpOut:
    """One follow-up; 404 when it does not exist or is not the caller's to see."""
    row = session.execute(
        select(FollowUp, Body)
        .join(Body, Body.id == FollowUp.body_id)
        .where(FollowUp.id == follow_up_id, visible_to(principal))
    ).first()
    if row is None:
        raise NotFound(f"フォローアップ記録 {follow_up_id} はありません。")
    return _out(*row)


def mark_done(session: Session, principal: Principal, follow_up_id: int, note: str | None) -> FollowUpOut:
    """Mark a follow-up done (its agreed actions confirmed): the prefecture that recorded it, once."""
    query = (
        select(FollowUp, Body)
        .join(Body, Body.id == FollowUp.body_id)
        .where(FollowUp.id == follow_up_id, visible_to(principal))
        .with_for_update(of=FollowUp)
    )
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"フォローアップ記録 {follow_up_id} はありません。")
    f, body = row[0], row[1]
    if not principal.oversees(body):
        raise Forbidden("フォローアップを完了にできるのは、記録した都道府県のアカウントだけです。")
    if f.done_at is not None:
        raise Conflict(f"このフォローアップは {f.done_by} が既に完了にしています。")
    f.done_at, f.done_by, f.done_note = utcnow(), principal.name, note
    session.flush()
    audit.record(session, principal, "follow_up.done", f"follow_up:{f.id}", {"body": body.code})
    return _out(f, body)
