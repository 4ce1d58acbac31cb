"""Inquiries: filing, the queue, and every transition of one explicit state machine.

Refusals follow the project's rule for rows whose existence is private: an inquiry the caller may
not see is 404 (never 403); a visible inquiry and the wrong role for the action is 403; the right
role at the wrong moment (state or tier) is 409 naming where the inquiry stands."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from pmo import audit, messages
from pmo.auth import Principal
from pmo.config import get_settings
from pmo.db import utcnow
from pmo.directory import service as directory
from pmo.errors import Conflict, Forbidden, InvalidInput, NotFound
from pmo.faqs import service as faqs
from pmo.faqs.text import coverage, query_terms, tokens
from pmo.inquiries.access import tier_accounts, visible_to
from pmo.inquiries.calendar import add_business_days, business_days_between
from pmo.inquiries.schemas import (
    CATEGORY_LABELS,
    STATE_LABELS,
    TIER_LABELS,
    Action,
    Asker,
    Assignee,
    EventAction,
    EventOut,
    FiledInquiry,
    InquiryIn,
    InquiryOut,
    InquirySummary,
    MessageIn,
    MessageKind,
    MessageOut,
    Party,
    Similar,
    SimilarInquiry,
    State,
    Tier,
    Visibility,
)
from pmo.models import INQUIRY_STATES, Account, Body, Inquiry, InquiryEvent, InquiryMessage, Operation, Step
from pmo.outbox import events
from pmo.pagination import Page

ACTIVE = ("open", "awaiting_asker")
SIMILAR_COVERAGE = 0.5
# what a transition does: both an action offered to a party and an event recorded
Move = Literal["answer", "ask_back", "reply", "escalate", "route", "close", "reopen"]


@dataclass(frozen=True)
class Transition:
    """One row of the state machine: who (party) may take action from which states at which tier."""

    action: Move
    party: Party  # asker | prefecture (the inquiry's prefecture, handling it) | helpdesk
    sources: tuple[State, ...]
    tier: Tier | None  # the tier the inquiry must be at; None: any
    to_state: State
    to_tier: Tier | None  # None: stays where it is


# The whole state machine. "file" (→ open) is the creation; everything else is here.
TRANSITIONS = (
    Transition("answer", "prefecture", ("open",), "prefecture", "answered", None),
    Transition("answer", "helpdesk", ("open",), "helpdesk", "answered", None),
    Transition("ask_back", "prefecture", ("open",), "prefecture", "awaiting_asker", None),
    Transition("ask_back", "helpdesk", ("open",), "helpdesk", "awaiting_asker", None),
    Transition("escalate", "prefecture", ("open",), "prefecture", "open", "helpdesk"),
    Transition("route", "helpdesk", ("open",), "helpdesk", "open", "ministry"),
    Transition("answer", "ministry", ("open",), "ministry", "answered", None),
    Transition("ask_back", "ministry", ("open",), "ministry", "awaiting_asker", None),
    Transition("reply", "asker", ("awaiting_asker",), None, "open", None),
    Transition("close", "asker", ("open", "awaiting_asker", "answered"), None, "closed", None),
    Transition("reopen", "asker", ("answered", "closed"), None, "open", None),
)
ACTION_LABELS = {
    "answer": "回答",
    "ask_back": "質問者への確認（差戻し）",
    "reply": "確認への返答",
    "escalate": "ヘルプデスクへのエスカレーション",
    "route": "所管府省への回付",
    "close": "完了（クローズ）",
    "reopen": "再開",
    "comment": "メッセージの追加",
    "assign": "担当者の割当て",
}
PARTY_LABELS = {
    "asker": "質問者",
    "prefecture": "所管の都道府県",
    "helpdesk": "国のヘルプデスク",
    "ministry": "回付先の府省",
}
# role → the tier its internal notes belong to; the helpdesk and the ministries are one national tier
INTERNAL_TO: dict[str, Visibility] = {"prefecture": "prefecture", "helpdesk": "helpdesk", "ministry": "ministry"}
SEE_ASSIGNEE = ("prefecture", "helpdesk", "ministry", "admin")  # how the tiers share out work is theirs
READABLE = {
    "municipality": ("public",),
    "vendor": ("public",),
    "prefecture": ("public", "prefecture"),
    "helpdesk": ("public", "helpdesk", "ministry"),
    "ministry": ("public", "helpdesk", "ministry"),
}


# --- who sees what ------------------------------------------------------------------------------


def _own(principal: Principal) -> ColumnElement[bool]:
    """Inquiries principal asked itself (its body's, or its account's when it has no body)."""
    if principal.body_id is not None:
        return and_(Inquiry.asker_body_id == principal.body_id, Inquiry.asker_role == principal.role)
    return Inquiry.asker_account_id == principal.account_id


def is_asker(principal: Principal, inq: Inquiry) -> bool:
    if inq.asker_body_id is not None:
        return principal.body_id == inq.asker_body_id and principal.role == inq.asker_role
    return principal.account_id == inq.asker_account_id


def parties(principal: Principal, inq: Inquiry) -> set[Party]:
    """The roles principal plays on this inquiry (empty for admin, who only reads)."""
    if is_asker(principal, inq):
        return {"asker"}
    if principal.role == "prefecture" and principal.prefecture_code == inq.prefecture_code:
        return {"prefecture"}
    if principal.role == "helpdesk" and inq.helpdesk_since is not None:
        return {"helpdesk"}
    if principal.role == "ministry" and inq.routed_to is not None and inq.routed_to == principal.organization:
        return {"ministry"}
    return set()


def _readable_messages(principal: Principal) -> tuple[str, ...] | None:
    return None if principal.role == "admin" else READABLE.get(principal.role, ("public",))


# --- due times ----------------------------------------------------------------------------------


def sla_days(tier: str) -> int:
    settings = get_settings()
    return (
        settings.sla_prefecture_days if tier == "prefecture" else settings.sla_helpdesk_days
    )  # ministries: as the helpdesk


def _start_clock(inq: Inquiry, tier: Tier, now: datetime) -> None:
    inq.current_tier = tier
    inq.tier_since = now
    inq.due_at = add_business_days(now, sla_days(tier))
    inq.paused_at = None


def reopen_until(inq: Inquiry) -> datetime | None:
    """The asker may reopen until N days after the answer (or, if never answered, after closing)."""
    if inq.state not in ("answered", "closed"):
        return None
    anchor = inq.answered_at or inq.closed_at
    return anchor + timedelta(days=get_settings().inquiry_reopen_days) if anchor else None


def _overdue(inq: Inquiry, now: datetime) -> bool:
    return inq.state == "open" and inq.due_at is not None and inq.due_at < now


# --- views --------------------------------------------------------------------------------------


@dataclass
class Labels:
    asker_account: str
    body_code: str | None
    body_name: str | None
    operation: str | None
    step: str | None
    assignee_id: int | None
    assignee_name: str | None


def _summary_fields(inq: Inquiry, labels: Labels, principal: Principal, now: datetime) -> dict:
    assignee = None
    if labels.assignee_id is not None and principal.role in SEE_ASSIGNEE:
        assignee = Assignee(id=labels.assignee_id, name=labels.assignee_name or "")
    return {
        "id": inq.id,
        "title": inq.title,
        "category": inq.category,
        "category_label": CATEGORY_LABELS.get(inq.category, inq.category),
        "operation": labels.operation,
        "step": labels.step,
        "asker": Asker(
            role=inq.asker_role, account=labels.asker_account, body=labels.body_code, body_name=labels.body_name
        ),
        "state": inq.state,
        "state_label": STATE_LABELS[inq.state],
        "tier": inq.current_tier,
        "tier_label": TIER_LABELS[inq.current_tier],
        "due_at": inq.due_at,
        "overdue": _overdue(inq, now),
        "paused": inq.state == "awaiting_asker",
        "assignee": assignee,
        "created_at": inq.created_at,
        "updated_at": inq.updated_at,
    }


def _with_labels(query: Select) -> Select:
    assignee = aliased(Account)
    return (
        query.add_columns(
            Account.name,
            Body.code,
            Body.name,
            Operation.code,
            Step.code,
            assignee.id,
            func.coalesce(assignee.display_name, assignee.name),
        )
        .join(Account, Account.id == Inquiry.asker_account_id)
        .outerjoin(Body, Body.id == Inquiry.asker_body_id)
        .outerjoin(Operation, Operation.id == Inquiry.operation_id)
        .outerjoin(Step, Step.id == Inquiry.step_id)
        .outerjoin(assignee, assignee.id == Inquiry.assignee_account_id)
    )


def handles(principal: Principal, inq: Inquiry) -> bool:
    """True when principal works the tier the inquiry is at now (the party that answers it there)."""
    return inq.current_tier in parties(principal, inq)


def allowed_actions(principal: Principal, inq: Inquiry, now: datetime | None = None) -> list[Action]:
    """The actions principal may take on inq right now."""
    now = now or utcnow()
    mine = parties(principal, inq)
    out: list[Action] = []
    for t in TRANSITIONS:
        if t.party in mine and inq.state in t.sources and t.tier in (None, inq.current_tier) and t.action not in out:
            if t.action == "reopen" and (reopen_until(inq) or now) < now:
                continue
            out.append(t.action)
    if mine and inq.state != "closed":
        out.append("comment")
    if inq.state in ACTIVE and handles(principal, inq):
        out.append("assign")
    return out


def detail(session: Session, principal: Principal, inq: Inquiry, labels: Labels, now: datetime) -> InquiryOut:
    """The inquiry as principal sees it: readable messages, history, and what it may do now."""
    readable = _readable_messages(principal)
    messages = select(InquiryMessage).where(InquiryMessage.inquiry_id == inq.id)
    if readable is not None:
        messages = messages.where(InquiryMessage.visibility.in_(readable))
    events = session.scalars(select(InquiryEvent).where(InquiryEvent.inquiry_id == inq.id).order_by(InquiryEvent.id))
    allowed = allowed_actions(principal, inq, now)
    assignable: list[Account] = []
    if "assign" in allowed:
        assignable = list(session.scalars(tier_accounts(inq).order_by(Account.id)))
    return InquiryOut(
        **_summary_fields(inq, labels, principal, now),
        question=inq.question,
        answered_at=inq.answered_at,
        closed_at=inq.closed_at,
        reopen_until=reopen_until(inq),
        allowed_actions=allowed,
        assignable=[Assignee(id=a.id, name=a.display_name or a.name) for a in assignable],
        messages=[
            MessageOut(
                id=m.id,
                author=m.author_name,
                party=m.author_party,
                kind=m.kind,
                visibility=m.visibility,
                text=m.text,
                created_at=m.created_at,
            )
            for m in session.scalars(messages.order_by(InquiryMessage.id))
        ],
        history=[
            EventOut(
                at=e.at,
                actor=e.actor_name,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                from_tier=e.from_tier,
                to_tier=e.to_tier,
                note=e.note,
            )
            for e in events
        ],
    )


def load(
    session: Session, principal: Principal, inquiry_id: int, *, for_update: bool = False
) -> tuple[Inquiry, Labels]:
    """The inquiry with its labels; 404 when it does not exist or principal may not see it."""
    query = _with_labels(select(Inquiry).where(Inquiry.id == inquiry_id, visible_to(principal)))
    if for_update:
        query = query.with_for_update(of=Inquiry)
    row = session.execute(query).first()
    if row is None:
        raise NotFound(f"問合せ {inquiry_id} はありません。")
    inq, *rest = row
    return inq, Labels(*rest)


def get(session: Session, principal: Principal, inquiry_id: int) -> InquiryOut:
    """One inquiry with the messages the caller may read and its whole history."""
    inq, labels = load(session, principal, inquiry_id)
    return detail(session, principal, inq, labels, utcnow())


# --- filing -------------------------------------------------------------------------------------


def record_event(
    session: Session,
    inq: Inquiry,
    principal: Principal,
    action: EventAction,
    from_state: State | None,
    from_tier: Tier | None,
    note: str | None,
    now: datetime,
) -> None:
    """Record one step of the inquiry's history (to its state and tier as they are now)."""
    session.add(
        InquiryEvent(
            inquiry_id=inq.id,
            at=now,
            actor_account_id=principal.account_id,
            actor_name=principal.name,
            action=action,
            from_state=from_state,
            to_state=inq.state,
            from_tier=from_tier,
            to_tier=inq.current_tier,
            note=note,
        )
    )


