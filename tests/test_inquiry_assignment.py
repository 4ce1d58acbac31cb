"""Who works an inquiry: assigned within the handling tier (API, thread page, bulk), told to the assignee, cleared
when the tier changes, and filtered as the caller's own or nobody's in the queue."""

import pytest

from tests.test_dashboard import sign_in
from tests.test_helpdesk_pages import QUESTION, file, post, read, text_of
from tests.test_notifications import person
from tests.test_reminders import kinds_for

CHIYODA, TOKYO, HOKKAIDO = "131016", "130001", "010006"
API = "/api/v1"


@pytest.fixture
def staff(token_for):
    tokyo, _ = person(token_for, "prefecture", TOKYO)
    colleague, colleague_email = person(token_for, "prefecture", TOKYO)
    helpdesk, _ = person(token_for, "helpdesk")
    helpdesk2, helpdesk2_email = person(token_for, "helpdesk")
    return {
        "chiyoda": token_for("municipality", CHIYODA),
        "tokyo": tokyo,
        "colleague": colleague,
        "colleague_email": colleague_email,
        "hokkaido": token_for("prefecture", HOKKAIDO),
        "helpdesk": helpdesk,
        "helpdesk2": helpdesk2,
        "helpdesk2_email": helpdesk2_email,
    }


def account_id(client, headers, of: dict, inquiry_id: int) -> int:
    """The id of the account behind `of`, from the inquiry's assignable list as `headers` sees it."""
    name = client.get(f"{API}/me", headers=of).json()["name"]
    return next(a["id"] for a in read(client, headers, inquiry_id)["assignable"] if a["name"] == name)


def assign(client, headers, inquiry_id: int, assignee, status: int = 200) -> dict:
    r = client.post(f"{API}/inquiries/{inquiry_id}/assign", headers=headers, json={"assignee": assignee})
    assert r.status_code == status, r.text
    return r.json()


def queue_ids(client, headers, **query) -> list[int]:
    r = client.get(f"{API}/inquiries", headers=headers, params=query)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def test_the_handling_tier_assigns_its_own_people_and_the_assignee_is_told(client, staff):
    inquiry = file(client, staff["chiyoda"])
    colleague = account_id(client, staff["tokyo"], staff["colleague"], inquiry)
    done = assign(client, staff["tokyo"], inquiry, colleague)
    assert done["assignee"]["id"] == colleague and "assign" in done["allowed_actions"]
    assert done["history"][-1]["action"] == "assign" and done["history"][-1]["note"] == done["assignee"]["name"]
    assert [k for k in kinds_for(staff["colleague_email"]) if k == "inquiry.assigned"] == ["inquiry.assigned"]
    assert queue_ids(client, staff["colleague"], assignee="me") == [inquiry]
    assert queue_ids(client, staff["tokyo"], assignee="me") == []
    assert queue_ids(client, staff["tokyo"], assignee="none") == []
    other = file(client, staff["chiyoda"], title="別の問合せ")
    assert queue_ids(client, staff["tokyo"], assignee="none") == [other]
    # the asker sees that it is being worked, not by whom; another prefecture does not see it at all
    assert read(client, staff["chiyoda"], inquiry)["assignee"] is None
    assert "assign" not in read(client, staff["chiyoda"], inquiry)["allowed_actions"]
    assign(client, staff["chiyoda"], inquiry, "me", status=403)
    assign(client, staff["hokkaido"], inquiry, "me", status=404)
    # taking it oneself is not a message to oneself; the same assignment twice records nothing more
    before = len(read(client, staff["tokyo"], inquiry)["history"])
    assign(client, staff["colleague"], inquiry, "me")
    assert len(read(client, staff["tokyo"], inquiry)["history"]) == before
    assert kinds_for(staff["colleague_email"]).count("inquiry.assigned") == 1
    unassigned = assign(client, staff["tokyo"], inquiry, None)
    assert unassigned["assignee"] is None and unassigned["history"][-1]["note"] == "割当て解除"


def test_only_people_of_the_handling_tier_can_be_assigned(client, staff):
    inquiry = file(client, staff["chiyoda"])
    helpdesk_person = client.get(f"{API}/me", headers=staff["helpdesk"]).json()["name"]
    assignable = [a["name"] for a in read(client, staff["tokyo"], inquiry)["assignable"]]
    assert helpdesk_person not in assignable and len(assignable) >= 2
    r = client.post(f"{API}/inquiries/{inquiry}/assign", headers=staff["tokyo"], json={"assignee": 2_000_000})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "assignee"]
    assert "有効なアカウントではありません" in r.json()["detail"][0]["msg"]
    for bad in ("someone", "17", 0, -1, 1.5, True, [1]):
        r = client.post(f"{API}/inquiries/{inquiry}/assign", headers=staff["tokyo"], json={"assignee": bad})
        assert r.status_code == 422, bad
        assert r.json()["detail"][0]["loc"] == ["body", "assignee"] and "アカウント番号" in r.json()["detail"][0]["msg"]
    assert read(client, staff["tokyo"], inquiry)["history"][-1]["action"] == "file"  # nothing changed


