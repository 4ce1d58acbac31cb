"""Who is told what when something happens: the events of inquiries (to the asker; to the tier whose queue it
reaches; deadlines to the tier and, for the national tiers, to the admins), and of adviser requests (to the
body and who asked). Each writes its messages with outbox.enqueue in the transaction of the change."""

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from pmo.inquiries.access import tier_accounts
from pmo.labels import datetime_ja
from pmo.models import Account, AdviserRequest, Inquiry
from pmo.outbox.service import enqueue

TO_ASKER = {  # action → (subject, what happened), to the asker
    "answer": ("問合せに回答がありました", "あなたの問合せに回答がありました。"),
    "ask_back": ("問合せについて確認があります", "あなたの問合せについて、担当から確認の依頼があります。"),
    "escalate": ("問合せが国のヘルプデスクに引き継がれました", "あなたの問合せは国のヘルプデスクに引き継がれました。"),
    "route": ("問合せが所管省庁に回付されました", "あなたの問合せは所管省庁に回付されました。"),
    "close": ("問合せが完了しました", "あなたの問合せは完了しました。"),
}
TO_QUEUE = {  # action → (kind, subject, what happened), to the tier whose queue the inquiry is now in
    "file": ("inquiry.queued", "新しい問合せが届きました", "担当の窓口に新しい問合せが届きました。"),
    "escalate": ("inquiry.queued", "問合せが引き継がれました", "問合せが引き継がれ、担当の窓口に届きました。"),
    "route": ("inquiry.queued", "問合せが回付されました", "国のヘルプデスクから問合せが回付されました。"),
    "reopen": ("inquiry.reopened", "問合せが再開されました", "完了していた問合せが質問者により再開されました。"),
}
DEADLINES = {  # kind → (subject, what it means)
    "inquiry.due_tomorrow": ("問合せの回答期限が明日です", "次の問合せの回答期限は明日（{due}）です。"),
    "inquiry.overdue": ("問合せの回答期限を過ぎています", "次の問合せは回答期限（{due}）を過ぎています。"),
}
ADVISER_EVENTS = {
    "assign": ("アドバイザーが決まりました", "アドバイザー派遣の依頼に、アドバイザー（{adviser}）が決まりました。"),
    "visit": ("アドバイザー派遣の記録が追加されました", "アドバイザー（{adviser}）の派遣の記録が追加されました。"),
}


def _reachable(query: Select) -> Select:
    return query.where(Account.email.is_not(None), Account.disabled_at.is_(None))


def tier_people(inq: Inquiry) -> Select:
    """The people with a mail address who work the queue the inquiry is in."""
    return _reachable(tier_accounts(inq))


def _about(inq: Inquiry) -> str:
    return f"問合せ番号 {inq.id}「{inq.title}」"


def inquiry_event(session: Session, inq: Inquiry, action: str, at: datetime) -> None:
    """Tell the asker what just happened to their inquiry, and the tier that now has it in its queue."""
    if action in TO_ASKER:
        asker = session.get(Account, inq.asker_account_id)
        if asker is not None:
            subject, said = TO_ASKER[action]
            key = f"inquiry:{inq.id}:{action}:{at.isoformat()}:{asker.id}"
            enqueue(session, asker, f"inquiry.{action}", key, subject, [said, _about(inq)], f"/inquiries/{inq.id}")
    if action in TO_QUEUE:
        kind, subject, said = TO_QUEUE[action]
        for person in session.scalars(tier_people(inq)):
            key = f"inquiry:{inq.id}:{action}:{at.isoformat()}:queue:{person.id}"
            enqueue(session, person, kind, key, subject, [said, _about(inq)], f"/inquiries/{inq.id}")


def inquiry_assigned(session: Session, inq: Inquiry, assignee: Account, by: str, at: datetime) -> None:
    """Tell a person that someone gave them an inquiry to work."""
    key = f"inquiry:{inq.id}:assign:{at.isoformat()}:{assignee.id}"
    lines = [f"{by} さんが、次の問合せの担当にあなたを割り当てました。", _about(inq)]
    enqueue(session, assignee, "inquiry.assigned", key, "問合せの担当になりました", lines, f"/inquiries/{inq.id}")


def inquiry_deadline(session: Session, inq: Inquiry, kind: str, due: datetime) -> int:
    """Warn the tier of a deadline tomorrow, or that it passed (then also the admins above a national tier);
    once per inquiry, due time and person. How many people were told."""
    subject, said = DEADLINES[kind]
    people = list(session.scalars(tier_people(inq)))
    if kind == "inquiry.overdue" and inq.current_tier != "prefecture":
        people += list(session.scalars(_reachable(select(Account).where(Account.role == "admin"))))
    for person in people:
        key = f"{kind}:{inq.id}:{due.isoformat()}:{person.id}"
        lines = [said.format(due=datetime_ja(due)), _about(inq)]
        enqueue(session, person, kind, key, subject, lines, f"/inquiries/{inq.id}")
    return len(people)


def adviser_event(session: Session, req: AdviserRequest, action: str, at: datetime) -> None:
    """Tell the body an adviser was assigned to it or a visit recorded (and whoever asked, if someone else)."""
    if action not in ADVISER_EVENTS:
        return
    subject, said = ADVISER_EVENTS[action]
    people = {
        a.id: a
        for a in session.scalars(
            _reachable(
                select(Account).where(Account.body_id == req.body_id, Account.role.in_(("municipality", "prefecture")))
            )
        )
    }
    requester = session.get(Account, req.requester_account_id) if req.requester_account_id else None
    if requester is not None and requester.email and requester.disabled_at is None:
        people.setdefault(requester.id, requester)
    lines = [said.format(adviser=req.adviser or "未定"), f"依頼番号 {req.id}「{req.topic}」"]
    for person in people.values():
        key = f"adviser:{req.id}:{action}:{at.isoformat()}:{person.id}"
        enqueue(session, person, f"adviser.{action}", key, subject, lines, f"/adviser-requests/{req.id}")