def _message(
    session: Session,
    inq: Inquiry,
    principal: Principal,
    party: Party,
    kind: MessageKind,
    visibility: Visibility,
    text: str,
    now: datetime,
) -> None:
    session.add(
        InquiryMessage(
            inquiry_id=inq.id,
            author_account_id=principal.account_id,
            author_name=principal.name,
            author_party=party,
            kind=kind,
            visibility=visibility,
            text=text,
            created_at=now,
        )
    )


def file(session: Session, principal: Principal, data: InquiryIn, *, now: datetime | None = None) -> FiledInquiry:
    """File an inquiry: a municipality's lands at its prefecture; a prefecture's and a vendor's at the national
    helpdesk (a vendor's is never seen by any body or prefecture)."""
    now = now or utcnow()
    tier: Tier
    if principal.role == "municipality":
        tier = "prefecture"
    elif principal.role in ("prefecture", "vendor"):
        tier = "helpdesk"
    else:
        raise Forbidden(
            f"問合せを登録できるのは市区町村・都道府県・事業者のアカウントです（あなたのロール: {principal.role}）。"
        )
    if principal.body_id is None and principal.role != "vendor":
        raise Forbidden("団体に結び付いていないアカウントは問合せを登録できません。")
    operation_id, step_id = directory.resolve_operation_step(session, data.operation, data.step)
    inq = Inquiry(
        title=data.title.strip(),
        question=data.question,
        category=data.category,
        operation_id=operation_id,
        step_id=step_id,
        asker_account_id=principal.account_id,
        asker_role=principal.role,
        asker_body_id=principal.body_id,
        prefecture_code=principal.prefecture_code,
        state="open",
        created_at=now,
        updated_at=now,
        helpdesk_since=now if tier == "helpdesk" else None,
    )
    _start_clock(inq, tier, now)
    session.add(inq)
    session.flush()
    record_event(session, inq, principal, "file", None, None, None, now)
    audit.record(session, principal, "inquiry.file", f"inquiry:{inq.id}", {"tier": tier, "category": data.category})
    events.inquiry_event(session, inq, "file", now)
    session.flush()
    suggestions = similar(session, principal, f"{data.title}", exclude_id=inq.id)
    inq, labels = load(session, principal, inq.id)
    return FiledInquiry(**detail(session, principal, inq, labels, now).model_dump(), similar=suggestions)


