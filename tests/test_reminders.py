"""`pmo remind` (issue 17): a body whose report is due within N business days and not in yet, a body on the
due day, and a prefecture its municipalities still missing after the due time; once per period and person."""

import secrets

from sqlalchemy import select

from pmo.accounts import passwords
from pmo.db import session_scope
from pmo.models import Account, OutboxMessage
from tests.test_cli import pmo  # noqa: F401 — the CLI fixture

NAHA, GINOWAN, OKINAWA = "472018", "472051", "470007"  # 沖縄県: no other test reports for it
PERIOD = "2026-11"  # due 2026-12-10 (Thursday), the day's end in JST


def with_email(token_for, role: str, body: str) -> tuple[dict[str, str], str]:
    headers = token_for(role, body)
    email = f"{role}-{body}-{secrets.token_hex(3)}@pref.okinawa.lg.jp"
    with session_scope() as session:
        account = session.scalars(select(Account).order_by(Account.id.desc()).limit(1)).one()
        passwords.set_password(session, account, email, "okinawa passphrase", actor="test")
    return headers, email


def kinds_for(email: str) -> list[str]:
    with session_scope(read_only=True) as session:
        return sorted(session.scalars(select(OutboxMessage.kind).where(OutboxMessage.recipient == email)))


def test_reminders_before_on_and_after_the_due_day_once_each(client, token_for, pmo):  # noqa: F811
    _, naha = with_email(token_for, "municipality", NAHA)
    ginowan_headers, ginowan = with_email(token_for, "municipality", GINOWAN)
    _, okinawa = with_email(token_for, "prefecture", OKINAWA)
    cell = {"operation": "koseki", "step": "S01", "status": "done"}
    r = client.put(f"/api/v1/bodies/{GINOWAN}/reports/{PERIOD}", json={"cells": [cell]}, headers=ginowan_headers)
    assert r.status_code == 200, r.text

    pmo("remind", "--at", "2026-12-04T09:00+09:00")  # Friday: 4 business days left (7, 8, 9, 10) > 3
    assert kinds_for(naha) == []
    for _ in range(2):  # hourly runs write it once
        pmo("remind", "--at", "2026-12-07T09:00+09:00")  # Monday: 3 business days left
    assert kinds_for(naha) == ["report.due_soon"] and kinds_for(ginowan) == []  # 宜野湾市 has reported
    pmo("remind", "--at", "2026-12-10T09:00+09:00")
    assert kinds_for(naha) == ["report.due_soon", "report.due_today"]
    assert kinds_for(okinawa) == ["report.due_soon", "report.due_today"]  # 沖縄県's own report is not in either
    for _ in range(2):
        pmo("remind", "--at", "2026-12-11T09:00+09:00")  # past the due time: the prefecture hears who is missing
    assert kinds_for(okinawa) == ["report.due_soon", "report.due_today", "report.prefecture_missing"]
    with session_scope(read_only=True) as session:
        text = session.scalars(
            select(OutboxMessage.text).where(
                OutboxMessage.recipient == okinawa, OutboxMessage.kind == "report.prefecture_missing"
            )
        ).one()
    assert "那覇市" in text and "宜野湾市" not in text and "/prefectures/470007" in text
    assert kinds_for(naha) == ["report.due_soon", "report.due_today"]  # bodies get no more after the due time


def test_remind_refuses_a_time_without_a_zone(pmo):  # noqa: F811
    result = pmo("remind", "--at", "2026-12-07T09:00", ok=False)
    assert result.exit_code != 0 and "time zone" in result.output