def test_escalation_clears_the_assignee_and_the_next_tier_shares_out_its_own(client, staff):
    inquiry = file(client, staff["chiyoda"])
    assign(client, staff["tokyo"], inquiry, "me")
    r = client.post(f"{API}/inquiries/{inquiry}/escalate", headers=staff["tokyo"], json={"reason": "国の判断が必要"})
    assert r.status_code == 200 and r.json()["assignee"] is None
    assign(client, staff["tokyo"], inquiry, "me", status=409)  # no longer the prefecture's to share out
    second = account_id(client, staff["helpdesk"], staff["helpdesk2"], inquiry)
    assert assign(client, staff["helpdesk"], inquiry, second)["assignee"]["id"] == second
    assert read(client, staff["tokyo"], inquiry)["assignee"]["id"] == second  # the prefecture may follow it
    assert "inquiry.assigned" in kinds_for(staff["helpdesk2_email"])
    r = client.post(f"{API}/inquiries/{inquiry}/answer", headers=staff["helpdesk"], json={"text": "回答します。"})
    assert r.status_code == 200 and "assign" not in r.json()["allowed_actions"]
    assign(client, staff["helpdesk"], inquiry, "me", status=409)


def test_the_thread_page_assigns_and_shows_a_wrong_choice_beside_its_field(client, staff):
    inquiry = file(client, staff["chiyoda"])
    sign_in(client, staff["tokyo"])
    page = client.get(f"/inquiries/{inquiry}").text
    assert f'action="/inquiries/{inquiry}/assign"' in page and "担当者はまだいません" in page
    r = post(client, f"/inquiries/{inquiry}/assign", {"assignee": "999999999"}, page=f"/inquiries/{inquiry}")
    assert r.status_code == 422 and 'id="error-assignee"' in r.text and "有効なアカウントではありません" in r.text
    r = post(client, f"/inquiries/{inquiry}/assign", {"assignee": "me"}, page=f"/inquiries/{inquiry}")
    assert r.status_code == 303
    assert "（自分）" in text_of(client.get(f"/inquiries/{inquiry}").text)
    queue = text_of(client.get("/inquiries?assignee=me").text)
    assert "自分が担当" in queue and QUESTION["title"] in queue


def test_the_helpdesk_assigns_many_at_once_all_or_none(client, staff):
    ids = [file(client, staff["tokyo"], title=f"ヘルプデスクへの質問{n}") for n in range(3)]
    second = account_id(client, staff["helpdesk"], staff["helpdesk2"], ids[0])
    r = client.post(
        f"{API}/inquiries/{ids[2]}/route", headers=staff["helpdesk"], json={"ministry": "総務省", "reason": "所管"}
    )
    assert r.status_code == 200
    sign_in(client, staff["helpdesk"])
    assert f'<option value="{second}">' in client.get("/inquiries").text
    r = post(client, "/inquiries/bulk", {"ids": [str(i) for i in ids], "action": "assign", "assignee": str(second)})
    assert r.status_code == 409 and f"問合せ {ids[2]}" in text_of(r.text)  # routed: the ministry's to share out
    assert [read(client, staff["helpdesk"], i)["assignee"] for i in ids] == [None] * 3
    r = post(client, "/inquiries/bulk", {"ids": [str(i) for i in ids[:2]], "action": "assign", "assignee": str(second)})
    assert r.status_code == 303 and "done=assign" in r.headers["location"]
    assert "2 件の担当者を変更しました。" in text_of(client.get(r.headers["location"]).text)
    assert [read(client, staff["helpdesk"], i)["assignee"]["id"] for i in ids[:2]] == [second, second]
    assert kinds_for(staff["helpdesk2_email"]).count("inquiry.assigned") == 2
    r = post(client, "/inquiries/bulk", {"ids": [str(ids[0])], "action": "assign", "assignee": "nobody"})
    assert r.status_code == 422 and 'id="error-assignee"' in r.text
    r = post(client, "/inquiries/bulk", {"ids": [str(i) for i in ids[:2]], "action": "assign", "assignee": "none"})
    assert r.status_code == 303 and [read(client, staff["helpdesk"], i)["assignee"] for i in ids[:2]] == [None] * 2