# --- transitions --------------------------------------------------------------------------------


def _transition(principal: Principal, inq: Inquiry, action: str, now: datetime) -> Transition:
    """The row of the state machine that applies, or 403 (not yours to do) / 409 (not now)."""
    mine = parties(principal, inq)
    rows = [t for t in TRANSITIONS if t.action == action]
    candidates = [t for t in rows if t.party in mine]
    if not candidates:
        who = "・".join(dict.fromkeys(PARTY_LABELS[t.party] for t in rows))
        raise Forbidden(f"{ACTION_LABELS[action]}は{who}が行う操作です。")
    for t in candidates:
        if inq.state in t.sources and t.tier in (None, inq.current_tier):
            return t
    raise Conflict(
        f"この問合せは現在「{STATE_LABELS[inq.state]}」（担当: {TIER_LABELS[inq.current_tier]}）のため、"
        f"{ACTION_LABELS[action]}はできません。",
        detail={"state": inq.state, "tier": inq.current_tier, "allowed_actions": allowed_actions(principal, inq, now)},
    )


def act(
    session: Session,
    principal: Principal,
    inquiry_id: int,
    action: str,
    *,
    text: str | None = None,
    ministry: str | None = None,
    now: datetime | None = None,
) -> InquiryOut:
    """Take one transition (answer, ask_back, reply, escalate, route, close, reopen) with its text or reason."""
    now = now or utcnow()
    inq, labels = load(session, principal, inquiry_id, for_update=True)
    t = _transition(principal, inq, action, now)
    if action == "route":
        from pmo.accounts.service import ministries

        known = ministries(session)
        if ministry not in known:
            raise InvalidInput.at(
                ["body", "ministry"], f"回付先は {'・'.join(known)} のいずれかです（{ministry!r}）。", input=ministry
            )
    party = t.party
    from_state, from_tier = inq.state, inq.current_tier
    note = None
    if action == "reopen":
        until = reopen_until(inq)
        if until is not None and until < now:
            raise Conflict(
                f"この問合せは「{STATE_LABELS[inq.state]}」になってから再開できる期間（{get_settings().inquiry_reopen_days}日）を"
                "過ぎています。新しい問合せとして登録してください。",
                detail={"state": inq.state, "tier": inq.current_tier, "reopen_until": until.isoformat()},
            )
    inq.state = t.to_state
    if action == "answer":
        inq.answered_at, inq.due_at, inq.paused_at = now, None, None
        _message(session, inq, principal, party, "answer", "public", text or "", now)
    elif action == "ask_back":
        inq.paused_at = now
        _message(session, inq, principal, party, "ask_back", "public", text or "", now)
    elif action == "reply":
        if inq.paused_at is not None and inq.due_at is not None:
            inq.due_at = add_business_days(inq.due_at, business_days_between(inq.paused_at, now))
        inq.paused_at = None
        _message(session, inq, principal, party, "reply", "public", text or "", now)
    elif action == "escalate":
        inq.helpdesk_since = inq.helpdesk_since or now
        _start_clock(inq, t.to_tier or "helpdesk", now)
        inq.assignee_account_id = labels.assignee_id = labels.assignee_name = None  # the new tier shares its own out
        note = text
    elif action == "route":
        inq.routed_to = ministry
        _start_clock(inq, "ministry", now)
        inq.assignee_account_id = labels.assignee_id = labels.assignee_name = None
        note = f"{ministry}: {text}"
    elif action == "close":
        inq.closed_at, inq.due_at, inq.paused_at = now, None, None
        note = text
    elif action == "reopen":
        inq.answered_at = inq.closed_at = None
        _start_clock(inq, inq.current_tier, now)
        _message(session, inq, principal, party, "reopen", "public", text or "", now)
        note = text
    inq.updated_at = now
    record_event(session, inq, principal, t.action, from_state, from_tier, note, now)
    events.inquiry_event(session, inq, action, now)  # in this transaction: the message exists iff the change does
    audit.record(
        session,
        principal,
        f"inquiry.{action}",
        f"inquiry:{inq.id}",
        {"from": [from_state, from_tier], "to": [inq.state, inq.current_tier]},
    )
    session.flush()
    return detail(session, principal, inq, labels, now)


