"""Messages to people: written into the outbox in the same transaction as the change that causes them
(so a message exists exactly when its change committed), rendered from Japanese templates as plain text and
HTML with no outside assets; pmo.outbox.delivery sends them."""

from datetime import datetime
from html import escape

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pmo.config import get_settings
from pmo.db import utcnow
from pmo.models import Account, Inquiry, OutboxMessage

SIGNATURE = "――\n地方公共団体情報システム標準化 進捗管理（pmo）\nこのメールは送信専用です。"
INQUIRY_EVENTS = {  # action → (subject, what happened), to the asker
    "answer": ("問合せに回答がありました", "あなたの問合せに回答がありました。"),
    "ask_back": ("問合せについて確認があります", "あなたの問合せについて、担当から確認の依頼があります。"),
    "escalate": ("問合せが国のヘルプデスクに引き継がれました", "あなたの問合せは国のヘルプデスクに引き継がれました。"),
    "route": ("問合せが所管省庁に回付されました", "あなたの問合せは所管省庁に回付されました。"),
    "close": ("問合せが完了しました", "あなたの問合せは完了しました。"),
}


def render(title: str, lines: list[str], path: str) -> tuple[str, str]:
    """A message's plain text and HTML: the lines, a link to the page, the signature."""
    link = get_settings().site_url.rstrip("/") + path
    text = "\n".join([*lines, "", f"詳しくはこちら：{link}", "", SIGNATURE]) + "\n"
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines)
    html = (
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f'<body style="font-family: sans-serif; line-height: 1.6">{paragraphs}'
        f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
        f'<p style="color: #555">{escape(SIGNATURE).replace(chr(10), "<br>")}</p></body></html>'
    )
    return text, html


def enqueue(
    session: Session, account: Account, kind: str, dedupe_key: str, subject: str, lines: list[str], path: str
) -> None:
    """Put one message to account into the outbox (nothing when it has no e-mail address, or when the same
    dedupe_key was written before: one message per event and person)."""
    if not account.email:
        return
    text, html = render(subject, lines, path)
    now = utcnow()
    row = {
        "kind": kind,
        "account_id": account.id,
        "recipient": account.email,
        "subject": f"[pmo] {subject}",
        "text": text,
        "html": html,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "due_at": now,
        "attempts": 0,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(OutboxMessage).values(row).on_conflict_do_nothing(index_elements=["dedupe_key"]))


def inquiry_event(session: Session, inquiry: Inquiry, action: str, at: datetime) -> None:
    """Tell the asker what just happened to their inquiry (answer, ask back, escalation, routing, close)."""
    if action not in INQUIRY_EVENTS:
        return
    asker = session.get(Account, inquiry.asker_account_id)
    if asker is None:
        return
    subject, said = INQUIRY_EVENTS[action]
    lines = [said, f"問合せ番号 {inquiry.id}「{inquiry.title}」"]
    key = f"inquiry:{inquiry.id}:{action}:{at.isoformat()}:{asker.id}"
    enqueue(session, asker, f"inquiry.{action}", key, subject, lines, f"/inquiries/{inquiry.id}")


def recent(session: Session, limit: int = 200) -> list[OutboxMessage]:
    """The newest messages, for the admins' outbox page."""
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)))
