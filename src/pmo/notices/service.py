"""Notices: the national tier informs an audience of bodies; bodies mark them read; senders see who has not."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, null, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pmo import audit, messages
from pmo.auth import Principal
from pmo.db import utcnow
from pmo.errors import Forbidden, InvalidInput, NotFound
from pmo.models import Account, Body, Faq, Inquiry, Notice, NoticeRead, Operation
from pmo.notices.schemas import (
    AUDIENCE_LABELS,
    CATEGORY_LABELS,
    NoticeIn,
    NoticeOut,
    Reader,
    Readers,
    ReadOut,
)
from pmo.outbox import service as outbox
from pmo.pagination import Page

SENDERS = ("helpdesk", "admin")
PUBLISHERS = (*SENDERS, "ministry")  # a ministry publishes for its own operations only
READERS = ("municipality", "prefecture")


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Senders see every notice; a body sees those addressed to it; nobody else sees any."""
    if principal.role in PUBLISHERS:
        return true()
    if principal.role == "vendor":
        return Notice.audience == "vendors"
    if principal.role == "prefecture":
        return Notice.audience.in_(("all", "prefectures"))
    if principal.role == "municipality":
        return or_(
            Notice.audience.in_(("all", "municipalities")),
            and_(
                Notice.audience == "prefecture_municipalities",
                Notice.audience_prefecture_code == principal.prefecture_code,
            ),
        )
    return false()


def recipients(notice: Notice) -> ColumnElement[bool]:
    """A WHERE clause on Body selecting the notice's audience."""
    if notice.audience == "all":
        return true()
    if notice.audience == "prefectures":
        return Body.kind == "prefecture"
    if notice.audience == "municipalities":
        return Body.kind != "prefecture"
    if notice.audience == "vendors":
        return false()  # vendors are companies, not bodies: their reading is not tracked by body
    return and_(Body.kind != "prefecture", Body.prefecture_code == notice.audience_prefecture_code)


def _audience_sizes(session: Session) -> dict[str, int]:
    counts = {"prefectures": 0, "municipalities": 0}
    by_prefecture: dict[str, int] = {}
    for pref, kind, n in session.execute(
        select(Body.prefecture_code, Body.kind, func.count()).group_by(Body.prefecture_code, Body.kind)
    ):
        if kind == "prefecture":
            counts["prefectures"] += n
        else:
            counts["municipalities"] += n
            by_prefecture[pref] = by_prefecture.get(pref, 0) + n
    return {
        "all": counts["prefectures"] + counts["municipalities"],
        "vendors": 0,
        **counts,
        **{f"p{k}": v for k, v in by_prefecture.items()},
    }


def _size(sizes: dict[str, int], n: Notice) -> int:
    return (
        sizes.get(f"p{n.audience_prefecture_code}", 0)
        if n.audience == "prefecture_municipalities"
        else sizes[n.audience]
    )


def _out(n: Notice, operation: str | None, **extra: Any) -> NoticeOut:
    return NoticeOut(
        id=n.id,
        title=n.title,
        body=n.body,
        category=n.category,
        category_label=CATEGORY_LABELS[n.category],
        audience=n.audience,
        audience_label=AUDIENCE_LABELS[n.audience],
        prefecture=n.audience_prefecture_code,
        operation=operation,
        faq_id=n.faq_id,
        inquiry_id=n.inquiry_id,
        published_at=n.published_at,
        published_by=n.created_by,
        publisher=n.publisher,
        **extra,
    )