def add_message(
    session: Session, principal: Principal, inquiry_id: int, data: MessageIn, *, now: datetime | None = None
) -> InquiryOut:
    """Add a message. The asker's message while it is being asked back is its reply (the clock restarts)."""
    now = now or utcnow()
    inq, labels = load(session, principal, inquiry_id, for_update=True)
    mine = parties(principal, inq)
    if not mine:
        raise Forbidden(
            "この問合せにメッセージを書けるのは、質問者・所管の都道府県・（エスカレーション後の）ヘルプデスクです。"
        )
    if inq.state == "closed":
        raise Conflict(
            "この問合せは「完了」です。メッセージを追加するには先に再開（reopen）してください。",
            detail={"state": inq.state, "tier": inq.current_tier},
        )
    party = next(iter(mine))
    if data.internal and principal.role not in INTERNAL_TO:
        raise InvalidInput.at(
            ["body", "internal"],
            "内部メモ（internal: true）を書けるのは都道府県とヘルプデスクだけです。質問者のメッセージは常に公開です。",
            input=True,
        )
    if party == "asker" and inq.state == "awaiting_asker" and not data.internal:
        return act(session, principal, inquiry_id, "reply", text=data.text, now=now)
    visibility = INTERNAL_TO[principal.role] if data.internal else "public"
    _message(session, inq, principal, party, "comment", visibility, data.text, now)
    inq.updated_at = now
    audit.record(session, principal, "inquiry.message", f"inquiry:{inq.id}", {"visibility": visibility})
    session.flush()
    return detail(session, principal, inq, labels, now)


