"""Demo people: the national helpdesk and admin, account administrators for 東京都 and 千代田区 with their
staff — one invited and not yet signed in, one disabled after a transfer — so the account pages and the
outbox hold what April looks like. They are made before the demo inquiries, so those leave the people with
an e-mail (the ones `make run` prints sign-ins for) their notifications."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo.accounts import links, service
from pmo.db import utcnow
from pmo.models import Account

DOMAIN = "demo.pmo.example"
# name, role, body, administrator, display name, what became of them (an e-mail: make run gives a password)
PEOPLE = (
    ("demo-admin", "admin", None, False, "国 システム管理者", "admin"),
    ("demo-helpdesk", "helpdesk", None, False, "国 ヘルプデスク", "helpdesk"),
    ("demo-tokyo", "prefecture", "130001", True, "東京都 デジタル推進課 管理者", "tokyo"),
    ("tokyo-sato", "prefecture", "130001", False, "佐藤 美咲（東京都）", "invited"),
    ("tokyo-suzuki", "prefecture", "130001", False, "鈴木 健太（東京都・異動）", "disabled"),
    ("demo-chiyoda-admin", "municipality", "131016", True, "千代田区 情報政策課 管理者", "demo-chiyoda-admin"),
    ("demo-chiyoda", "municipality", "131016", False, "千代田区 標準化担当", "chiyoda"),
    ("chiyoda-takahashi", "municipality", "131016", False, "高橋 翔（千代田区）", "invited"),
    ("chiyoda-ito", "municipality", "131016", False, "伊藤 陽子（千代田区・退職）", "disabled"),
    ("chuo-admin", "municipality", "131024", True, "中央区 情報化推進係 管理者", "invited"),
)


def generate(session: Session) -> int:
    """Make the demo people that do not exist yet; how many were made."""
    made = 0
    for name, role, body, administrator, display_name, fate in PEOPLE:
        if session.scalar(select(Account.id).where(Account.name == name)) is not None:
            continue
        account = service.create_account(
            session, name, role, body, actor="demo", display_name=display_name, administrator=administrator
        )
        if fate == "invited":
            links.invite(session, account, f"{name}@{DOMAIN}", actor="demo-tokyo" if administrator else "demo")
        elif fate == "disabled":
            account.email = f"{name}@{DOMAIN}"
            account.disabled_at = utcnow()
        elif fate:
            account.email = f"{fate}@{DOMAIN}"
        made += 1
    return made