def publish(session: Session, principal: Principal, data: NoticeIn, *, now: datetime | None = None) -> NoticeOut:
    """Publish a notice to its audience (helpdesk and admin; a ministry for an operation it owns)."""
    from pmo.accounts.service import ministries
    from pmo.inquiries import service as inquiries

    if principal.role not in PUBLISHERS:  # the API gates the route too; pages reach this directly
        raise Forbidden("お知らせを発信できるのはヘルプデスク・管理者・府省のアカウントだけです。")
    now = now or utcnow()
    op = None
    if data.operation:
        op = session.scalar(select(Operation).where(Operation.code == data.operation))
        if op is None:
            raise InvalidInput.at(
                ["body", "operation"],
                messages.unknown_operation(data.operation),
                input=data.operation,
            )
    op_id = op.id if op else None
    if principal.role == "ministry":
        if op is None or op.ministry != principal.organization:
            raise Forbidden(
                f"{principal.organization}が発信できるのは所管業務"
                f"（operation に{principal.organization}の業務を指定）のお知らせだけです。"
            )
        if data.publisher not in (None, principal.organization):
            raise InvalidInput.at(
                ["body", "publisher"], f"発信元は{principal.organization}です。", input=data.publisher
            )
        publisher = principal.organization
    else:
        publisher = data.publisher or "デジタル庁"
        if publisher not in ministries(session):
            raise InvalidInput.at(
                ["body", "publisher"], f"発信元は {'・'.join(ministries(session))} のいずれかです。", input=publisher
            )
    if data.faq_id is not None:
        status = session.scalar(select(Faq.status).where(Faq.id == data.faq_id))
        if status is None:
            raise InvalidInput.at(["body", "faq_id"], f"FAQ {data.faq_id} はありません。", input=data.faq_id)
        if status != "published":
            raise InvalidInput.at(
                ["body", "faq_id"],
                f"FAQ {data.faq_id} は下書きです。公開してからリンクしてください。",
                input=data.faq_id,
            )
    if (
        data.inquiry_id is not None
        and session.scalar(select(Inquiry.id).where(Inquiry.id == data.inquiry_id, inquiries.visible_to(principal)))
        is None
    ):
        raise InvalidInput.at(["body", "inquiry_id"], f"問合せ {data.inquiry_id} はありません。", input=data.inquiry_id)
    notice = Notice(
        title=data.title,
        body=data.body,
        category=data.category,
        audience=data.audience,
        audience_prefecture_code=data.prefecture,
        operation_id=op_id,
        faq_id=data.faq_id,
        inquiry_id=data.inquiry_id,
        published_at=now,
        created_by_account_id=principal.account_id,
        created_by=principal.name,
        publisher=publisher,
    )
    session.add(notice)
    session.flush()
    audit.record(
        session,
        principal,
        "notice.publish",
        f"notice:{notice.id}",
        {"audience": data.audience, "prefecture": data.prefecture, "category": data.category},
    )
    _mail_audience(session, notice)
    sizes = _audience_sizes(session)
    return _out(notice, data.operation, n_recipients=_size(sizes, notice), n_read=0)


def _mail_audience(session: Session, notice: Notice) -> None:
    """A message to each person of the audience who has a sign-in e-mail (written with the notice itself)."""
    if notice.audience == "vendors":
        people = select(Account).where(Account.role == "vendor")
    else:
        people = select(Account).join(Body, Body.id == Account.body_id).where(recipients(notice))
    lines = [f"{notice.publisher}からお知らせが発信されました。", f"「{notice.title}」"]
    for account in session.scalars(people.where(Account.email.is_not(None), Account.disabled_at.is_(None))):
        key = f"notice:{notice.id}:{account.id}"
        outbox.enqueue(
            session, account, "notice.published", key, f"お知らせ：{notice.title}"[:190], lines, f"/notices/{notice.id}"
        )


def _operation_codes(session: Session) -> dict[int | None, str]:
    """Operation id → code, looked up with a notice's operation_id (None when it names none)."""
    codes: dict[int | None, str] = dict(session.execute(select(Operation.id, Operation.code)).all())
    return codes


def list_notices(
    session: Session,
    principal: Principal,
    *,
    unread: bool | None = None,
    category: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> Page[NoticeOut]:
    """The notices the caller may see, newest first; bodies get their read mark, senders the read counts."""
    is_body = principal.role in READERS and principal.body_id is not None
    query = select(Notice, NoticeRead.read_at if is_body else null().label("read_at")).where(visible_to(principal))
    if is_body:
        query = query.outerjoin(
            NoticeRead, and_(NoticeRead.notice_id == Notice.id, NoticeRead.body_id == principal.body_id)
        )
        if unread is True:
            query = query.where(NoticeRead.read_at.is_(None))
        elif unread is False:
            query = query.where(NoticeRead.read_at.is_not(None))
    elif unread is not None:
        raise InvalidInput.at(
            ["query", "unread"], "unread は団体（市区町村・都道府県）のアカウントだけが指定できます。", input=unread
        )
    if category:
        query = query.where(Notice.category == category)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Notice.published_at.desc(), Notice.id.desc()).limit(limit).offset(offset)
    ).all()
    ops = _operation_codes(session)
    if is_body:
        items = [_out(n, ops.get(n.operation_id), read_at=read_at) for n, read_at in rows]
    elif principal.role in SENDERS:
        ids = [n.id for n, _ in rows]
        reads = (
            dict(
                session.execute(
                    select(NoticeRead.notice_id, func.count())
                    .where(NoticeRead.notice_id.in_(ids))
                    .group_by(NoticeRead.notice_id)
                ).all()
            )
            if ids
            else {}
        )
        sizes = _audience_sizes(session)
        items = [
            _out(n, ops.get(n.operation_id), n_recipients=_size(sizes, n), n_read=reads.get(n.id, 0)) for n, _ in rows
        ]
    else:
        items = [_out(n, ops.get(n.operation_id)) for n, _ in rows]
    return Page[NoticeOut](items=items, total=total, limit=limit, offset=offset)