# --- the queue ----------------------------------------------------------------------------------


def parse_statuses(text: str | None) -> list[str] | None:
    """'open,awaiting_asker' → the states; 'active' stands for open and awaiting_asker."""
    if not text:
        return None
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if part == "active":
            out.extend(ACTIVE)
        elif part in INQUIRY_STATES:
            out.append(part)
        else:
            raise InvalidInput.at(
                ["query", "status"],
                f"status は {', '.join(INQUIRY_STATES)}, active のいずれか"
                f"（カンマ区切りで複数可）で指定してください（{part!r}）。",
                input=text,
            )
    return list(dict.fromkeys(out))


def queue(
    session: Session,
    principal: Principal,
    *,
    status: str | None = None,
    overdue: bool | None = None,
    tier: str | None = None,
    category: str | None = None,
    operation: str | None = None,
    prefecture: str | None = None,
    text: str | None = None,
    assignee: str | None = None,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> Page[InquirySummary]:
    """The caller's inquiries, soonest due first (settled ones last), with overdue flags; paged."""
    now = now or utcnow()
    where = [visible_to(principal)]
    states = parse_statuses(status)
    if states:
        where.append(Inquiry.state.in_(states))
    late = and_(Inquiry.state == "open", Inquiry.due_at < now)
    if overdue is True:
        where.append(late)
    elif overdue is False:
        where.append(or_(Inquiry.state != "open", Inquiry.due_at >= now))
    if tier:
        where.append(Inquiry.current_tier == tier)
    if category:
        where.append(Inquiry.category == category)
    if operation:
        op_id = session.scalar(select(Operation.id).where(Operation.code == operation))
        if op_id is None:
            raise InvalidInput.at(
                ["query", "operation"],
                messages.unknown_operation(operation),
                input=operation,
            )
        where.append(Inquiry.operation_id == op_id)
    if prefecture:
        where.append(Inquiry.prefecture_code == prefecture)
    if assignee == "me":
        where.append(Inquiry.assignee_account_id == principal.account_id)
    elif assignee == "none":
        where.append(Inquiry.assignee_account_id.is_(None))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(Inquiry.title.ilike(pattern, escape="\\"), Inquiry.question.ilike(pattern, escape="\\")))
    total = session.scalar(select(func.count()).select_from(Inquiry).where(*where)) or 0
    ids = list(
        session.scalars(
            select(Inquiry.id)
            .where(*where)
            .order_by(Inquiry.due_at.asc().nulls_last(), Inquiry.id)
            .limit(limit)
            .offset(offset)
        )
    )
    rows = (
        {r[0].id: r for r in session.execute(_with_labels(select(Inquiry).where(Inquiry.id.in_(ids))))} if ids else {}
    )
    items = [InquirySummary(**_summary_fields(rows[i][0], Labels(*rows[i][1:]), principal, now)) for i in ids]
    return Page[InquirySummary](items=items, total=total, limit=limit, offset=offset)


