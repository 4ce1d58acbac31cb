"""Who of the handling tier works an inquiry: assigned by anyone of that tier, to anyone of it (or to nobody)."""

from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from pmo import audit
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.errors import Conflict, Forbidden, InvalidInput
from pmo.inquiries import service
from pmo.inquiries.access import staff_of, tier_accounts
from pmo.inquiries.schemas import STATE_LABELS, TIER_LABELS, Assignee, InquiryOut
from pmo.models import Account
from pmo.outbox import events


def assign(
    session: Session,
    principal: Principal,
    inquiry_id: int,
    assignee: int | Literal["me"] | None,
    *,
    now: datetime | None = None,
) -> InquiryOut:
    """Make a person of the tier handling the inquiry its assignee (None: unassigned); they are told unless it is
    the caller. 403 for a caller that handles no tier of it; 409 when its tier is another's, or it is settled."""
    now = now or utcnow()
    inq, labels = service.load(session, principal, inquiry_id, for_update=True)
    if not service.parties(principal, inq) & set(TIER_LABELS):
        raise Forbidden("担当者を割り当てられるのは、問合せを担当する都道府県・国のヘルプデスク・所管府省の職員です。")
    if inq.state not in service.ACTIVE or not service.handles(principal, inq):
        raise Conflict(
            f"この問合せは現在「{STATE_LABELS[inq.state]}」（担当: {TIER_LABELS[inq.current_tier]}）のため、"
            "担当者は割り当てられません。担当者を決めるのは、対応中の問合せを担当している窓口です。",
            detail={"state": inq.state, "tier": inq.current_tier},
        )
    person = None
    if assignee is not None:
        wanted = principal.account_id if assignee == "me" else assignee
        person = session.scalar(tier_accounts(inq).where(Account.id == wanted))
        if person is None:
            raise InvalidInput.at(
                ["body", "assignee"],
                f"アカウント {wanted} は、この問合せを担当している{TIER_LABELS[inq.current_tier]}の"
                "有効なアカウントではありません。",
                input=assignee,
            )
    chosen = person.id if person else None
    if inq.assignee_account_id != chosen:  # the same choice again records nothing
        inq.assignee_account_id, inq.updated_at = chosen, now
        name = (person.display_name or person.name) if person else None
        labels.assignee_id, labels.assignee_name = chosen, name  # as a fresh read would give them
        service.record_event(session, inq, principal, "assign", inq.state, inq.current_tier, name or "割当て解除", now)
        if person is not None and person.id != principal.account_id:
            events.inquiry_assigned(session, inq, person, principal.name, now)
        audit.record(session, principal, "inquiry.assign", f"inquiry:{inq.id}", {"assignee": chosen})
        session.flush()
    return service.detail(session, principal, inq, labels, now)


def colleagues(session: Session, principal: Principal) -> list[Assignee]:
    """The people of principal's own tier, whom it may give the inquiries its tier handles (none outside a tier)."""
    if principal.role not in TIER_LABELS:
        return []
    query = staff_of(principal.role, principal.prefecture_code, principal.organization)
    return [Assignee(id=a.id, name=a.display_name or a.name) for a in session.scalars(query.order_by(Account.id))]