def _visible(session: Session, principal: Principal, notice_id: int) -> Notice:
    notice = session.scalar(select(Notice).where(Notice.id == notice_id, visible_to(principal)))
    if notice is None:
        raise NotFound(f"お知らせ {notice_id} はありません。")
    return notice


def get(session: Session, principal: Principal, notice_id: int) -> NoticeOut:
    """One notice the caller may see."""
    notice = _visible(session, principal, notice_id)
    ops = _operation_codes(session)
    if principal.role in READERS and principal.body_id is not None:
        read_at = session.scalar(
            select(NoticeRead.read_at).where(NoticeRead.notice_id == notice.id, NoticeRead.body_id == principal.body_id)
        )
        return _out(notice, ops.get(notice.operation_id), read_at=read_at)
    if principal.role in SENDERS:
        n_read = session.scalar(select(func.count()).select_from(NoticeRead).where(NoticeRead.notice_id == notice.id))
        return _out(
            notice, ops.get(notice.operation_id), n_recipients=_size(_audience_sizes(session), notice), n_read=n_read
        )
    return _out(notice, ops.get(notice.operation_id))


def mark_read(session: Session, principal: Principal, notice_id: int, *, now: datetime | None = None) -> ReadOut:
    """Mark a notice read for the caller's body (idempotent: the first reading stays)."""
    notice = _visible(session, principal, notice_id)
    if principal.role not in READERS or principal.body_id is None:
        raise Forbidden("既読にできるのは宛先の団体（市区町村・都道府県）のアカウントだけです。")
    mine = (NoticeRead.notice_id == notice.id, NoticeRead.body_id == principal.body_id)
    existing = session.scalar(select(NoticeRead).where(*mine))
    if existing is None:
        try:  # two colleagues of one body may mark it at the same moment: the first one wins, neither fails
            with session.begin_nested():
                existing = NoticeRead(
                    notice_id=notice.id,
                    body_id=principal.body_id,
                    read_at=now or utcnow(),
                    account_id=principal.account_id,
                )
                session.add(existing)
                session.flush()
            audit.record(session, principal, "notice.read", f"notice:{notice.id}", None)
        except IntegrityError:
            existing = session.scalars(select(NoticeRead).where(*mine)).one()  # the colleague's, just written
    return ReadOut(notice_id=notice.id, body=principal.body_code or "", read_at=existing.read_at)


def readers(session: Session, principal: Principal, notice_id: int, *, read: bool | None = None) -> Readers:
    """Every body of the audience with when it read the notice (null: not yet) — senders only."""
    notice = _visible(session, principal, notice_id)
    if principal.role not in SENDERS:
        raise Forbidden("既読状況を見られるのは送信側（ヘルプデスク・管理者）だけです。")
    rows = session.execute(
        select(Body.code, Body.name, Body.kind, Body.prefecture_code, NoticeRead.read_at, Account.name)
        .outerjoin(NoticeRead, and_(NoticeRead.body_id == Body.id, NoticeRead.notice_id == notice.id))
        .outerjoin(Account, Account.id == NoticeRead.account_id)
        .where(recipients(notice))
        .order_by(Body.code)
    ).all()
    bodies = [Reader(body=c, name=n, kind=k, prefecture_code=p, read_at=r, read_by=a) for c, n, k, p, r, a in rows]
    n_read = sum(1 for b in bodies if b.read_at is not None)
    if read is not None:
        bodies = [b for b in bodies if (b.read_at is not None) == read]
    return Readers(
        notice_id=notice.id, n_recipients=len(rows), n_read=n_read, n_unread=len(rows) - n_read, bodies=bodies
    )