# --- duplicates ---------------------------------------------------------------------------------


def similar(session: Session, principal: Principal, text: str, *, exclude_id: int | None = None) -> Similar:
    """Published FAQ entries and the caller's own open inquiries that contain most of text's terms."""
    terms = query_terms(text)
    found = faqs.search_ids(session, principal, text, coverage=SIMILAR_COVERAGE, limit=5) if terms else []
    own = []
    if terms:
        rows = session.execute(
            select(Inquiry.id, Inquiry.title, Inquiry.question, Inquiry.state)
            .where(visible_to(principal), _own(principal), Inquiry.state.in_(ACTIVE))
            .order_by(Inquiry.id.desc())
            .limit(200)
        )
        for inquiry_id, title, question, state in rows:
            if inquiry_id == exclude_id:
                continue
            score = coverage(terms, set(tokens(title)) | set(tokens(question)))
            if score >= SIMILAR_COVERAGE:
                own.append(SimilarInquiry(id=inquiry_id, title=title, state=state, score=round(score, 3)))
        own.sort(key=lambda s: (-s.score, -s.id))
    return Similar(faqs=found, inquiries=own[:5])


def open_by_body(session: Session, prefecture_code: str) -> dict[int, int]:
    """Open (or awaiting) inquiries per asking municipality of a prefecture — for the lagging list."""
    rows = session.execute(
        select(Inquiry.asker_body_id, func.count())
        .where(
            Inquiry.prefecture_code == prefecture_code, Inquiry.asker_role == "municipality", Inquiry.state.in_(ACTIVE)
        )
        .group_by(Inquiry.asker_body_id)
    )
    return {body_id: n for body_id, n in rows if body_id is not None}
