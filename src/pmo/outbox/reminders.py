"""Reminders (`pmo remind`, safe to run every hour: each reminder is written once per period or due time and
person, by its dedupe key): to a body whose report is due within PMO_REMIND_BUSINESS_DAYS business days and
not in yet, to a body on the due day itself, to a prefecture its municipalities still missing once the due
time has passed; to an inquiry's tier the business day before its answer is due, and once it is overdue."""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from pmo import periods
from pmo.config import get_settings
from pmo.inquiries.calendar import add_business_days, business_days_between
from pmo.labels import month_ja
from pmo.models import Account, Body, BodyPeriod, Inquiry
from pmo.outbox import events
from pmo.outbox.service import enqueue

LISTED = 30  # municipalities named in a prefecture's reminder (the page has them all)


def remind(session: Session, now: datetime) -> Counter[str]:
    """Write the reminders due at now — reports, and inquiries' deadlines; how many of each kind were written
    (or already were)."""
    return _reports(session, now) + _inquiry_deadlines(session, now)


def _inquiry_deadlines(session: Session, now: datetime) -> Counter[str]:
    """Every inquiry whose clock runs (not answered, closed or paused for the asker): its tier is told the
    business day before its due time, and again once it has passed."""
    written: Counter[str] = Counter()
    tomorrow = add_business_days(now, 1)
    running = select(Inquiry).where(Inquiry.due_at <= tomorrow, Inquiry.paused_at.is_(None)).order_by(Inquiry.id)
    for inq in session.scalars(running):
        if inq.due_at is not None:
            kind = "inquiry.overdue" if inq.due_at <= now else "inquiry.due_tomorrow"
            written[kind] += events.inquiry_deadline(session, inq, kind, inq.due_at)
    return written


def _reports(session: Session, now: datetime) -> Counter[str]:
    period = periods.add_months(periods.current(now), -1)  # the month being reported now
    reported = set(session.scalars(select(BodyPeriod.body_id).where(BodyPeriod.period == period)))
    people = session.execute(
        select(Account, Body)
        .join(Body, Body.id == Account.body_id)
        .where(Account.email.is_not(None), Account.disabled_at.is_(None), Account.role.in_(REMINDED))
    ).all()
    if now < periods.due_at(period):
        return _to_bodies(session, people, period, reported, now)
    return _to_prefectures(session, people, period, reported)


REMINDED = ("municipality", "prefecture")


def _last_day(period: int) -> datetime:
    return (periods.due_at(period) - timedelta(seconds=1)).astimezone(periods.zone())


def _to_bodies(session: Session, people: Sequence[Row], period: int, reported: set[int], now: datetime) -> Counter[str]:
    written: Counter[str] = Counter()
    last = _last_day(period)
    on_the_day = now.astimezone(periods.zone()).date() == last.date()
    left = business_days_between(now, last)
    if not on_the_day and left > get_settings().remind_business_days:
        return written
    kind = "report.due_today" if on_the_day else "report.due_soon"
    month, deadline = month_ja(period), f"{last:%-m月%-d日}"
    when = "本日が" if on_the_day else f"あと {left} 営業日で"
    for account, body in people:
        if body.id in reported:
            continue
        lines = [f"{body.name}の{month}分の報告がまだ届いていません。{when}報告期限（{deadline}）です。"]
        subject = f"{month}分の報告期限が近づいています"
        enqueue(session, account, kind, f"{kind}:{period}:{account.id}", subject, lines, f"/bodies/{body.code}")
        written[kind] += 1
    return written


def _to_prefectures(session: Session, people: Sequence[Row], period: int, reported: set[int]) -> Counter[str]:
    written: Counter[str] = Counter()
    kind = "report.prefecture_missing"
    missing = _missing_municipalities(session, reported)
    month, deadline = month_ja(period), f"{_last_day(period):%-m月%-d日}"
    for account, body in people:
        names = missing.get(body.code[:2], [])
        if account.role != "prefecture" or body.kind != "prefecture" or not names:
            continue
        shown = "、".join(names[:LISTED]) + (f" ほか {len(names) - LISTED} 団体" if len(names) > LISTED else "")
        lines = [f"{month}分の報告期限（{deadline}）を過ぎても、管内の {len(names)} 団体から報告がありません。", shown]
        subject = f"{month}分の未報告の市区町村（{len(names)} 団体）"
        enqueue(session, account, kind, f"{kind}:{period}:{account.id}", subject, lines, f"/prefectures/{body.code}")
        written[kind] += 1
    return written


def _missing_municipalities(session: Session, reported: set[int]) -> dict[str, list[str]]:
    """Each prefecture's municipalities (by the first two digits of the code) that did not report."""
    out: dict[str, list[str]] = {}
    for body_id, code, name in session.execute(
        select(Body.id, Body.code, Body.name).where(Body.kind != "prefecture").order_by(Body.code)
    ):
        if body_id not in reported:
            out.setdefault(code[:2], []).append(name)
    return out
