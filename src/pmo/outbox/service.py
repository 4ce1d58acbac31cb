"""Messages to people: written into the outbox in the same transaction as the change that causes them
(so a message exists exactly when its change committed), rendered from Japanese templates as plain text and
HTML with no outside assets; pmo.outbox.delivery sends them."""

from html import escape

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pmo.config import get_settings
from pmo.db import utcnow
from pmo.models import Account, OutboxMessage
from pmo.notifications import service as notifications

SIGNATURE = "――\n地方公共団体情報システム標準化 進捗管理（pmo）\nこのメールは送信専用です。"
SETTINGS_PATH = "/notifications#settings"
CHOICE = "メールの受け取り方（すぐに・1日1回まとめて・受け取らない）の変更"


def render(title: str, lines: list[str], path: str) -> tuple[str, str]:
    """A message's plain text and HTML: the lines, a link to the page, the signature."""
    site = get_settings().site_url.rstrip("/")
    link, settings = site + path, site + SETTINGS_PATH
    text = "\n".join([*lines, "", f"詳しくはこちら：{link}", "", SIGNATURE, f"{CHOICE}：{settings}"]) + "\n"
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in lines)
    html = (
        f'<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f'<body style="font-family: sans-serif; line-height: 1.6">{paragraphs}'
        f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
        f'<p style="color: #555">{escape(SIGNATURE).replace(chr(10), "<br>")}<br>'
        f'<a href="{escape(settings)}">{CHOICE}</a></p></body></html>'
    )
    return text, html


def enqueue(
    session: Session, account: Account, kind: str, dedupe_key: str, subject: str, lines: list[str], path: str
) -> None:
    """Put one message to account into the outbox: its notification in the app, and its e-mail as the person
    chose for the kind's topic (nothing when it has no e-mail address, or when the same dedupe_key was written
    before: one message per event and person)."""
    if not account.email:
        return
    text, html = render(subject, lines, path)
    now = utcnow()
    delivery = notifications.delivery_for(session, account.id, kind)
    row = {
        "kind": kind,
        "account_id": account.id,
        "recipient": account.email,
        "subject": f"[pmo] {subject}",
        "text": text,
        "html": html,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "due_at": notifications.next_digest(now) if delivery == "digest" else now,
        "attempts": 0,
        "delivery": delivery,
        "path": path,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(OutboxMessage).values(row).on_conflict_do_nothing(index_elements=["dedupe_key"]))


def recent(session: Session, limit: int = 200) -> list[OutboxMessage]:
    """The newest messages, for the admins' outbox page."""
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)))
