"""Marking a follow-up done through the API: the prefecture that recorded it, once, audited."""

from datetime import timedelta

from sqlalchemy import select

from pmo import periods
from pmo.db import session_scope
from pmo.models import AuditEntry

TOKYO, CHIYODA, HOKKAIDO = "130001", "131016", "010006"
YESTERDAY = (periods.today() - timedelta(days=1)).isoformat()


def _record(client, headers, shared: bool = False) -> int:
    data = {"held_on": YESTERDAY, "channel": "visit", "learned": "事業者の要員が不足している。"}
    if shared:
        data |= {"shared_with_national": True, "delay_cause": "vendor_resources"}
    r = client.post(f"/api/v1/bodies/{CHIYODA}/follow-ups", headers=headers, json=data)
    assert r.status_code == 201, r.text
    assert r.json()["done_at"] is None and r.json()["done_by"] is None
    return r.json()["id"]


def test_the_recording_prefecture_marks_it_done_once(client, token_for):
    tokyo = token_for("prefecture", TOKYO)
    fid = _record(client, tokyo)
    r = client.post(f"/api/v1/follow-ups/{fid}/done", headers=tokyo, json={"note": "計画の再作成を確認した。"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert (
        done["done_at"]
        and done["done_by"].startswith("prefecture-")
        and done["done_note"] == "計画の再作成を確認した。"
    )
    assert client.get(f"/api/v1/follow-ups/{fid}", headers=tokyo).json()["done_at"] == done["done_at"]
    listed = client.get("/api/v1/follow-ups", headers=tokyo).json()["items"]
    assert [(f["id"], f["done_note"]) for f in listed] == [(fid, "計画の再作成を確認した。")]
    assert client.get("/api/v1/follow-ups", headers=tokyo, params={"done": "false"}).json()["items"] == []
    assert [
        f["id"] for f in client.get("/api/v1/follow-ups", headers=tokyo, params={"done": "true"}).json()["items"]
    ] == [fid]
    again = client.post(f"/api/v1/follow-ups/{fid}/done", headers=tokyo, json={})
    assert again.status_code == 409 and again.json()["error"] == "conflict" and "既に完了" in again.json()["message"]
    with session_scope() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target == f"follow_up:{fid}")).all()
    assert sorted(actions) == ["follow_up.create", "follow_up.done"]  # the refused second call wrote nothing


def test_no_one_else_may_mark_it_done(client, token_for):
    tokyo = token_for("prefecture", TOKYO)
    fid = _record(client, tokyo, shared=True)
    url = f"/api/v1/follow-ups/{fid}/done"
    assert client.post(url, headers=token_for("prefecture", HOKKAIDO), json={}).status_code == 404  # not its own
    assert client.post(url, headers=token_for("municipality", CHIYODA), json={}).status_code == 404
    for role in ("helpdesk", "admin"):  # they see it (shared), but it is the prefecture's to close
        r = client.post(url, headers=token_for(role), json={})
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (role, r.text)
    assert client.get(f"/api/v1/follow-ups/{fid}", headers=tokyo).json()["done_at"] is None
    too_long = client.post(url, headers=tokyo, json={"note": "あ" * 4001})
    assert too_long.status_code == 422 and too_long.json()["detail"][0]["loc"] == ["body", "note"]
    assert client.post(url, headers=tokyo, json={"done_by": "someone"}).status_code == 422
